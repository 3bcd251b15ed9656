"""The client API: read flows, runs, steps, tasks and artifacts from the datastore (see ``core``)."""

from headwater.client.core import (
    CodePackage,
    DamagedRunWarning,
    DataArtifact,
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    TaskData,
    datastore_root,
    default_metadata,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
)

__all__ = [
    "CodePackage",
    "DamagedRunWarning",
    "DataArtifact",
    "Flow",
    "Metaflow",
    "Run",
    "Step",
    "Task",
    "TaskData",
    "datastore_root",
    "default_metadata",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "metadata",
    "namespace",
]
