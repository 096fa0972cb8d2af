"""Benchmark `repair --site` and `drill`'s integrity check against their baselines, in one run.

`python -m bench.run` (or `make bench`) starts one `moto_server -H 127.0.0.1 -p <free port>`,
seeds FormKiQ-shaped Documents tables into it (bench/data.py), and measures side by side:

1. Speed, on a 20,000-item reference table and its live table after an incident (the only
   tables in the server while they are measured). Every
   repetition runs each case of bench/cases.py once, in turn: the raw read ceiling (unfiltered
   and with repair's site filter), the hand-made `aws dynamodb scan | jq -S | sort` + `diff`
   (as specified, and with the site filter), and ours (`compare_tables`, `digest_tables`).
   Wall time is the median of the repetitions; CPU time of this process (or of the hand-made
   script's processes) and of moto_server is recorded beside it. Each result is checked: the
   repair plan holds exactly the incident's changes in site finance, the digests differ where
   the tables do, and the hand-made diff saw every changed item.
2. Memory, in a fresh process per measurement (bench/probe.py), at 5,000 and 50,000 items per
   table (`--memory-sizes` adds sizes in between), for both operations and, for contrast, the
   raw paginator: peak RSS growth per item from the first size to the last (the kernel's
   high-water mark, reset before the operation; probe.py says why not plain ru_maxrss). These
   tables are identical copies written in different orders, so the digests must match and the
   diff must be empty.

Prints the figures as Markdown tables and writes them to reports/benchmarks.json. The server is
stopped at the end, also on failure or SIGTERM. Only 127.0.0.1 is contacted, with fake
credentials.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any

from bench.cases import (
    LineDiff,
    RepairPlan,
    check_drill_digests,
    check_line_diff,
    check_repair_plan,
    handmade_script,
    raw_scan,
    run_drill_digest,
    run_handmade,
    run_repair_compare,
    site_filter,
)
from bench.data import SITE, Incident, TablePair, seed_pair
from bench.report import (
    CaseFigures,
    MemoryFigures,
    Sample,
    Target,
    cases_table,
    memory_table,
    targets_table,
)
from bench.server import Server, dynamodb_client, moto_server, offline_environment, venv_tool

ROOT = Path(__file__).resolve().parent.parent
JQ_DEFAULT = "/usr/bin/jq"
CEILING_RATIO = 0.8
HANDMADE_SPEEDUP = 1.5
MAX_BYTES_PER_ITEM = 100.0


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the figures."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Case:
    """A timed case: what it runs, how its result is checked, and whether it is a subprocess."""

    name: str
    description: str
    run: Callable[[], Any]
    check: Callable[[Any], int]
    """Raises if the result is wrong; returns the number of items the case got back."""
    subprocess: bool = False


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_case(case: Case, server: Server) -> tuple[Sample, int]:
    """Run `case` once; its wall time, CPU times, and what its check returned."""
    server_before = server.cpu_seconds()
    cpu_before = _children_cpu() if case.subprocess else time.process_time()
    started = time.perf_counter()
    result = case.run()
    seconds = time.perf_counter() - started
    cpu = (_children_cpu() if case.subprocess else time.process_time()) - cpu_before
    server_after = server.cpu_seconds()
    server_cpu = (
        None if server_before is None or server_after is None else server_after - server_before
    )
    return Sample(seconds, cpu, server_cpu), case.check(result)


def build_cases(server: Server, pair: TablePair, jq: str | None, workdir: Path) -> list[Case]:
    """The cases of bench/cases.py, bound to the benchmark's tables."""
    dynamodb = dynamodb_client(server.endpoint)
    tables = (pair.reference, pair.live)
    site = site_filter()
    environment = offline_environment()

    def check_count(expected: int) -> Callable[[Any], int]:
        def check(returned: Any) -> int:
            if returned != expected:
                raise AssertionError(f"raw scan returned {returned} items, expected {expected}")
            return int(returned)

        return check

    def check_repair(plan: RepairPlan) -> int:
        check_repair_plan(plan, pair)
        return plan.reference_count + plan.live_count

    def check_drill(digests: Any) -> int:
        source, restored = digests
        check_drill_digests(source, restored, pair)
        return int(source.count + restored.count)

    site_items = pair.site_items + pair.site_items - len(pair.expected_put)
    site_items += len(pair.expected_delete)
    cases = [
        Case(
            "ceiling",
            "boto3 paginated scan of both tables, nothing else",
            lambda: raw_scan(dynamodb, tables),
            check_count(pair.reference_count + pair.live_count),
        ),
        Case(
            "ceiling-site",
            f"the same with repair's FilterExpression for site {SITE}",
            lambda: raw_scan(dynamodb, tables, site),
            check_count(site_items),
        ),
    ]
    if jq is not None:
        aws = venv_tool("aws")
        for name, filtered in (("hand-made", False), ("hand-made-site", True)):
            folder = workdir / name
            folder.mkdir(parents=True, exist_ok=True)
            script = handmade_script(
                aws,
                jq,
                server.endpoint,
                pair,
                folder,
                filter_expression=site if filtered else None,
            )
            cases.append(
                Case(
                    name,
                    "aws dynamodb scan x2 | jq -S -c | sort; diff"
                    + (f" (--filter-expression for site {SITE})" if filtered else ""),
                    _handmade_runner(script, folder, environment),
                    _handmade_check(pair, site_only=filtered),
                    subprocess=True,
                )
            )
    cases += [
        Case(
            "repair",
            f"ours: compare_tables(site={SITE!r}), plan read back",
            lambda: run_repair_compare(dynamodb, pair),
            check_repair,
        ),
        Case(
            "drill",
            "ours: digest_tables (integrity check)",
            lambda: run_drill_digest(dynamodb, pair),
            check_drill,
        ),
    ]
    return cases


