"""fanout / wide: a foreach over BENCH_ITEMS items (default 100) with a trivial body, then a join."""

import os

from FRAMEWORK import FlowSpec, step


class FanoutFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ.get("BENCH_ITEMS", "100"))))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.value for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FanoutFlow()
