"""What a data scientist sees when things go wrong: clear messages, the right exit status, nothing lost."""

import re

from headwater.client import Flow

HEADER = "from headwater import FlowSpec, step, retry, catch, timeout, current, Parameter\n"


def write(flow_runner, source):
    return flow_runner.write(HEADER + source)


def line_of(path, text):
    """The 1-based line of the first line of ``path`` containing ``text``."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def runs_of(name):
    try:
        return list(Flow(name).runs())
    except Exception:
        return []


def test_user_exception_shows_only_user_frames(flow_runner):
    path = write(
        flow_runner,
        """
def parse(value):
    return int(value)

class BrokenFlow(FlowSpec):
    @step
    def start(self):
        self.raw = "twelve"
        self.next(self.convert)

    @step
    def convert(self):
        import sys
        print("converting")
        print("about to parse", file=sys.stderr)
        self.number = parse(self.raw)
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    # Errors go to stderr (``run 2>err.log`` has them), task output and progress to stdout.
    assert "[convert/2] converting" in result.stdout and "x convert:" in result.stdout
    assert "Traceback" not in result.stdout and "about to parse" not in result.stdout
    assert "[convert/2] about to parse" in result.stderr
    out = result.stderr
    header = re.search(
        r"Step convert failed: task BrokenFlow/(\d+)/convert/(\d+), attempt 1 of 1 \(retry_count 0\):", out
    )
    assert header, out
    traceback_text = out[header.end() :].split("\nx convert:")[0].strip("\n")
    lines = traceback_text.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == f'  File "{path}", line {line_of(path, "parse(self.raw)")}, in convert'
    assert lines[2] == "    self.number = parse(self.raw)"
    assert f'  File "{path}", line {line_of(path, "return int(value)")}, in parse' in lines
    assert lines[-1] == "ValueError: invalid literal for int() with base 10: 'twelve'"
    assert "headwater" not in traceback_text.replace(str(path), "")  # no framework frames
    assert "Internal error" not in out
    run = result.run
    assert run.status == "failed" and not run.successful
    task = run["convert"].task
    assert task.exception.type == "ValueError"
    assert "twelve" in task.exception.message
    assert (
        f"line {line_of(path, 'parse(self.raw)')}, in convert" in task.stderr
    )  # the stored log carries the traceback too
    assert "resume --origin-run-id" in result.stdout


