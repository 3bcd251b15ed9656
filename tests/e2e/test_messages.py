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


BIG = """
from headwater import FlowSpec, step


class BigFlow(FlowSpec):
    @step
    def start(self):
        self.blob = b"\\x00" * 50_000_000
        self.numbers = list(range(2_000_000))
        self.small = list(range(100))
        self._private = 1
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_dump_of_large_values_shows_a_prefix_without_building_the_whole_text(flow_runner, monkeypatch):
    path = flow_runner.write(BIG)
    run = flow_runner.run(path, "run")
    assert run.returncode == 0, run.output
    # the whole repr of `blob` is 200 MB; dump must not build it
    import builtins

    from headwater.cli import data_cmds

    calls = []
    real_repr = builtins.repr

    def spy(value):
        calls.append(type(value).__name__ + ":" + str(len(value) if hasattr(value, "__len__") else "-"))
        return real_repr(value)

    monkeypatch.setattr(data_cmds, "repr", spy, raising=False)
    blob = b"\x00" * 50_000_000
    assert data_cmds._shown(blob, 40) == real_repr(blob)[:40] + "... (shortened; --file saves the whole value)"
    assert "bytes:50000000" not in calls
    numbers = list(range(2_000_000))
    assert data_cmds._shown(numbers, 40) == real_repr(numbers)[:40] + "... (shortened; --file saves the whole value)"
    assert not any(c.startswith("list:") for c in calls)
    assert data_cmds._shown(list(range(100)), 20) == "[0, 1, 2, 3, 4, 5, 6... (370 more characters)"

    dump = flow_runner.run(path, "dump", f"{run.run_id}/start", "--max-value-size", "40")
    assert dump.returncode == 0, dump.output
    assert "blob (bytes, " in dump.stdout and "b'\\x00\\x00" in dump.stdout
    assert "numbers (list, " in dump.stdout and "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1... (shortened" in dump.stdout
    assert "small (list, " in dump.stdout and "more characters)" in dump.stdout


def test_dump_include_of_a_missing_name_lists_the_artifacts(flow_runner):
    path = flow_runner.write(FLOW)
    run = flow_runner.run(path, "run")
    result = flow_runner.run(path, "dump", f"{run.run_id}/start", "--include", "lr,nosuch,other")
    assert result.returncode == 1
    assert f"{run.run_id}/start has no artifact 'nosuch', 'other'." in result.stderr
    assert "Its artifacts: lr." in result.stderr


def test_logs_of_a_task_that_printed_nothing_say_so(flow_runner):
    path = flow_runner.write(FLOW)
    run = flow_runner.run(path, "run")
    result = flow_runner.run(path, "logs", f"{run.run_id}/end")
    assert result.returncode == 0
    assert result.stdout == f"{run.run_id}/end: no output on stdout or stderr.\n"
    assert flow_runner.run(path, "logs", "--stderr", f"{run.run_id}/start").stdout.endswith("no output on stderr.\n")


def test_tag_list_of_a_flow_without_runs_says_so(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "tag", "list")
    assert result.returncode == 0 and result.stdout == "MsgFlow has no runs yet, so no tags.\n"


def test_a_mistyped_with_is_the_users_mistake_not_a_plugin_error(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "--with", "nosuch", "run")
    assert result.returncode == 1 and result.run_id is None
    assert "Plugin error" not in result.stderr
    assert result.stderr.startswith("Bad decorator: --with 'nosuch': there is no step decorator 'nosuch'.\n")
    assert "Known step decorators: catch, environment, resources, retry, timeout." in result.stderr


def test_an_unknown_datastore_or_environment_names_where_it_was_set(flow_runner, headwater_env):
    path = flow_runner.write(FLOW)
    given = flow_runner.run(path, "--datastore", "lcoal", "run")
    assert given.returncode == 1 and "Plugin error" not in given.stderr
    assert "--datastore 'lcoal': there is no datastore 'lcoal'. Did you mean `local`?" in given.stderr
    from_env = flow_runner.run(path, "run", env={"HEADWATER_ENVIRONMENT": "nosuch"})
    assert "Configuration error: HEADWATER_ENVIRONMENT: there is no environment 'nosuch'." in from_env.stderr
    config = headwater_env / ".headwater" / "config.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text('{"environment": "nosuch"}')
    from_file = flow_runner.run(path, "show")
    assert f"{config}, key 'environment': there is no environment 'nosuch'." in from_file.stderr


def test_headwater_version_option():
    import subprocess
    import sys

    from headwater import __version__

    done = subprocess.run([sys.executable, "-m", "headwater", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith(f"headwater {__version__} (Python ")


def test_show_draws_a_graph_with_problems_then_lists_them(flow_runner):
    source = (
        FLOW.replace("self.next(self.end)", "pass")
        + """
    @step
    def orphan(self):
        self.next(self.end)
"""
    )
    path = flow_runner.write(source)
    result = flow_runner.run(path, "show")
    assert result.returncode == 1
    assert "Step start  [start]" in result.stdout and "Step orphan  [linear]\n    => end" in result.stdout
    assert "Flow is not valid: MsgFlow has 1 problem:" in result.stderr
    assert "Step `start` does not end with self.next(...)" in result.stderr


def test_metaflows_no_pylint_flag_is_accepted(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "--no-pylint", "run")
    assert result.returncode == 0, result.output
    assert result.run.successful


def test_logs_of_an_attempt_that_never_ran_say_so(flow_runner):
    path = flow_runner.write(FLOW)
    run = flow_runner.run(path, "run")
    missing = flow_runner.run(path, "logs", "--attempt", "5", f"{run.run_id}/start")
    assert missing.returncode == 1
    assert f"MsgFlow/{run.run_id}/start/1 has no attempt 6 (retry_count 5)." in missing.stderr
    assert "Its attempts (give --attempt the retry_count): attempt 1 (retry_count 0)." in missing.stderr
    negative = flow_runner.run(path, "logs", "--attempt", "-1", f"{run.run_id}/start")
    assert negative.returncode == 2 and "-1 is not in the range x>=0" in negative.stderr
    assert flow_runner.run(path, "logs", "--attempt", "0", f"{run.run_id}/start").stdout == "lr is 0.5\n"
