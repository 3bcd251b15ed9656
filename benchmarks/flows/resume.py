"""resume: five steps; the fourth fails unless BENCH_FIXED=1 (then `resume` re-runs it and the fifth)."""

import os

from FRAMEWORK import FlowSpec, step


class ResumeFlow(FlowSpec):
    @step
    def start(self):
        self.a = list(range(1000))
        self.next(self.two)

    @step
    def two(self):
        self.b = sum(self.a)
        self.next(self.three)

    @step
    def three(self):
        self.c = self.b * 2
        self.next(self.four)

    @step
    def four(self):
        if os.environ.get("BENCH_FIXED") != "1":
            raise RuntimeError("step four fails until BENCH_FIXED=1")
        self.d = self.c + 1
        self.next(self.end)

    @step
    def end(self):
        assert self.d == sum(range(1000)) * 2 + 1


if __name__ == "__main__":
    ResumeFlow()
