"""Parameters become options of `run`; they are checked before any task starts.

python examples/parameters.py run --alpha 0.5 --labels a,b --config '{"depth": 3}'
"""

from headwater import FlowSpec, IncludeFile, JSONType, Parameter, current, step


class ParameterFlow(FlowSpec):
    """Show every kind of parameter."""

    alpha = Parameter("alpha", help="Learning rate.", default=0.01)
    epochs = Parameter("epochs", help="Passes over the data.", default=3)
    verbose = Parameter("verbose", help="Print more.", type=bool, default=False)
    labels = Parameter("labels", help="Comma-separated labels.", default="x,y", separator=",")
    config = Parameter("config", help="Model settings as JSON.", type=JSONType, default='{"depth": 2}')
    owner = Parameter("owner", help="Computed when the run starts.", default=lambda ctx: ctx.user_name)
    notes = IncludeFile("notes", help="A text file stored with the run.", default=__file__)

    @step
    def start(self):
        print(f"alpha={self.alpha} epochs={self.epochs} verbose={self.verbose} labels={self.labels}")
        print(f"config={self.config} owner={self.owner} notes: {len(self.notes)} characters")
        print(f"parameters: {current.parameter_names}")
        self.next(self.end)

    @step
    def end(self):
        self.score = self.alpha * self.epochs * self.config["depth"]
        print(f"score={self.score}")


if __name__ == "__main__":
    ParameterFlow()
