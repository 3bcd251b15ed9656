"""Run a flow file as ``__main__`` and write the peak resident memory (VmHWM, KiB) of this process at exit.

    python measure_peak.py OUT flow.py run ...

Used for the runtime process only: Headwater's tasks are forked from it and leave with os._exit (no
atexit); Metaflow's tasks are new interpreters started without this wrapper.
"""

import atexit
import runpy
import sys

out = sys.argv[1]
sys.argv = sys.argv[2:]


def record() -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(out, "w") as f:
                    f.write(line.split()[1])


atexit.register(record)
runpy.run_path(sys.argv[0], run_name="__main__")
