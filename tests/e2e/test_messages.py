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


def test_run_limits_below_one_are_refused_naming_the_option(flow_runner):
    path = flow_runner.write(FLOW)
    for option, value in (("--max-workers", "0"), ("--max-workers", "-3"), ("--max-num-splits", "-1")):
        result = flow_runner.run(path, "run", option, value)
        assert result.returncode == 2, (option, value, result.output)
        assert f"Invalid value for '{option}': {value} is not in the range x>=1." in result.stderr
        assert result.run_id is None
    resumed = flow_runner.run(path, "resume", "--max-log-size", "0")
    assert resumed.returncode == 2 and "Invalid value for '--max-log-size'" in resumed.stderr


def test_a_bad_limit_in_the_project_config_names_the_file_and_key(flow_runner, headwater_env):
    path = flow_runner.write(FLOW)
    config = headwater_env / ".headwater" / "config.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text('{"max_workers": 0, "max_log_size": 5}')
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert f"{config}: max_workers is 0, which is not a whole number of at least 1." in result.stderr
    assert f"Set 'max_workers' in {config}" in result.stderr and "HEADWATER_MAX_WORKERS" not in result.stderr
    assert f"{config}: unknown configuration key 'max_log_size' is ignored; did you mean 'max_log_size_mb'?" in (
        result.stderr
    )