def _handmade_runner(script: str, folder: Path, environment: dict[str, str]) -> Callable[[], Any]:
    return lambda: run_handmade(script, folder, environment)


def _handmade_check(pair: TablePair, *, site_only: bool) -> Callable[[Any], int]:
    def check(found: LineDiff) -> int:
        check_line_diff(found, pair, site_only=site_only)
        return found.items

    return check


def measure_speed(
    server: Server, pair: TablePair, jq: str | None, repetitions: int
) -> list[CaseFigures]:
    """Each repetition runs every case once, in the same order."""
    scanned = pair.reference_count + pair.live_count
    with tempfile.TemporaryDirectory(prefix="formkiq-bench-") as workdir:
        cases = build_cases(server, pair, jq, Path(workdir))
        figures = {case.name: CaseFigures(case.name, case.description, scanned) for case in cases}
        for repetition in range(1, repetitions + 1):
            for case in cases:
                log(f"repetition {repetition}/{repetitions}: {case.name}")
                sample, returned = time_case(case, server)
                figures[case.name].samples.append(sample)
                figures[case.name].items_returned = returned
                log(f"  {sample.seconds:.2f} s, {returned:,} items returned")
    return list(figures.values())


def targets(figures: Sequence[CaseFigures]) -> list[Target]:
    """Judged comparisons first; informational ones show what else a reader would ask."""
    by_name = {case.name: case for case in figures}
    plan = [
        ("repair vs raw read ceiling (same site-filtered scans)", "repair", "ceiling-site"),
        ("repair vs raw read ceiling (unfiltered scans)", "repair", "ceiling"),
        ("drill vs raw read ceiling", "drill", "ceiling"),
        ("repair vs hand-made (as specified: full scans)", "repair", "hand-made"),
        ("repair vs hand-made with the same site filter", "repair", "hand-made-site"),
        ("drill vs hand-made", "drill", "hand-made"),
    ]
    informational = {
        ("repair", "ceiling"),
        ("repair", "hand-made-site"),
    }
    found = []
    for name, ours, baseline in plan:
        if ours not in by_name or baseline not in by_name:
            continue
        minimum = CEILING_RATIO if baseline.startswith("ceiling") else HANDMADE_SPEEDUP
        value = by_name[baseline].median_seconds / by_name[ours].median_seconds
        judged = (ours, baseline) not in informational
        found.append(Target(name, ours, baseline, minimum, judged, value))
    return found


MEMORY_OPERATIONS = ("compare", "digest", "ceiling")
"""Ours, then the raw paginator for contrast: what boto3 itself leaves in memory."""


def measure_memory(server: Server, pairs: Sequence[TablePair]) -> list[MemoryFigures]:
    """Each operation at each size, in a fresh `python -m bench.probe` process."""
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for pair in pairs:
        for operation in MEMORY_OPERATIONS:
            log(f"memory: {operation} at {pair.reference_count:,} items per table")
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.probe",
                    "--endpoint",
                    server.endpoint,
                    "--reference",
                    pair.reference,
                    "--live",
                    pair.live,
                    "--operation",
                    operation,
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=offline_environment(),
            )
            probe = json.loads(completed.stdout)
            _check_probe(probe, pair)
            log(
                f"  grew {probe['growthKiB']:,} KiB in {probe['seconds']:.1f} s "
                f"(plain ru_maxrss: {probe['ruMaxrssGrowthKiB']:,} KiB)"
            )
            results[(operation, pair.reference_count)] = probe
    sizes = tuple(pair.reference_count for pair in pairs)
    return [
        MemoryFigures(
            operation=operation,
            sizes=sizes,
            growth_kib=tuple(results[(operation, size)]["growthKiB"] for size in sizes),
            seconds=tuple(results[(operation, size)]["seconds"] for size in sizes),
            ru_growth_kib=tuple(results[(operation, size)]["ruMaxrssGrowthKiB"] for size in sizes),
            judged=operation != "ceiling",
            maximum_bytes_per_item=MAX_BYTES_PER_ITEM,
        )
        for operation in MEMORY_OPERATIONS
    ]


