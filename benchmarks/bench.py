"""Headwater against Metaflow, side by side, on this machine, in one run.

    python benchmarks/bench.py                 # the full run (about 40 minutes on 2 cores)
    python benchmarks/bench.py --tiny          # every case, few items, one round (a smoke test)

It makes its own virtualenvs, outside the checkout (``$XDG_CACHE_HOME/headwater-bench``, by default
``~/.cache/headwater-bench``; ``--cache`` chooses another folder): Headwater from this checkout, and
``metaflow==2.19.39``, each with numpy. The same flows (``benchmarks/flows``, one source with the import
swapped) run on both, alternating A/B every round; medians and Headwater/Metaflow ratios are printed as
a table and written as JSON (``benchmarks/results/``). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
METAFLOW_VERSION = "2.19.39"
# Metaflow refuses to run as root without a user name; both sides get the same one.
BENCH_ENV = {"USER": "benchmark", "USERNAME": "benchmark", "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}

TARGETS = {
    "hello": ("ratio", 0.20),
    "per_task": ("ratio", 0.10),
    "artifacts_save": ("ratio", 0.10),
    "artifacts_load": ("ratio", 0.10),
    "save_throughput_gib_s": ("at least", 1.0),
    "resume": ("ratio", 0.25),
    "client": ("ratio", 0.30),
    "import": ("ratio", 0.25),
    "wide_peak_mib": ("at most", 300.0),
}


# Below this many foreach items the cost of one more task is lost in the noise of two process start-ups
# (a tiny run once gave -6 ms per task), so per_task is reported as not measurable rather than guessed.
MIN_PER_TASK_ITEMS = 50


def default_cache() -> Path:
    """Where the virtualenvs live: the user's cache folder, never the checkout (they weigh ~300 MB)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "headwater-bench"


def venv_name(name: str) -> str:
    """One Metaflow virtualenv per version; one Headwater virtualenv per checkout (it installs its core)."""
    if name == "metaflow":
        return f"metaflow-{METAFLOW_VERSION}"
    return f"headwater-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]}"


@dataclass
class Sizes:
    """How big each case is; ``--tiny`` shrinks everything so the command can be tested quickly."""

    rounds: int = 5
    heavy_rounds: int = 3
    fanout_items: int = 100
    wide_items: int = 2000
    artifact_mib: int = 500
    tuples: int = 1_000_000
    client_runs: int = 1000
    import_reps: int = 10
    wide_timeout: float = 600.0

    @classmethod
    def tiny(cls) -> Sizes:
        return cls(1, 1, 5, 20, 1, 1000, 5, 2, 120.0)


@dataclass
class Framework:
    """One side of the comparison: its virtualenv, its work folder, how it is imported."""

    name: str
    package: str
    venvs: Path
    work: Path
    log: Path

    @property
    def venv(self) -> Path:
        return self.venvs / venv_name(self.name)

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def setup(self) -> None:
        if not (self.venv / "bin" / "python").exists():
            self.venv.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
            self.pip("--upgrade", "pip")
        if self.name == "headwater":
            self.pip("numpy", str(ROOT / "core"))
            self.pip("--force-reinstall", "--no-deps", str(ROOT / "core"))
        else:
            self.pip("numpy", f"metaflow=={METAFLOW_VERSION}")
        self.work.mkdir(parents=True, exist_ok=True)
        for flow in (HERE / "flows").glob("*.py"):
            text = flow.read_text().replace("from FRAMEWORK import", f"from {self.package} import")
            (self.work / flow.name).write_text(text)

    def pip(self, *args: str) -> None:
        subprocess.run([self.python, "-m", "pip", "install", "--quiet", *args], check=True)

    def version(self) -> str:
        code = f"import importlib.metadata as m; print(m.version({self.package!r}))"
        return subprocess.run([self.python, "-c", code], capture_output=True, text=True).stdout.strip()

    def run(
        self,
        args: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float | None = None,
    ) -> float:
        """Wall time of ``python *args`` in the work folder; output goes to the log."""
        full_env = {**os.environ, **BENCH_ENV, **(env or {})}
        os.sync()  # start from a clean page cache: earlier runs' dirty pages would throttle this one's writes
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(args)}  {env or ''}\n")
            log.flush()
            start = time.perf_counter()
            done = subprocess.run(
                [self.python, *args],
                cwd=cwd or self.work,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
            elapsed = time.perf_counter() - start
        if check and done.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args)} exited {done.returncode}; see {self.log}")
        return elapsed

    def flow(self, name: str, command: str, *args: str, env: dict[str, str] | None = None, **kw: Any) -> float:
        return self.run([f"{name}.py", command, *args], env=env, **kw)

    def measured(
        self, name: str, command: str, *args: str, env: dict[str, str] | None = None, timeout: float | None = None
    ) -> tuple[float, float, float]:
        """Wall time, peak RSS (MiB) of the runtime process, and files written per task."""
        before = count_files(self.work)
        peak_file = self.work / "peak.txt"
        elapsed = self.run(
            [str(HERE / "measure_peak.py"), str(peak_file), f"{name}.py", command, *args], env=env, timeout=timeout
        )
        files = count_files(self.work) - before
        return elapsed, int(peak_file.read_text()) / 1024, files


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Results:
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, case: str, framework: str, value: float) -> None:
        self.samples.setdefault(case, {}).setdefault(framework, []).append(value)

    def med(self, case: str, framework: str) -> float:
        return median(self.samples.get(case, {}).get(framework, []))


