"""linear10: ten chained steps, each adding a small artifact."""

from FRAMEWORK import FlowSpec, step


class Linear10Flow(FlowSpec):
    @step
    def start(self):
        self.a0 = 0
        self.next(self.s1)

    @step
    def s1(self):
        self.a1 = self.a0 + 1
        self.next(self.s2)

    @step
    def s2(self):
        self.a2 = self.a1 + 1
        self.next(self.s3)

    @step
    def s3(self):
        self.a3 = self.a2 + 1
        self.next(self.s4)

    @step
    def s4(self):
        self.a4 = self.a3 + 1
        self.next(self.s5)

    @step
    def s5(self):
        self.a5 = self.a4 + 1
        self.next(self.s6)

    @step
    def s6(self):
        self.a6 = self.a5 + 1
        self.next(self.s7)

    @step
    def s7(self):
        self.a7 = self.a6 + 1
        self.next(self.s8)

    @step
    def s8(self):
        self.a8 = self.a7 + 1
        self.next(self.end)

    @step
    def end(self):
        assert self.a8 == 8


if __name__ == "__main__":
    Linear10Flow()
