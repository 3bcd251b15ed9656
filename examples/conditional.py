"""Conditional steps: pick one branch at run time, and loop a step until it is done.

python examples/conditional.py run --threshold 3
"""

from headwater import FlowSpec, Parameter, step


class ConditionalFlow(FlowSpec):
    """Keep refining until good enough, then report on one of two paths."""

    threshold = Parameter("threshold", default=3)

    @step
    def start(self):
        self.rounds = 0
        self.next(self.refine)

    @step
    def refine(self):
        """Loops back to itself until `status` says done."""
        self.rounds += 1
        self.status = "done" if self.rounds >= self.threshold else "again"
        self.next({"again": self.refine, "done": self.decide}, condition="status")

    @step
    def decide(self):
        self.quality = "high" if self.rounds > 2 else "low"
        self.next({"high": self.celebrate, "low": self.investigate}, condition="quality")

    @step
    def celebrate(self):
        self.note = f"good after {self.rounds} rounds"
        self.next(self.end)

    @step
    def investigate(self):
        self.note = f"only {self.rounds} rounds"
        self.next(self.end)

    @step
    def end(self):
        print(self.note)


if __name__ == "__main__":
    ConditionalFlow()
