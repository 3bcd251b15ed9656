"""The local runtime: a scheduler in one process, each task attempt in a process of its own.

``scheduler`` decides what runs next; ``launch`` starts attempts (forked from the pre-warmed parent, or as
a new process when a plugin changed the command); ``task`` is what one attempt does, the body of the
``step`` command wherever it runs; ``resume`` plans which tasks of an earlier run are cloned; ``display``
shows progress on a terminal or as plain lines.
"""