def _check_probe(probe: dict[str, Any], pair: TablePair) -> None:
    if not probe["peakReset"]:
        log("  /proc/self/clear_refs not writable: this peak includes start-up's")
    counts = (probe["referenceCount"], probe["liveCount"])
    if counts != (pair.reference_count, pair.live_count):
        raise AssertionError(f"probe {probe['operation']} counted {counts}")
    if probe["operation"] == "compare" and any(probe["changes"].values()):
        raise AssertionError(f"identical tables, yet changes {probe['changes']}")
    if probe["operation"] == "digest" and probe["liveDigest"] != probe["referenceDigest"]:
        raise AssertionError("identical tables, yet their digests differ")


def _tool_version(command: Sequence[str]) -> str:
    completed = subprocess.run(
        command, capture_output=True, text=True, check=False, env=offline_environment()
    )
    return (completed.stdout or completed.stderr).strip().splitlines()[0]


def machine(jq: str | None) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "moto": version("moto"),
        "boto3": version("boto3"),
        "botocore": version("botocore"),
        "awscli": _tool_version([venv_tool("aws"), "--version"]),
        "jq": _tool_version([jq, "--version"]) if jq else None,
    }


def dataset(pair: TablePair, incident: Incident) -> dict[str, Any]:
    return {
        "referenceItems": pair.reference_count,
        "liveItems": pair.live_count,
        "siteItems": {SITE: pair.site_items},
        "averageItemBytes": round(pair.average_item_bytes, 1),
        "incident": {
            "overwritten": incident.overwritten,
            "deleted": incident.deleted,
            "created": incident.created,
            "otherSitesOverwritten": incident.other_sites_overwritten,
        },
    }


def find_jq() -> str | None:
    found = shutil.which("jq") or (JQ_DEFAULT if Path(JQ_DEFAULT).exists() else None)
    if found is None:
        log("jq not found: skipping the hand-made pipeline (b); install jq to measure it")
    return found


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=20_000, help="items in the speed tables")
    parser.add_argument("--repetitions", type=int, default=3, help="runs of each speed case")
    parser.add_argument(
        "--memory-sizes",
        type=int,
        nargs="+",
        default=(5_000, 50_000),
        metavar="ITEMS",
        help="items per table of the memory measurements; the slope is first to last",
    )
    parser.add_argument("--skip-memory", action="store_true", help="speed cases only")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "benchmarks.json")
    args = parser.parse_args(argv)
    if len(args.memory_sizes) < 2 or list(args.memory_sizes) != sorted(set(args.memory_sizes)):
        parser.error("--memory-sizes: two or more sizes, ascending")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    os.environ.update(offline_environment())
    jq = find_jq()
    incident = Incident()
    with moto_server(args.output.parent / "moto_server.log") as server:
        log(f"moto_server at {server.endpoint} (pid {server.pid})")
        dynamodb = dynamodb_client(server.endpoint)
        log(f"seeding 2 x {args.items:,} items, then the incident")
        seeding = time.perf_counter()
        pair = seed_pair(dynamodb, f"bench-{args.items}", args.items, incident=incident)
        seeding_seconds = time.perf_counter() - seeding
        log(f"seeded in {seeding_seconds:.0f} s")
        dynamodb.scan(TableName=pair.reference, Limit=1)  # load botocore's models
        cases = measure_speed(server, pair, jq, args.repetitions)
        memory = []
        if not args.skip_memory:
            # moto_server holds only the tables being measured: a smaller heap, shorter pauses.
            for table in (pair.reference, pair.live):
                dynamodb.delete_table(TableName=table)
            seeding = time.perf_counter()
            memory_pairs = []
            for size in args.memory_sizes:
                log(f"seeding 2 x {size:,} identical items for the memory probes")
                memory_pairs.append(seed_pair(dynamodb, f"memory-{size}", size))
            seeding_seconds += time.perf_counter() - seeding
            memory = measure_memory(server, memory_pairs)
    found = targets(cases)
    total = time.perf_counter() - started
    print(f"## Speed: {pair.reference_count:,} + {pair.live_count:,} items\n")
    print(cases_table(cases) + "\n")
    print(targets_table(found) + "\n")
    if jq is None:
        print("Hand-made pipeline (b) skipped: jq not found.\n")
    if memory:
        print("## Memory: peak RSS growth (VmHWM, reset), fresh process per measurement\n")
        print(memory_table(memory) + "\n")
    print(f"Seeding {seeding_seconds:.0f} s; whole run {total:.0f} s.")
    report = {
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench",
        "machine": machine(jq),
        "dataset": dataset(pair, incident),
        "repetitions": args.repetitions,
        "cases": {case.name: case.as_json() for case in cases},
        "targets": [target.as_json() for target in found],
        "handmadeSkipped": jq is None,
        "memory": [figures.as_json() for figures in memory],
        "seedingSeconds": round(seeding_seconds, 1),
        "totalSeconds": round(total, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    log(f"figures written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
