"""Messages a new user meets (issue 6): mistakes reported where they are made, in one round, naming what
the user wrote; and the Metaflow habits Headwater accepts."""

FLOW = """
from headwater import FlowSpec, Parameter, step


class MsgFlow(FlowSpec):
    lr = Parameter("lr", default=0.5, help="Learning rate.")

    @step
    def start(self):
        print("lr is", self.lr)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_check_reports_a_default_that_does_not_fit_its_type_at_its_line(flow_runner):
    path = flow_runner.write(FLOW.replace('Parameter("lr", default=0.5,', 'Parameter("lr", default=0.1, type=int,'))
    result = flow_runner.run(path, "check")
    assert result.returncode == 1
    assert f"{path}:5: Parameter 'lr': its default 0.1 is not a valid int." in result.output


def test_a_parameter_value_from_the_environment(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "run", env={"HEADWATER_RUN_LR": "0.25"})
    assert result.returncode == 0, result.output
    assert result.run.data.lr == 0.25
    metaflow_spelling = flow_runner.run(path, "run", env={"METAFLOW_RUN_LR": "0.75"})
    assert metaflow_spelling.run.data.lr == 0.75
    given = flow_runner.run(path, "run", "--lr", "0.125", env={"HEADWATER_RUN_LR": "0.25"})
    assert given.run.data.lr == 0.125
    bad = flow_runner.run(path, "run", env={"HEADWATER_RUN_LR": "fast"})
    assert bad.returncode == 1 and "HEADWATER_RUN_LR='fast' is not a valid float." in bad.stderr
