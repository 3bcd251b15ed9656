"""Graph shapes, artifacts, joins and `current` through real runs."""

FLOW_HEADER = "from headwater import FlowSpec, step, current, Parameter\n"


def run_ok(flow_runner, source, *args):
    path = flow_runner.write(FLOW_HEADER + source)
    result = flow_runner.run(path, "run", *args)
    assert result.returncode == 0, result.output
    return result


def test_artifacts_pass_down_and_are_content_addressed(flow_runner):
    result = run_ok(
        flow_runner,
        """
class ArtifactFlow(FlowSpec):
    @step
    def start(self):
        self.a = [1, 2, 3]
        self.same = "x" * 100
        self.next(self.middle)

    @step
    def middle(self):
        self.a.append(4)          # in-place change is kept
        self.b = self.same        # same content, same key
        self.next(self.end)

    @step
    def end(self):
        assert self.a == [1, 2, 3, 4]
""",
    )
    run = result.run
    start, middle = run["start"].task, run["middle"].task
    assert start["a"].data == [1, 2, 3]
    assert middle["a"].data == [1, 2, 3, 4]
    assert start["a"].sha != middle["a"].sha
    assert middle["b"].sha == start["same"].sha
    assert middle["same"].sha == start["same"].sha  # passed down, not stored again


