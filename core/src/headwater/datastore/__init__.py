"""The datastore: storage backends, the content-addressed blob store, serializers and run records.

Layers, bottom up: a ``StorageBackend`` moves bytes atomically (``local`` here; others come from
plugins); the ``ContentAddressedStore`` keeps immutable, verified, deduplicated blobs on top of it;
``serializers`` turn objects into buffers; ``records`` lays out runs, tasks and attempt records;
``artifacts`` stores and loads one task's artifacts. Only the first layer knows where the bytes live.
"""
