"""artifacts: a step makes 500 MiB of random bytes, a 500 MiB float array and 1 million small tuples.

BENCH_MODE picks what is measured (the data is made the same way in every mode):
- ``control``: the data is made and dropped before the step ends (nothing stored, nothing loaded);
- ``save``: the data is stored, and the next step does not read it;
- ``full``: the data is stored, and the next step reads all of it.
save time = save - control; load time = full - save. BENCH_MIB scales the sizes (tiny mode).
Every run makes fresh random data, so neither side's deduplication skips storing what an earlier
run stored.
"""

import os

import numpy as np
from FRAMEWORK import FlowSpec, step

MIB = int(os.environ.get("BENCH_MIB", "500"))
TUPLES = int(os.environ.get("BENCH_TUPLES", "1000000"))
MODE = os.environ.get("BENCH_MODE", "full")


class ArtifactsFlow(FlowSpec):
    @step
    def start(self):
        salt = os.urandom(8).hex()
        self.blob = os.urandom(MIB * 1024 * 1024)
        self.array = np.random.default_rng().random(MIB * 1024 * 1024 // 8)
        self.rows = [(i, f"{salt}-{i}", i * 0.5) for i in range(TUPLES)]
        if MODE == "control":
            del self.blob, self.array, self.rows
        self.next(self.end)

    @step
    def end(self):
        if MODE == "full":
            assert len(self.blob) == MIB * 1024 * 1024
            assert self.array.shape == (MIB * 1024 * 1024 // 8,)
            assert len(self.rows) == TUPLES


if __name__ == "__main__":
    ArtifactsFlow()