def test_branch_inputs_by_name_index_and_iteration(flow_runner):
    result = run_ok(
        flow_runner,
        """
class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.common = 1
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.v = "a"
        self.next(self.join)

    @step
    def b(self):
        self.v = "b"
        self.next(self.join)

    @step
    def c(self):
        self.v = "c"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.by_name = inputs.b.v
        self.by_index = [inputs[i].v for i in range(len(inputs))]
        self.by_iteration = [inp.v for inp in inputs]
        self.merge_artifacts(inputs, exclude=["v"])
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    data = result.run.data
    assert data.by_name == "b"
    assert data.by_index == ["a", "b", "c"]
    assert data.by_iteration == ["a", "b", "c"]
    assert data.common == 1


def test_merge_artifacts_conflict_is_reported(flow_runner):
    path = flow_runner.write(
        FLOW_HEADER
        + """
class MergeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "the inputs disagree on `x`" in result.output
    assert "exclude=" in result.output


def test_merge_artifacts_include_unknown_name(flow_runner):
    path = flow_runner.write(
        FLOW_HEADER
        + """
class IncludeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, include=["x", "nope"])
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "include names 'nope', which no input has" in result.output


def test_three_level_foreach_with_stack_and_index(flow_runner):
    result = run_ok(
        flow_runner,
        """
class DeepFlow(FlowSpec):
    @step
    def start(self):
        self.xs = ["a", "b"]
        self.next(self.l1, foreach="xs")

    @step
    def l1(self):
        self.ys = [1, 2]
        self.next(self.l2, foreach="ys")

    @step
    def l2(self):
        self.zs = (True, False)
        self.next(self.l3, foreach="zs")

    @step
    def l3(self):
        self.path = [value for _, _, value in self.foreach_stack()]
        self.indices = [index for index, _, _ in self.foreach_stack()]
        self.sizes = [n for _, n, _ in self.foreach_stack()]
        self.me = (self.index, self.input)
        self.next(self.j3)

    @step
    def j3(self, inputs):
        self.paths = [inp.path for inp in inputs]
        self.next(self.j2)

    @step
    def j2(self, inputs):
        self.paths = [p for inp in inputs for p in inp.paths]
        self.next(self.j1)

    @step
    def j1(self, inputs):
        self.paths = [p for inp in inputs for p in inp.paths]
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    run = result.run
    assert run.data.paths == [
        ["a", 1, True],
        ["a", 1, False],
        ["a", 2, True],
        ["a", 2, False],
        ["b", 1, True],
        ["b", 1, False],
        ["b", 2, True],
        ["b", 2, False],
    ]
    l3 = sorted(run["l3"], key=lambda t: t.data.indices)
    assert l3[0].data.sizes == [2, 2, 2]
    assert l3[-1].data.indices == [1, 1, 1]
    assert l3[-1].data.me == (1, False)
    assert l3[-1].index == 1


def test_foreach_over_iterable_without_indexing(flow_runner):
    result = run_ok(
        flow_runner,
        """
class SetFlow(FlowSpec):
    @step
    def start(self):
        self.items = range(3)
        self.letters = "xyz"
        self.next(self.body, foreach="letters")

    @step
    def body(self):
        self.letter = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.letters_seen = "".join(inp.letter for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    assert result.run.data.letters_seen == "xyz"


def test_switch_inside_foreach_and_loop(flow_runner):
    result = run_ok(
        flow_runner,
        """
class SwitchForeachFlow(FlowSpec):
    @step
    def start(self):
        self.numbers = [1, 2, 3, 4]
        self.next(self.classify, foreach="numbers")

    @step
    def classify(self):
        self.n = self.input
        self.count = 0
        self.kind = "even" if self.n % 2 == 0 else "odd"
        self.next({"even": self.even, "odd": self.odd}, condition="kind")

    @step
    def even(self):
        self.count += 1
        self.state = "more" if self.count < self.n else "stop"
        self.next({"more": self.even, "stop": self.join}, condition="state")

    @step
    def odd(self):
        self.count = -self.n
        self.next(self.join)

    @step
    def join(self, inputs):
        self.counts = [inp.count for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    run = result.run
    assert run.data.counts == [-1, 2, -3, 4]
    assert len(list(run["even"])) == 2 + 4  # loops: 2 iterations for n=2, 4 for n=4
    assert len(list(run["odd"])) == 2


def test_foreach_inside_a_branch(flow_runner):
    result = run_ok(
        flow_runner,
        """
class MixedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan, self.single)

    @step
    def fan(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.sq = self.input ** 2
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.total = sum(i.sq for i in inputs)
        self.next(self.meet)

    @step
    def single(self):
        self.total = 100
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.totals = {inp.total for inp in inputs}
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    assert result.run.data.totals == {14, 100}


def test_current_fields(flow_runner):
    result = run_ok(
        flow_runner,
        """
class CurrentFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.seen = {
            "flow_name": current.flow_name,
            "run_id": current.run_id,
            "step_name": current.step_name,
            "task_id": current.task_id,
            "retry_count": current.retry_count,
            "origin_run_id": current.origin_run_id,
            "pathspec": current.pathspec,
            "namespace": current.namespace,
            "username": current.username,
            "tags": current.tags,
            "is_running_flow": current.is_running_flow,
            "parameter_names": current.parameter_names,
        }
        self.next(self.end)

    @step
    def end(self):
        pass
""",
        "--tag",
        "experiment-1",
    )
    run = result.run
    seen = run.data.seen
    assert seen["flow_name"] == "CurrentFlow"
    assert seen["run_id"] == run.id
    assert seen["step_name"] == "start"
    assert seen["pathspec"] == f"CurrentFlow/{run.id}/start/{seen['task_id']}"
    assert seen["retry_count"] == 0 and seen["origin_run_id"] is None
    assert seen["namespace"] == f"user:{seen['username']}"
    assert seen["tags"] == ["experiment-1"]
    assert seen["is_running_flow"] is True
    assert seen["parameter_names"] == ["alpha"]
    assert "experiment-1" in run.tags and f"user:{seen['username']}" in run.tags


def test_class_constants_are_artifacts(flow_runner):
    result = run_ok(
        flow_runner,
        """
class ConstFlow(FlowSpec):
    LEARNING_RATE = 0.25
    LAYERS = (3, 4)

    @step
    def start(self):
        self.product = self.LEARNING_RATE * sum(self.LAYERS)
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    data = result.run.data
    assert data.product == 1.75
    assert data.LEARNING_RATE == 0.25 and data.LAYERS == (3, 4)


def test_numpy_random_differs_between_foreach_tasks(flow_runner):
    """Tasks are forked from one parent; each must still get its own random state, as in a fresh process."""
    result = run_ok(
        flow_runner,
        """
import random
import numpy as np

class RandomFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(4))
        self.next(self.draw, foreach="items")

    @step
    def draw(self):
        self.np_value = float(np.random.rand())
        self.py_value = random.random()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.np_values = [i.np_value for i in inputs]
        self.py_values = [i.py_value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    data = result.run.data
    assert len(set(data.np_values)) == 4
    assert len(set(data.py_values)) == 4
