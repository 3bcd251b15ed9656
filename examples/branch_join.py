"""Branches that run in parallel and meet at a join.

python examples/branch_join.py run
"""

from headwater import FlowSpec, step


class BranchJoinFlow(FlowSpec):
    """Train two models side by side and keep the better one."""

    @step
    def start(self):
        self.data = list(range(10))
        self.next(self.mean_model, self.median_model)

    @step
    def mean_model(self):
        """Predict the mean."""
        self.prediction = sum(self.data) / len(self.data)
        self.name_of_model = "mean"
        self.next(self.choose)

    @step
    def median_model(self):
        """Predict the median."""
        ordered = sorted(self.data)
        self.prediction = ordered[len(ordered) // 2]
        self.name_of_model = "median"
        self.next(self.choose)

    @step
    def choose(self, inputs):
        """Inputs are reachable by step name, by position, or by iterating."""
        self.predictions = {inp.name_of_model: inp.prediction for inp in inputs}
        self.best = min(inputs, key=lambda inp: abs(inp.prediction - 4.5)).name_of_model
        # `data` is the same in both branches, so it can be merged; the others differ and are skipped.
        self.merge_artifacts(inputs, include=["data"])
        print(f"mean={inputs.mean_model.prediction} median={inputs.median_model.prediction} best={self.best}")
        self.next(self.end)

    @step
    def end(self):
        print(f"best model: {self.best}, from {len(self.data)} points")


if __name__ == "__main__":
    BranchJoinFlow()