def alternate(frameworks: list[Framework], rounds: int) -> list[list[Framework]]:
    """A/B, then B/A, ...: neither side always runs on a warmer machine."""
    return [frameworks if r % 2 == 0 else list(reversed(frameworks)) for r in range(rounds)]


# --------------------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------------------


def case_hello(fws: list[Framework], sizes: Sizes, results: Results) -> None:
    for order in alternate(fws, sizes.rounds):
        for fw in order:
            results.add("hello", fw.name, fw.flow("hello", "run"))


def case_linear10(fws: list[Framework], sizes: Sizes, results: Results) -> None:
    for order in alternate(fws, sizes.rounds):
        for fw in order:
            results.add("linear10", fw.name, fw.flow("linear10", "run"))


def case_fanout(fws: list[Framework], sizes: Sizes, results: Results) -> None:
    env = {"BENCH_ITEMS": str(sizes.fanout_items)}
    tasks = sizes.fanout_items + 3
    for order in alternate(fws, sizes.rounds):
        for fw in order:
            elapsed, peak, files = fw.measured("fanout", "run", env=env)
            results.add("fanout", fw.name, elapsed)
            results.add("fanout_peak_mib", fw.name, peak)
            results.add("files_per_task", fw.name, files / tasks)


def case_wide(fws: list[Framework], sizes: Sizes, results: Results) -> None:
    env = {"BENCH_ITEMS": str(sizes.wide_items)}
    for fw in fws:
        try:
            elapsed, peak, _ = fw.measured(
                "fanout", "run", "--max-num-splits", str(sizes.wide_items), env=env, timeout=sizes.wide_timeout
            )
        except subprocess.TimeoutExpired:
            results.extra.setdefault("did_not_finish", []).append(f"{fw.name}: wide ({sizes.wide_timeout:.0f} s)")
            continue
        results.add("wide", fw.name, elapsed)
        results.add("wide_peak_mib", fw.name, peak)


def case_artifacts(fws: list[Framework], sizes: Sizes, results: Results) -> None:
    base = {"BENCH_MIB": str(sizes.artifact_mib), "BENCH_TUPLES": str(sizes.tuples)}
    for order in alternate(fws, sizes.heavy_rounds):
        for fw in order:
            times = {
                mode: fw.flow("artifacts", "run", env={**base, "BENCH_MODE": mode})
                for mode in ("control", "save", "full")
            }
            results.add("artifacts_save", fw.name, max(times["save"] - times["control"], 1e-3))
            results.add("artifacts_load", fw.name, max(times["full"] - times["save"], 1e-3))
    results.extra["artifact_bytes"] = 2 * sizes.artifact_mib * 1024 * 1024


def case_resume(fws: list[Framework], sizes: Sizes, results: Results) -> None:
    for order in alternate(fws, sizes.rounds):
        for fw in order:
            fw.flow("resume", "run", check=False)  # fails at step four, as intended
            results.add("resume", fw.name, fw.flow("resume", "resume", env={"BENCH_FIXED": "1"}))


