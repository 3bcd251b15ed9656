"""The datastore: storage backends, the content-addressed blob store, serializers and run records.

Layers, bottom up: a ``StorageBackend`` moves bytes atomically (``local``, ``s3``); the
``ContentAddressedStore`` keeps immutable, verified, deduplicated blobs on top of it; ``serializers`` turn
objects into buffers; ``FlowDatastore`` lays out runs, tasks and attempt records; ``TaskArtifacts`` loads
and persists one task's artifacts. Only the first layer knows where the bytes live.
"""
