"""The benchmark command still runs end to end (tiny sizes, one round); no timing is asserted."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_benchmark_command_runs_every_case_in_tiny_mode(tmp_path):
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
    for case in ("import", "hello", "linear10", "fanout", "per_task", "resume", "client", "wide", "files_per_task"):
        for side in ("headwater", "metaflow"):
            assert rows[case][side] > 0 and not math.isnan(rows[case][side]), (case, side)
        assert rows[case]["ratio"] > 0
    assert set(data["targets"]) >= {"hello", "per_task", "artifacts_save", "resume", "client", "import"}
    assert "Headwater save throughput" in done.stdout