CLIENT_CODE = {
    "headwater": "from headwater import Flow, namespace\n",
    "metaflow": "from metaflow import Flow, namespace\n",
}
CLIENT_BODY = """namespace(None)
runs = list(Flow("HelloFlow").runs())
assert len(runs) >= {n}, len(runs)
assert runs[0].data.x == 1
"""


def case_client(fws: list[Framework], sizes: Sizes, results: Results) -> None:
    for fw in fws:
        folder = fw.work / "client"
        folder.mkdir(exist_ok=True)
        shutil.copy(fw.work / "hello.py", folder / "hello.py")
        marker = folder / "runs.txt"
        have = int(marker.read_text()) if marker.exists() else 0
        if have < sizes.client_runs:  # made once, kept between invocations of the benchmark
            with ThreadPoolExecutor(2) as pool:
                futures = [pool.submit(fw.flow, "hello", "run", cwd=folder) for _ in range(sizes.client_runs - have)]
                for future in futures:
                    future.result()
            marker.write_text(str(sizes.client_runs))
        (folder / "read.py").write_text(CLIENT_CODE[fw.name] + CLIENT_BODY.format(n=sizes.client_runs))
    for order in alternate(fws, sizes.rounds):
        for fw in order:
            results.add("client", fw.name, fw.run(["read.py"], cwd=fw.work / "client"))


def case_import(fws: list[Framework], sizes: Sizes, results: Results) -> None:
    for order in alternate(fws, sizes.rounds):
        for fw in order:
            for _ in range(sizes.import_reps):
                results.add("import", fw.name, fw.run(["-c", f"import {fw.package}"]))


CASES: dict[str, Callable[[list[Framework], Sizes, Results], None]] = {
    "import": case_import,
    "hello": case_hello,
    "linear10": case_linear10,
    "fanout": case_fanout,
    "resume": case_resume,
    "client": case_client,
    "artifacts": case_artifacts,
    "wide": case_wide,
}


# --------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------


def per_task(results: Results, sizes: Sizes, fw: str) -> tuple[float, str | None]:
    """The cost of one more task, (fanout - hello) / (items + 1), or NaN and why it cannot be measured."""
    items = sizes.fanout_items
    if items < MIN_PER_TASK_ITEMS:
        return float("nan"), (
            f"not measurable with {items} foreach items (fewer than {MIN_PER_TASK_ITEMS}, e.g. --tiny): "
            "the cost of one task is below the noise of two process start-ups"
        )
    fan, hello = results.med("fanout", fw), results.med("hello", fw)
    if not fan - hello > 0:
        return float("nan"), f"fanout ({fan:.3f} s) was not slower than hello ({hello:.3f} s): noise dominated"
    return (fan - hello) / (items + 1), None


def derive(results: Results, sizes: Sizes) -> dict[str, dict[str, float]]:
    """Per-framework derived figures: per extra task, save throughput."""
    derived: dict[str, dict[str, float]] = {}
    for fw in ("headwater", "metaflow"):
        d = derived.setdefault(fw, {})
        d["per_task"], why = per_task(results, sizes, fw)
        if why:
            results.extra.setdefault("not_measurable", {})[f"per_task ({fw})"] = why
        save = results.med("artifacts_save", fw)
        d["save_throughput_gib_s"] = results.extra.get("artifact_bytes", 0) / save / 2**30 if save else float("nan")
    return derived


def report(results: Results, sizes: Sizes, meta: dict[str, Any]) -> dict[str, Any]:
    derived = derive(results, sizes)
    rows = []
    cases = [
        "import",
        "hello",
        "linear10",
        "fanout",
        "per_task",
        "resume",
        "client",
        "artifacts_save",
        "artifacts_load",
        "wide",
        "fanout_peak_mib",
        "wide_peak_mib",
        "files_per_task",
    ]
    for case in cases:
        if case == "per_task":
            hw, mf = derived["headwater"]["per_task"], derived["metaflow"]["per_task"]
        else:
            hw, mf = results.med(case, "headwater"), results.med(case, "metaflow")
        ratio = hw / mf if mf and mf == mf and hw == hw else float("nan")
        rows.append({"case": case, "headwater": hw, "metaflow": mf, "ratio": ratio})
    throughput = derived["headwater"]["save_throughput_gib_s"]
    verdicts = {}
    for key, (kind, limit) in TARGETS.items():
        if kind == "ratio":
            value = next((r["ratio"] for r in rows if r["case"] == key), float("nan"))
            # NaN is "not measured", not "missed": the table shows n/a
            verdicts[key] = {"value": value, "target": f"<= {limit}", "met": value <= limit if value == value else None}
        elif key == "save_throughput_gib_s":
            verdicts[key] = {"value": throughput, "target": f">= {limit}", "met": throughput >= limit}
        else:
            value = results.med(key, "headwater")
            verdicts[key] = {"value": value, "target": f"<= {limit}", "met": value <= limit}
    return {
        "meta": meta,
        "sizes": sizes.__dict__,
        "rows": rows,
        "derived": derived,
        "targets": verdicts,
        "samples": results.samples,
        "extra": results.extra,
    }


