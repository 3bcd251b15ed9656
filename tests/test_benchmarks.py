"""The benchmark command still runs end to end (tiny sizes, one round); no timing is asserted."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["bench"]


def _results(bench, hello, fanout):
    results = bench.Results()
    for fw in ("headwater", "metaflow"):
        results.add("hello", fw, hello)
        results.add("fanout", fw, fanout)
    return results


def test_per_task_is_not_measured_in_tiny_mode_rather_than_noise(bench):
    # the CI run that failed: five items, fanout finished 36 ms faster than hello
    results = _results(bench, hello=0.500, fanout=0.464)
    derived = bench.derive(results, bench.Sizes.tiny())
    assert math.isnan(derived["headwater"]["per_task"])
    assert "not measurable with 5 foreach items" in results.extra["not_measurable"]["per_task (headwater)"]
    data = bench.report(results, bench.Sizes.tiny(), {})
    assert data["targets"]["per_task"]["met"] is None  # n/a, not a missed target


def test_per_task_of_a_full_run_is_never_negative(bench):
    results = _results(bench, hello=0.500, fanout=0.490)
    derived = bench.derive(results, bench.Sizes())
    assert math.isnan(derived["headwater"]["per_task"])
    assert "noise dominated" in results.extra["not_measurable"]["per_task (metaflow)"]


def test_per_task_of_a_full_run_is_fanout_minus_hello_over_tasks(bench):
    results = _results(bench, hello=0.5, fanout=0.5 + 101 * 0.004)
    assert bench.derive(results, bench.Sizes())["headwater"]["per_task"] == pytest.approx(0.004)
    assert "not_measurable" not in results.extra


def test_virtualenvs_live_in_the_user_cache_not_the_checkout(bench, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert bench.default_cache() == tmp_path / "headwater-bench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert bench.default_cache() == Path.home() / ".cache" / "headwater-bench"
    fw = bench.Framework("metaflow", "metaflow", bench.default_cache(), tmp_path, tmp_path / "log")
    assert fw.venv.name == f"metaflow-{bench.METAFLOW_VERSION}"
    assert ROOT not in fw.venv.parents


@pytest.mark.slow
def test_benchmark_command_runs_every_case_in_tiny_mode(tmp_path, bench):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--tiny", "--json", str(out), "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["meta"]["versions"]["metaflow"] == "2.19.39"
    rows = {row["case"]: row for row in data["rows"]}
    for case in ("import", "hello", "linear10", "fanout", "resume", "client", "wide", "files_per_task"):
        for side in ("headwater", "metaflow"):
            assert rows[case][side] > 0 and not math.isnan(rows[case][side]), (case, side)
        assert rows[case]["ratio"] > 0
    # five items cannot measure the cost of one task: said so, never a (possibly negative) number
    assert math.isnan(rows["per_task"]["headwater"]) and math.isnan(rows["per_task"]["metaflow"])
    assert "per_task (headwater)" in data["extra"]["not_measurable"]
    assert "not measured: per_task" in done.stdout
    assert (bench.default_cache() / f"metaflow-{bench.METAFLOW_VERSION}" / "bin" / "python").exists()
    assert set(data["targets"]) >= {"hello", "per_task", "artifacts_save", "resume", "client", "import"}
    assert "Headwater save throughput" in done.stdout
