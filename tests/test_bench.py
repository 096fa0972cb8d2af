"""The benchmark harness, end to end on small tables (no figures asserted: they live in
docs/benchmarks.md), on both engines. The harness checks every result itself (the repair plan
holds exactly the incident, digests differ where the tables do, the hand-made diff saw every
change), so a broken harness or package fails here instead of after a long `make bench`."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_bench_runs_every_case_and_probe_on_small_tables(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--items",
            "300",
            "--repetitions",
            "1",
            "--memory-sizes",
            "200",
            "400",
            "--export-items",
            "2000",
            "--output",
            str(output),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    figures = json.loads(output.read_text())
    # Where node is installed (CI), dynalite must run, not be skipped.
    expected_engines = {"moto", "dynalite"} if shutil.which("node") else {"moto"}
    assert set(figures["engines"]) == expected_engines, figures["skippedEngines"]
    first = next(iter(figures["engines"]))
    for name, engine in figures["engines"].items():
        dataset = engine["dataset"]
        assert (dataset["referenceItems"], dataset["liveItems"]) == (300, 270)
        cases = engine["cases"]
        expected = {
            "ceiling",
            "ceiling-site",
            "ceiling-lean",
            "repair",
            "repair-botocore",
            "repair-one-reader",
            "repair-workers",
            "drill",
            "drill-botocore",
            "drill-parallel",
        }
        if not figures["handmadeSkipped"]:
            expected |= {"hand-made", "hand-made-site"}
        assert set(cases) == expected
        both = dataset["referenceItems"] + dataset["liveItems"]
        full = ("ceiling", "ceiling-lean", "drill", "drill-botocore", "drill-parallel")
        assert {cases[name]["itemsReturned"] for name in full} == {both}
        filtered = [name for name in cases if name.startswith("repair")] + ["ceiling-site"]
        assert len({cases[name]["itemsReturned"] for name in filtered}) == 1
        assert cases["repair"]["itemsReturned"] < both
        if name != first:  # the probes measure the client: on the first engine only
            assert engine["memory"] == []
            continue
        memory = {entry["operation"]: entry for entry in engine["memory"]}
        assert set(memory) == {
            "compare",
            "digest",
            "compare-botocore",
            "digest-botocore",
            "ceiling",
        }
        assert all(entry["items"] == [200, 400] for entry in memory.values())
        assert all(len(entry["growthKiB"]) == 2 for entry in memory.values())
    assert "## Targets, engines side by side" in result.stdout
    exports = figures["exports"]["sizes"]["2000"]
    assert set(exports["cases"]) == {"duckdb", "duckdb-small", "in-process"}
    pair = exports["pair"]  # the harness checked every case found exactly the incident
    assert (pair["puts"], pair["overwrites"], pair["deletes"]) == (10, 10, 5)
    assert exports["readCapacity"]["exportReadUnits"] == 0
    assert exports["readCapacity"]["scanReadUnits"] > 0
    assert "## The export path" in result.stdout


def test_a_stopped_run_leaves_no_pipeline_process_behind(tmp_path: Path) -> None:
    """SIGTERM during the hand-made pipeline stops every process of it, not only bash."""
    marker = tmp_path / "child.pid"
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from bench.cases import run_handmade\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))\n"
        f"run_handmade('sleep 60 & echo $! > {marker}; wait', Path({str(tmp_path)!r}), "
        "dict(os.environ))\n"
    )
    runner = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_DIR)
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text().strip()):
        assert time.monotonic() < deadline, "the pipeline never started"
        time.sleep(0.05)
    child = int(marker.read_text())

    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) == 3

    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and "Z" not in _state(child):
        assert time.monotonic() < deadline, f"pipeline process {child} outlived the run"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