def fmt(value: float, case: str) -> str:
    if value != value:
        return "-"
    if case.endswith("_mib"):
        return f"{value:.0f} MiB"
    if case == "files_per_task":
        return f"{value:.1f}"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def print_table(data: dict[str, Any]) -> None:
    print(f"\n{'case':<16}{'headwater':>14}{'metaflow':>14}{'ratio':>9}")
    for row in data["rows"]:
        ratio = "-" if row["ratio"] != row["ratio"] else f"{row['ratio']:.3f}"
        print(
            f"{row['case']:<16}{fmt(row['headwater'], row['case']):>14}{fmt(row['metaflow'], row['case']):>14}"
            f"{ratio:>9}"
        )
    print(
        f"\nHeadwater save throughput: {data['derived']['headwater']['save_throughput_gib_s']:.2f} GiB/s "
        f"(Metaflow {data['derived']['metaflow']['save_throughput_gib_s']:.3f} GiB/s)"
    )
    print("\ntarget                     value     target   met")
    for key, v in data["targets"].items():
        met = "n/a" if v["met"] is None else "yes" if v["met"] else "NO"
        print(f"{key:<24}{v['value']:>9.3f}  {v['target']:>9}   {met}")
    for note in data["extra"].get("did_not_finish", []):
        print(f"did not finish: {note}")
    for what, why in data["extra"].get("not_measurable", {}).items():
        print(f"not measured: {what}: {why}")


def _proc_field(path: str, prefix: str) -> str | None:
    """The value after ``prefix`` in a /proc file (None off Linux)."""
    try:
        with open(path) as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(prefix)), None)
    except OSError:
        return None


def machine() -> dict[str, Any]:
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor()
    mem = int((_proc_field("/proc/meminfo", "MemTotal") or "0 kB").split()[0]) // 1024
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mib": mem,
        "python": platform.python_version(),
        "system": platform.platform(),
        "headwater_commit": commit.strip(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="every case, few items, one round")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of: " + ", ".join(CASES))
    parser.add_argument("--rounds", type=int, help="rounds of the light cases (default 5)")
    parser.add_argument("--json", type=Path, help="where to write the results (default benchmarks/results/)")
    parser.add_argument("--work", type=Path, default=HERE / ".work", help="folder for flows and datastores")
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache(),
        help="folder for the virtualenvs (default $XDG_CACHE_HOME/headwater-bench or ~/.cache/headwater-bench)",
    )
    args = parser.parse_args(argv)

    sizes = Sizes.tiny() if args.tiny else Sizes()
    if args.rounds:
        sizes.rounds = args.rounds
    work = args.work / ("tiny" if args.tiny else "full")
    fws = [
        Framework("headwater", "headwater", args.cache, work / "headwater", work / "headwater.log"),
        Framework("metaflow", "metaflow", args.cache, work / "metaflow", work / "metaflow.log"),
    ]
    for fw in fws:
        fw.setup()
    meta = {**machine(), "versions": {fw.name: fw.version() for fw in fws}}
    print(
        f"Headwater {meta['versions']['headwater']} vs Metaflow {meta['versions']['metaflow']} on "
        f"{meta['cores']} cores ({meta['cpu']}); logs in {work}"
    )
    results = Results()
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        start = time.perf_counter()
        CASES[case](fws, sizes, results)
        print(f"  {case}: {time.perf_counter() - start:.0f} s", flush=True)
    data = report(results, sizes, meta)
    print_table(data)
    out = args.json or HERE / "results" / f"{datetime.datetime.now():%Y%m%d-%H%M%S}{'-tiny' if args.tiny else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, default=str))
    print(f"\nResults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
