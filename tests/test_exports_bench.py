"""The Cognito export benchmark, end to end on a small pool (figures live in docs/benchmarks.md).

The harness checks its own results (every user exported once with the right groups, the CLI
listed every user), so a broken harness fails here instead of after a full run."""

import json
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_cognito_export_bench_runs_both_sides_and_probes_memory(tmp_path: Path) -> None:
    output = tmp_path / "cognito-export.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cognito_export",
            "--users",
            "130",
            "--memory-sizes",
            "60",
            "130",
            "--repetitions",
            "1",
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
    assert figures["users"] == 130
    assert figures["export"]["usersPerSecond"] > 0 and figures["cli"]["usersPerSecond"] > 0
    assert figures["ratio"] == figures["cli"]["seconds"] / figures["export"]["seconds"]
    assert [m["size"] for m in figures["memory"]] == [60, 130]
    assert all(m["users"] == m["size"] for m in figures["memory"])
