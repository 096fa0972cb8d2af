"""Benchmark `repair --site` and `drill`'s integrity check against their baselines, in one run.

`python -m bench.run` (or `make bench`) measures every case on two DynamoDB engines, each
started by the harness on 127.0.0.1 on a free port and stopped at the end (also on failure or
SIGTERM): `dynalite` (Node.js, installed from npm on first use, see bench/server.py), then
`moto_server`. On each it seeds FormKiQ-shaped Documents tables (bench/data.py) and measures:

1. Speed, on a 20,000-item reference table and its live table after an incident (the only
   tables in the server while they are measured). Every repetition runs each case of
   bench/cases.py once, in turn: the raw read ceiling (unfiltered, with repair's site filter,
   and with the lean response path), the hand-made `aws dynamodb scan | jq -S | sort` + `diff`
   (as specified, and with the site filter), and ours (`compare_tables`, `digest_tables`, each
   also with botocore's own parsing, and the digest as a parallel scan). Wall time is the
   median of the repetitions; CPU time of this process (or of the hand-made script's processes,
   or of the parallel scan's workers) and of the server is recorded beside it. Each result is
   checked: the repair plan holds exactly the incident's changes in site finance, the digests
   differ where the tables do, and the hand-made diff saw every changed item.
   dynalite runs each case three times (`--repetitions`), moto_server once
   (`--moto-repetitions`): there every case takes one to two minutes, the server's own cost.
2. Memory, on the first engine that runs (dynalite unless it is skipped: the probes measure the
   client, and moto_server would take many minutes per probe), in a fresh process per
   measurement (bench/probe.py), at 5,000 and 50,000 items per
   table (`--memory-sizes` adds sizes in between), for both operations and, for contrast, the
   raw paginator: peak RSS growth per item from the first size to the last (the kernel's
   high-water mark, reset before the operation; probe.py says why not plain ru_maxrss). These
   tables are identical copies written in different orders, so the digests must match and the
   diff must be empty.

Prints the figures as Markdown tables, per engine and then the targets side by side, and writes
them to reports/benchmarks.json. Where node is missing, dynalite is skipped and says so. Only
127.0.0.1 is contacted, with fake credentials.
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
    botocore_parsing,
    check_drill_digests,
    check_line_diff,
    check_repair_plan,
    handmade_script,
    lean_raw_scan,
    raw_scan,
    run_drill_digest,
    run_handmade,
    run_repair_compare,
    site_filter,
)
from bench.data import SITE, Incident, TablePair, seed_pair
from bench.exports import markdown as export_markdown
from bench.exports import run_export_bench
from bench.report import (
    CaseFigures,
    MemoryFigures,
    Sample,
    Target,
    cases_table,
    memory_table,
    side_by_side_table,
    targets_table,
)
from bench.server import (
    DynaliteUnavailableError,
    Server,
    dynalite_server,
    dynamodb_client,
    installed_dynalite_version,
    moto_server,
    offline_environment,
    venv_tool,
)
from formkiq_backup.dr.tables import PARALLEL_SEGMENTS

ROOT = Path(__file__).resolve().parent.parent
JQ_DEFAULT = "/usr/bin/jq"
CEILING_RATIO = 1.0
BEYOND_CEILING_RATIO = 2.0
HANDMADE_SPEEDUP = 1.5
ENGINES = ("dynalite", "moto")
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
    """Its CPU is that of child processes (the hand-made script, the parallel scan's workers)."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_case(case: Case, server: Server) -> tuple[Sample, int]:
    """Run `case` once; its wall time, CPU times, and what its check returned."""
    server_before = server.cpu_seconds()
    cpu_before = _children_cpu() + time.process_time()
    started = time.perf_counter()
    result = case.run()
    seconds = time.perf_counter() - started
    cpu = _children_cpu() + time.process_time() - cpu_before
    server_after = server.cpu_seconds()
    server_cpu = (
        None if server_before is None or server_after is None else server_after - server_before
    )
    return Sample(seconds, cpu, server_cpu), case.check(result)


def build_cases(server: Server, pair: TablePair, jq: str | None, workdir: Path) -> list[Case]:
    """The cases of bench/cases.py, bound to the benchmark's tables.

    Each case has its own client, so the lean response path one case registers on its client
    cannot reach another's.
    """
    clients = {name: dynamodb_client(server.endpoint) for name in CASE_NAMES}
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

    def with_botocore_parsing(run: Callable[[], Any]) -> Callable[[], Any]:
        def parsed_by_botocore() -> Any:
            with botocore_parsing():
                return run()

        return parsed_by_botocore

    both = pair.reference_count + pair.live_count
    site_items = pair.site_items + pair.site_items - len(pair.expected_put)
    site_items += len(pair.expected_delete)
    cases = [
        Case(
            "ceiling",
            "boto3 paginated scan of both tables, nothing else",
            lambda: raw_scan(clients["ceiling"], tables),
            check_count(both),
        ),
        Case(
            "ceiling-site",
            f"the same with repair's FilterExpression for site {SITE}",
            lambda: raw_scan(clients["ceiling-site"], tables, site),
            check_count(site_items),
        ),
        Case(
            "ceiling-lean",
            "the unfiltered scan with the lean response path, nothing else",
            lambda: lean_raw_scan(clients["ceiling-lean"], tables),
            check_count(both),
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
            lambda: run_repair_compare(clients["repair"], pair),
            check_repair,
        ),
        Case(
            "repair-botocore",
            "the same, botocore parsing every response (lean path off)",
            with_botocore_parsing(lambda: run_repair_compare(clients["repair-botocore"], pair)),
            check_repair,
        ),
        Case(
            "repair-one-reader",
            "the same, each table one scan with one request in flight (READ_SEGMENTS = 1)",
            lambda: run_repair_compare(clients["repair-one-reader"], pair, read_segments=1),
            check_repair,
        ),
        Case(
            "repair-workers",
            "compare_tables, each table in a worker process of its own (their CPU is not "
            "counted: the fork server starts them)",
            lambda: run_repair_compare(clients["repair-workers"], pair, in_workers=True),
            check_repair,
            subprocess=True,
        ),
        Case(
            "drill",
            "ours: digest_tables (integrity check), one process",
            lambda: run_drill_digest(clients["drill"], pair),
            check_drill,
        ),
        Case(
            "drill-botocore",
            "the same, botocore parsing every response (lean path off)",
            with_botocore_parsing(lambda: run_drill_digest(clients["drill-botocore"], pair)),
            check_drill,
        ),
        Case(
            "drill-parallel",
            f"digest_tables, {PARALLEL_SEGMENTS} scan segments in worker processes (their CPU "
            "is not counted: the fork server starts them)",
            lambda: run_drill_digest(clients["drill-parallel"], pair, PARALLEL_SEGMENTS),
            check_drill,
            subprocess=True,
        ),
    ]
    return cases


CASE_NAMES = (
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
)


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


TARGET_PLAN = (
    # (comparison, ours, baseline, minimum, judged)
    (
        "repair vs raw read ceiling (same filtered scans)",
        "repair",
        "ceiling-site",
        CEILING_RATIO,
        True,
    ),
    ("drill vs raw read ceiling", "drill", "ceiling", CEILING_RATIO, True),
    (
        "repair vs hand-made (as specified: full scans)",
        "repair",
        "hand-made",
        HANDMADE_SPEEDUP,
        True,
    ),
    ("drill vs hand-made", "drill", "hand-made", HANDMADE_SPEEDUP, True),
    ("repair, beyond the ceiling", "repair", "ceiling-site", BEYOND_CEILING_RATIO, True),
    (
        "repair, beyond the ceiling (worker processes)",
        "repair-workers",
        "ceiling-site",
        BEYOND_CEILING_RATIO,
        True,
    ),
    ("drill, beyond the ceiling (one process)", "drill", "ceiling", BEYOND_CEILING_RATIO, True),
    (
        "drill, beyond the ceiling (parallel scan)",
        "drill-parallel",
        "ceiling",
        BEYOND_CEILING_RATIO,
        True,
    ),
    (
        "repair vs hand-made with the same site filter",
        "repair",
        "hand-made-site",
        HANDMADE_SPEEDUP,
        False,
    ),
    ("lean path alone: ceiling-lean vs ceiling", "ceiling-lean", "ceiling", 1.0, False),
    ("lean path in repair: repair vs repair-botocore", "repair", "repair-botocore", 1.0, False),
    ("lean path in drill: drill vs drill-botocore", "drill", "drill-botocore", 1.0, False),
    ("parallel scan: drill-parallel vs drill", "drill-parallel", "drill", 1.0, False),
    (
        "segments at once: repair vs repair-one-reader",
        "repair",
        "repair-one-reader",
        1.0,
        False,
    ),
    ("worker processes: repair-workers vs repair", "repair-workers", "repair", 1.0, False),
)


def targets(figures: Sequence[CaseFigures]) -> list[Target]:
    """Judged comparisons first; informational ones show what each idea gave on its own."""
    by_name = {case.name: case for case in figures}
    found = []
    for name, ours, baseline, minimum, judged in TARGET_PLAN:
        if ours not in by_name or baseline not in by_name:
            continue
        value = by_name[baseline].median_seconds / by_name[ours].median_seconds
        found.append(Target(name, ours, baseline, minimum, judged, value))
    return found


MEMORY_OPERATIONS = ("compare", "digest", "compare-botocore", "digest-botocore", "ceiling")
"""Ours, ours with botocore's parsing (as before the lean path), then the raw paginator for
contrast: what boto3 itself leaves in memory."""


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
            judged=operation in ("compare", "digest"),
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
        "node": _tool_version(["node", "--version"]) if shutil.which("node") else None,
        "dynalite": installed_dynalite_version(),
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
    parser.add_argument(
        "--repetitions", type=int, default=3, help="runs of each speed case on dynalite"
    )
    parser.add_argument(
        "--moto-repetitions",
        type=int,
        default=1,
        help="runs of each speed case on moto_server (each takes one to two minutes there)",
    )
    parser.add_argument(
        "--memory-sizes",
        type=int,
        nargs="+",
        default=(5_000, 50_000),
        metavar="ITEMS",
        help="items per table of the memory measurements; the slope is first to last",
    )
    parser.add_argument(
        "--skip-memory",
        action="store_true",
        help="speed cases only (else the memory probes run on the first engine that runs)",
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=ENGINES,
        default=list(ENGINES),
        help="DynamoDB engines to measure on, in this order",
    )
    parser.add_argument(
        "--export-items",
        type=int,
        nargs="+",
        default=[1_000_000],
        metavar="ITEMS",
        help="items per export of the export path (bench/exports.py); 5000000 where time allows",
    )
    parser.add_argument(
        "--export-memory-limit", default="1GB", help="DuckDB's memory limit in the export path"
    )
    parser.add_argument("--skip-exports", action="store_true", help="the scan path only")
    parser.add_argument(
        "--only-exports", action="store_true", help="the export path only (no DynamoDB engine)"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "benchmarks.json")
    args = parser.parse_args(argv)
    if args.skip_exports and args.only_exports:
        parser.error("--skip-exports and --only-exports: give one")
    if len(args.memory_sizes) < 2 or list(args.memory_sizes) != sorted(set(args.memory_sizes)):
        parser.error("--memory-sizes: two or more sizes, ascending")
    return args


def repetitions_on(engine: str, args: argparse.Namespace) -> int:
    """moto_server spends one to two minutes on each case by itself: one run of each by default."""
    return int(args.moto_repetitions if engine == "moto" else args.repetitions)


@dataclass
class EngineRun:
    """Everything measured on one engine."""

    engine: str
    pair: TablePair
    cases: list[CaseFigures]
    memory: list[MemoryFigures]
    seeding_seconds: float
    seconds: float

    def as_json(self, incident: Incident, repetitions: int) -> dict[str, Any]:
        return {
            "dataset": dataset(self.pair, incident),
            "repetitions": repetitions,
            "cases": {case.name: case.as_json() for case in self.cases},
            "targets": [target.as_json() for target in targets(self.cases)],
            "memory": [figures.as_json() for figures in self.memory],
            "seedingSeconds": round(self.seeding_seconds, 1),
            "totalSeconds": round(self.seconds, 1),
        }


def run_engine(
    server: Server,
    args: argparse.Namespace,
    jq: str | None,
    incident: Incident,
    *,
    probe_memory: bool,
) -> EngineRun:
    """Seed, time every case, then (`probe_memory`) the memory probes, on one running engine."""
    started = time.perf_counter()
    log(f"{server.engine} at {server.endpoint} (pid {server.pid})")
    dynamodb = dynamodb_client(server.endpoint)
    # dynalite has no backups: its tables are created without PITR.
    pitr = server.engine != "dynalite"
    log(f"seeding 2 x {args.items:,} items, then the incident")
    seeding = time.perf_counter()
    pair = seed_pair(dynamodb, f"bench-{args.items}", args.items, incident=incident, pitr=pitr)
    seeding_seconds = time.perf_counter() - seeding
    log(f"seeded in {seeding_seconds:.0f} s")
    dynamodb.scan(TableName=pair.reference, Limit=1)  # load botocore's models
    cases = measure_speed(server, pair, jq, repetitions_on(server.engine, args))
    memory = []
    if probe_memory:
        # The server holds only the tables being measured: a smaller heap, shorter pauses.
        for table in (pair.reference, pair.live):
            dynamodb.delete_table(TableName=table)
        seeding = time.perf_counter()
        memory_pairs = []
        for size in args.memory_sizes:
            log(f"seeding 2 x {size:,} identical items for the memory probes")
            memory_pairs.append(seed_pair(dynamodb, f"memory-{size}", size, pitr=pitr))
        seeding_seconds += time.perf_counter() - seeding
        memory = measure_memory(server, memory_pairs)
    return EngineRun(
        server.engine, pair, cases, memory, seeding_seconds, time.perf_counter() - started
    )


def print_engine(run: EngineRun) -> None:
    """One engine's figures, printed as soon as it is done (a later engine may take long)."""
    print(f"## {run.engine}: speed, {run.pair.reference_count:,} + {run.pair.live_count:,} items\n")
    print(cases_table(run.cases) + "\n")
    print(targets_table(targets(run.cases)) + "\n")
    if run.memory:
        print(f"## {run.engine}: memory, peak RSS growth (VmHWM, reset), fresh process each\n")
        print(memory_table(run.memory) + "\n")
    print(f"{run.engine}: seeding {run.seeding_seconds:.0f} s, in all {run.seconds:.0f} s.\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    os.environ.update(offline_environment())
    jq = find_jq()
    incident = Incident()
    runs: list[EngineRun] = []
    skipped: dict[str, str] = {}
    for engine in [] if args.only_exports else args.engines:
        log_path = args.output.parent / f"{engine}.log"
        starting = dynalite_server(log_path) if engine == "dynalite" else moto_server(log_path)
        try:
            with starting as server:
                # The probes measure the client: once, on the first engine (dynalite: seconds
                # where moto_server takes many minutes for the same tables).
                probe_memory = not args.skip_memory and not runs
                runs.append(run_engine(server, args, jq, incident, probe_memory=probe_memory))
                print_engine(runs[-1])
        except DynaliteUnavailableError as missing:
            log(f"dynalite skipped: {missing}")
            skipped[engine] = str(missing)
    if not runs and not args.only_exports:
        raise SystemExit("no engine could run: " + "; ".join(skipped.values()))
    exports = None
    if not args.skip_exports:
        exports = run_export_bench(
            args.export_items, args.export_memory_limit, args.output.parent / "moto-exports.log"
        )
        print("## The export path: DuckDB against the in-process compare of the same items\n")
        print(export_markdown(exports) + "\n")
    total = time.perf_counter() - started
    if runs:
        print("## Targets, engines side by side\n")
        print(side_by_side_table({run.engine: targets(run.cases) for run in runs}) + "\n")
    if jq is None:
        print("Hand-made pipeline (b) skipped: jq not found.\n")
    for engine, reason in skipped.items():
        print(f"{engine} skipped: {reason}\n")
    print(f"Whole run {total:.0f} s.")
    report = {
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench",
        "machine": machine(jq),
        "parallelSegments": PARALLEL_SEGMENTS,
        "engines": {
            run.engine: run.as_json(incident, repetitions_on(run.engine, args)) for run in runs
        },
        "skippedEngines": skipped,
        "handmadeSkipped": jq is None,
        "exports": exports,
        "loadAverageAtEnd": os.getloadavg(),
        "totalSeconds": round(total, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    log(f"figures written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