def test_graph_error_exits_before_anything_runs(flow_runner):
    path = write(
        flow_runner,
        """
class NoNextFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1

    @step
    def end(self):
        pass
""",
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "Traceback" not in result.output
    assert f"{path}:{line_of(path, 'def start')}: Step `start` does not end with self.next(...)" in result.stderr
    assert runs_of("NoNextFlow") == []


def test_bad_parameter_exits_before_anything_runs(flow_runner):
    path = write(
        flow_runner,
        """
class ParamFlow(FlowSpec):
    size = Parameter("size", default=3)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    result = flow_runner.run(path, "run", "--size", "big")
    assert result.returncode == 1
    assert "Bad parameter: ParamFlow --size: 'big' is not a valid int." in result.stderr
    assert "Traceback" not in result.output
    assert runs_of("ParamFlow") == []


def test_retry_then_success(flow_runner, headwater_env):
    marker = headwater_env / "attempts"
    path = write(
        flow_runner,
        f"""
class FlakyFlow(FlowSpec):
    @retry(times=2)
    @step
    def start(self):
        with open({str(marker)!r}, "a") as f:
            f.write("x")
        print("trying")
        if current.retry_count < 2:
            raise RuntimeError(f"flaky on attempt {{current.retry_count}}")
        self.attempt_that_worked = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    assert marker.read_text() == "xxx"
    assert result.output.count("RuntimeError: flaky on attempt") == 2
    task = result.run["start"].task
    assert task.current_attempt == 2 and task.successful
    assert task.data.attempt_that_worked == 2
    # One way of naming attempts for people (1-based, with the 0-based retry_count of the records and API).
    assert "attempt 1 of 3 (retry_count 0); retrying:" in result.stderr
    assert "attempt 2 of 3 (retry_count 1); retrying:" in result.stderr
    logs = flow_runner.run(path, "logs", "--attempt", "1", f"{result.run_id}/start")
    assert "--- start/1, attempt 2 (retry_count 1), stderr ---" in logs.stdout, logs.output


def test_catch_records_failure_and_continues(flow_runner):
    path = write(
        flow_runner,
        """
class CatchFlow(FlowSpec):
    @catch(var="problem")
    @retry(times=1)
    @step
    def start(self):
        self.partial = "set before failing"
        raise KeyError("missing column")
        self.next(self.end)

    @step
    def end(self):
        self.seen = str(self.problem)
""",
    )
    # the linter demands self.next last; this flow ends with it, but the raise comes first
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    assert "@catch will record the failure and go on" in result.output
    data = result.run.data
    assert data.seen == "KeyError: 'missing column'"
    assert data.problem.type == "KeyError"
    assert "missing column" in data.problem.traceback
    assert result.run["start"].task.current_attempt == 2  # two real attempts, then the fallback


def test_timeout_interrupts_the_step(flow_runner):
    path = write(
        flow_runner,
        """
import time

class SlowFlow(FlowSpec):
    @timeout(seconds=1)
    @step
    def start(self):
        time.sleep(30)
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "StepTimeout: Step `start` timed out after 1 s (@timeout)." in result.output
    assert "time.sleep(30)" in result.output  # where the code was when it was interrupted
    assert result.run["start"].task.exception.type.endswith("StepTimeout")


def test_unserializable_artifact_names_the_attribute(flow_runner):
    path = write(
        flow_runner,
        """
import threading

class LockFlow(FlowSpec):
    @step
    def start(self):
        self.lock = threading.Lock()
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    out = result.output
    assert "artifact `self.lock` (_thread.lock) cannot be stored" in out
    assert "LockFlow, step `start`" in out
    assert "del self.lock" in out
    assert "Traceback" not in out


def test_runtime_foreach_and_condition_errors(flow_runner):
    source = """
class ChoiceFlow(FlowSpec):
    mode = Parameter("mode", default="ok")

    @step
    def start(self):
        self.items = {"empty": [], "number": 5}.get(self.mode, [1, 2, 3])
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.choice = "left" if self.mode != "nowhere" else "middle"
        self.next({"left": self.left, "right": self.right}, condition="choice")

    @step
    def left(self):
        self.next(self.join)

    @step
    def right(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    path = write(flow_runner, source)
    empty = flow_runner.run(path, "run", "--mode", "empty")
    assert empty.returncode == 1
    assert "foreach over `items`, which is empty" in empty.output
    assert f"({path}:{line_of(path, 'foreach=')})" in empty.output  # the line of self.next
    number = flow_runner.run(path, "run", "--mode", "number")
    assert "it is a int, which is not iterable" in number.output
    nowhere = flow_runner.run(path, "run", "--mode", "nowhere")
    assert "the condition `choice` is 'middle', which matches no case" in nowhere.output
    assert "Cases: 'left', 'right'" in nowhere.output
    many = flow_runner.run(path, "run", "--max-num-splits", "2")
    assert "would start 3 tasks, more than --max-num-splits (2)" in many.output
    ok = flow_runner.run(path, "run")
    assert ok.returncode == 0, ok.output


def test_corrupted_blob_is_an_error_never_wrong_data(flow_runner, headwater_env):
    path = write(
        flow_runner,
        """
class DataFlow(FlowSpec):
    @step
    def start(self):
        self.table = list(range(1000))
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.table)
""",
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 0
    key = result.run["start"].task["table"].sha
    blob = headwater_env / ".headwater" / "DataFlow" / "data" / key[:2] / key
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF
    blob.write_bytes(bytes(data))

    again = flow_runner.run(path, "resume", "end")
    assert again.returncode == 1
    assert "Artifact `table`" in again.output and "is corrupted" in again.output
    assert key in again.output
    try:
        result.run["start"].task.data.table
    except Exception as e:
        assert type(e).__name__ == "CorruptBlobError"
        assert "table" in str(e)
    else:
        raise AssertionError("a corrupted blob was loaded")


def test_step_without_next_on_some_path(flow_runner):
    path = write(
        flow_runner,
        """
class EarlyFlow(FlowSpec):
    @step
    def start(self):
        if True:
            return
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "finished without calling self.next" in result.output


def test_keyboard_interrupt_raised_by_the_step_is_shown_with_its_traceback(flow_runner):
    path = write(
        flow_runner,
        """
class KbFlow(FlowSpec):
    @step
    def start(self):
        raise KeyboardInterrupt("the step gave up")
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "Aborted." not in result.output
    assert "attempt 1 of 1 (retry_count 0):\nTraceback (most recent call last):" in result.stderr
    assert f'  File "{path}", line {line_of(path, "raise KeyboardInterrupt")}, in start' in result.stderr
    assert "KeyboardInterrupt: the step gave up" in result.stderr
    assert result.run.status == "failed"
    task = result.run["start"].task
    assert task.exception.type == "KeyboardInterrupt" and "the step gave up" in task.exception.message


def test_out_of_memory_or_disk_while_storing_is_not_called_unpicklable(flow_runner):
    path = write(
        flow_runner,
        """
import errno

class Huge:
    def __init__(self, error):
        self.error = error

    def __reduce__(self):
        if self.error == "memory":
            raise MemoryError()
        raise OSError(errno.ENOSPC, "No space left on device")

class ResourceFlow(FlowSpec):
    kind = Parameter("kind", default="memory")

    @step
    def start(self):
        self.big = Huge(self.kind)
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    memory = flow_runner.run(path, "run")
    assert memory.returncode == 1
    assert "picklable" not in memory.output
    assert "out of memory while storing `self.big` (Huge of " in memory.stderr
    assert "give the step more memory" in memory.stderr
    disk = flow_runner.run(path, "run", "--kind", "disk")
    assert disk.returncode == 1
    assert "picklable" not in disk.output
    assert "disk full while storing `self.big` (Huge of " in disk.stderr
    assert "HEADWATER_DATASTORE_ROOT" in disk.stderr
