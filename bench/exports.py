"""The export path beside the scan path: the diff of two DynamoDB exports, by DuckDB and by
today's in-process compare of the same items, with peak memory and the read capacity a scan
would have consumed instead.

`python -m bench.exports` (also part of `make bench`, see bench/run.py) writes two exports of
a FormKiQ-shaped Documents table (bench/data.py's items, streamed: nothing holds the table) in
DynamoDB's documented layout ("DynamoDB table export output format": manifest-summary.json,
manifest-files.json, gzipped `{"Item": ...}` lines in data/), a reference and a live export
after a 1 % incident (half the changed items overwritten, a quarter deleted, a quarter as many
created), into a moto_server on 127.0.0.1 it starts. Then, each case in a fresh process
(`python -m bench.exports probe ...`) with its peak RSS measured as bench/probe.py does:

- `duckdb`: formkiq_backup.exportdiff.diff.diff_exports with the DuckDB engine at a memory
  limit (the command's whole work: download with MD5 checks, line counts, the join, the
  canonical compare of the candidates);
- `duckdb-<limit>`: the same at a smaller limit, to show memory follows the limit;
- `in-process`: the same downloads, every line parsed in Python and both sides put through
  formkiq_backup.tablediff.TableDiff (what repair does with scanned items).

Each result is checked against the incident (puts, overwrites, deletes). Read capacity: what
two Scans of the same items would consume (eventually consistent: half a read unit per 4 KB,
"Read consumption" in the DynamoDB developer guide), against none for an export ("Exporting a
table does not consume read capacity on the table", "DynamoDB data export to Amazon S3: how it
works").
"""

import argparse
import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.data import SITE_WEIGHTS, TAG_KEYS, document_item, item_bytes, tag
from bench.probe import _reset_peak, _status_kib
from bench.server import moto_server, offline_environment
from formkiq_backup.exportdiff.diff import diff_exports, item_of_line
from formkiq_backup.exportdiff.duckdb_engine import DuckDbEngine
from formkiq_backup.exportdiff.manifest import ExportLocation, download, read_export
from formkiq_backup.items import Item
from formkiq_backup.offline.seed import api_key_item
from formkiq_backup.tablediff import TableDiff

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "formkiq-bench-exports-123456789012"
TABLE = "formkiq-core-bench-documents"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"
PREFIX = f"dynamodb/{TABLE}/"
KEYS = ("PK", "SK")
FILES_PER_EXPORT = 8
INCIDENT_EVERY = 100
"""One item in this many is changed by the incident (1 %)."""
SPEEDUP_TARGET = 3.0
CASES = ("duckdb", "duckdb-small", "in-process")


@dataclass
class ExportPair:
    """The two exports written, and what a correct diff of them finds."""

    reference: str
    live: str
    items: int
    live_items: int
    puts: int
    overwrites: int
    deletes: int
    item_bytes: int
    compressed_bytes: int


def stream_items(count: int, seed: int) -> Iterator[Item]:
    """`count` FormKiQ-shaped items, as bench.data.generate_items makes them, one at a time."""
    rng = random.Random(seed)
    sites, weights = list(SITE_WEIGHTS), list(SITE_WEIGHTS.values())
    made = 0
    for site in sites:
        if made < count:
            made += 1
            yield api_key_item(site, f"{rng.getrandbits(64):016x}")
    number = 0
    while made < count:
        site = rng.choices(sites, weights)[0]
        document_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        number += 1
        made += 1
        yield document_item(rng, site, document_id, number)
        for tag_key in rng.sample(TAG_KEYS, rng.randint(1, 3)):
            if made >= count:
                return
            made += 1
            yield tag(rng, site, document_id, tag_key)


class _ExportWriter:
    """One export's data files, dealt round-robin, and its manifests, under `directory`."""

    def __init__(self, directory: Path, export_id: str) -> None:
        self.root = f"{PREFIX}AWSDynamoDB/{export_id}/"
        self.folder = directory / self.root
        (self.folder / "data").mkdir(parents=True)
        self.paths = [self.folder / "data" / f"{n:05d}.json.gz" for n in range(FILES_PER_EXPORT)]
        # Open for the writer's life, closed by `finish`: one file per slot, items dealt in turn.
        self.files = [gzip.open(path, "wb", compresslevel=6) for path in self.paths]  # noqa: SIM115
        self.counts = [0] * FILES_PER_EXPORT
        self.written = 0

    def write(self, item: Item) -> None:
        slot = self.written % FILES_PER_EXPORT
        self.files[slot].write(orjson.dumps({"Item": item}) + b"\n")
        self.counts[slot] += 1
        self.written += 1

    def finish(self, export_time: datetime) -> int:
        """Close the files, write both manifests; returns the compressed size."""
        entries, size = [], 0
        for path, handle, count in zip(self.paths, self.files, self.counts, strict=True):
            handle.close()
            body = path.read_bytes()
            size += len(body)
            digest = hashlib.md5(body, usedforsecurity=False)
            entries.append(
                {
                    "itemCount": count,
                    "md5Checksum": _b64(digest.digest()),
                    "etag": digest.hexdigest(),
                    "dataFileS3Key": f"{self.root}data/{path.name}",
                }
            )
        (self.folder / "manifest-files.json").write_text(
            "".join(json.dumps(entry) + "\n" for entry in entries)
        )
        summary = {
            "version": "2020-06-30",
            "exportArn": f"{TABLE_ARN}/export/{self.root.split('/')[-2]}",
            "tableArn": TABLE_ARN,
            "exportTime": export_time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "s3Bucket": BUCKET,
            "s3Prefix": PREFIX,
            "manifestFilesS3Key": f"{self.root}manifest-files.json",
            "itemCount": self.written,
            "outputFormat": "DYNAMODB_JSON",
        }
        (self.folder / "manifest-summary.json").write_text(json.dumps(summary))
        return size


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def _overwritten(item: Item, rng: random.Random) -> Item:
    changed = dict(item)
    name = "path" if "path" in item else "tagValue" if "tagValue" in item else "name"
    changed[name] = {"S": f"overwritten-{rng.getrandbits(32):08x}"}
    return changed


def write_exports(directory: Path, count: int, seed: int = 2026) -> ExportPair:
    """The reference export of `count` items and the live export after the incident."""
    t0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    reference, live = (
        _ExportWriter(directory, "01000000000000-ref"),
        _ExportWriter(directory, "01000000360000-live"),
    )
    rng = random.Random(seed + 1)
    puts = overwrites = size = 0
    for number, item in enumerate(stream_items(count, seed)):
        reference.write(item)
        size += item_bytes(item)
        if number % INCIDENT_EVERY != INCIDENT_EVERY // 2:
            live.write(item)
        elif number % (4 * INCIDENT_EVERY) < 2 * INCIDENT_EVERY:
            overwrites += 1
            live.write(_overwritten(item, rng))
        else:
            puts += 1  # deleted from live: a repair puts it back
    deletes = max(1, count // (4 * INCIDENT_EVERY))
    for number in range(deletes):  # created since: a repair keeps (or deletes) them
        live.write(document_item(rng, "finance", str(uuid.UUID(int=rng.getrandbits(128))), number))
    compressed = reference.finish(t0) + live.finish(t0 + timedelta(hours=1))
    return ExportPair(
        reference=f"s3://{BUCKET}/{reference.root}",
        live=f"s3://{BUCKET}/{live.root}",
        items=count,
        live_items=live.written,
        puts=puts,
        overwrites=overwrites,
        deletes=deletes,
        item_bytes=size,
        compressed_bytes=compressed,
    )


def upload(s3: Any, directory: Path) -> None:
    """Every file under `directory` into the bucket, at its relative key (single PUTs, so
    each object's ETag is its MD5, as the manifest says)."""
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            s3.put_object(
                Bucket=BUCKET, Key=str(path.relative_to(directory)), Body=path.read_bytes()
            )


# --- one case, in a fresh process -----------------------------------------------------------


def _run_case(s3: Any, case: str, pair: dict[str, Any], memory_limit: str) -> dict[str, Any]:
    reference, live = (
        read_export(s3, ExportLocation.parse(pair[side])) for side in ("reference", "live")
    )
    with tempfile.TemporaryDirectory(prefix="formkiq-bench-") as work:
        if case.startswith("duckdb"):
            with DuckDbEngine(s3, memory_limit=memory_limit, directory=Path(work)) as engine:
                diff, details = diff_exports(engine, reference, live, KEYS, site=None)
        else:
            started = time.perf_counter()
            paths = {
                side: download(s3, export, Path(work) / side)
                for side, export in (("reference", reference), ("live", live))
            }
            details = {"seconds": {"download": round(time.perf_counter() - started, 3)}}

            def items(side: str) -> Iterator[Item]:
                for path, _ in paths[side]:
                    with gzip.open(path, "rb") as lines:
                        for line in lines:
                            yield item_of_line(line, "Item")

            diff = TableDiff(KEYS, Path(work))
            diff.collect(items("reference"), items("live"))
        with diff:
            counts = {action.value: count for action, count in diff.counts().items()}
            return {
                "counts": counts,
                "referenceCount": diff.reference_count,
                "liveCount": diff.live_count,
                "details": details,
            }


def probe(endpoint: str, case: str, pair: dict[str, Any], memory_limit: str) -> dict[str, Any]:
    """One case, its wall time and peak RSS growth (VmHWM reset just before: bench/probe.py)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.head_bucket(Bucket=BUCKET)
    reset = _reset_peak()
    baseline = _status_kib("VmHWM")
    started = time.perf_counter()
    cpu = time.process_time()
    result = _run_case(s3, case, pair, memory_limit)
    return {
        "case": case,
        "memoryLimit": memory_limit if case.startswith("duckdb") else None,
        "seconds": round(time.perf_counter() - started, 3),
        "cpuSeconds": round(time.process_time() - cpu, 3),
        "peakGrowthKiB": _status_kib("VmHWM") - baseline,
        "peakReset": reset,
        **result,
    }


# --- the whole export bench ------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _limits(memory_limit: str) -> dict[str, str]:
    small = os.environ.get("FORMKIQ_BENCH_SMALL_LIMIT", "256MB")
    return {"duckdb": memory_limit, "duckdb-small": small, "in-process": memory_limit}


def run_export_bench(
    counts: Sequence[int], memory_limit: str, log_path: Path, repetitions: int = 1
) -> dict[str, Any]:
    """Every case at every size, against one moto_server; the figures as JSON."""
    import boto3

    results: dict[str, Any] = {"sizes": {}, "memoryLimit": memory_limit}
    with moto_server(log_path) as server:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1")
        for count in counts:
            with tempfile.TemporaryDirectory(prefix="formkiq-bench-exports-") as work:
                started = time.perf_counter()
                _log(f"exports: writing 2 exports of {count:,} items")
                pair = write_exports(Path(work), count)
                upload(s3, Path(work))
                written = time.perf_counter() - started
            size = pair.compressed_bytes / 2**20
            _log(f"  written and uploaded in {written:.0f} s ({size:.0f} MiB compressed)")
            figures: dict[str, Any] = {
                "pair": asdict(pair),
                "writeSeconds": round(written, 1),
                "cases": {},
                "loadBefore": os.getloadavg(),
            }
            for case in CASES:
                for repetition in range(repetitions):
                    _log(f"exports: {case} at {count:,} items ({repetition + 1}/{repetitions})")
                    found = _probe_process(
                        server.endpoint, case, asdict(pair), _limits(memory_limit)[case]
                    )
                    _check(found, pair)
                    _log(
                        f"  {found['seconds']:.1f} s, peak +{found['peakGrowthKiB'] / 1024:.0f} MiB"
                    )
                    figures["cases"].setdefault(case, []).append(found)
            figures["readCapacity"] = read_capacity(pair)
            figures["loadAfter"] = os.getloadavg()
            results["sizes"][str(count)] = figures
            for prefix in ("dynamodb/",):
                _empty(s3, prefix)
    return results


def _empty(s3: Any, prefix: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=entry["Key"])


def _probe_process(endpoint: str, case: str, pair: dict[str, Any], limit: str) -> dict[str, Any]:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.exports",
            "probe",
            "--endpoint",
            endpoint,
            "--case",
            case,
            "--pair",
            json.dumps(pair),
            "--memory-limit",
            limit,
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=offline_environment(),
    )
    if completed.returncode != 0:  # say why, not only that it failed
        raise RuntimeError(f"{case} at {limit} failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(completed.stdout))


def _check(found: dict[str, Any], pair: ExportPair) -> None:
    expected = {"put": pair.puts, "overwrite": pair.overwrites, "delete": pair.deletes}
    if found["counts"] != expected:
        raise AssertionError(f"{found['case']}: {found['counts']}, expected {expected}")
    if (found["referenceCount"], found["liveCount"]) != (pair.items, pair.live_items):
        raise AssertionError(
            f"{found['case']}: counted {found['referenceCount']}, {found['liveCount']}"
        )


def read_capacity(pair: ExportPair) -> dict[str, Any]:
    """Read units two eventually consistent Scans of the same items would consume (half a unit
    per 4 KB read, summed over 1 MB pages, so the rounding is negligible), against none."""
    scanned = pair.item_bytes + pair.item_bytes * pair.live_items // pair.items
    return {
        "scanReadUnits": round(scanned / 4096 * 0.5),
        "exportReadUnits": 0,
        "tableBytesBothSides": scanned,
        "exportedGiB": round(scanned / 2**30, 3),
    }


def markdown(results: dict[str, Any]) -> str:
    """The figures as a Markdown table, per size, and the targets."""
    lines = [
        "| items | case | memory limit | seconds | CPU s | peak RSS growth | vs in-process |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    verdicts = []
    for count, figures in results["sizes"].items():
        load = ", ".join(f"{value:.2f}" for value in figures["loadBefore"])
        verdicts.append(f"{int(count):,} items: load average before the cases {load}")
        medians = {case: _median(runs, "seconds") for case, runs in figures["cases"].items()}
        for case, runs in figures["cases"].items():
            ratio = medians["in-process"] / medians[case]
            lines.append(
                f"| {int(count):,} | `{case}` | {runs[0]['memoryLimit'] or '-'} | "
                f"{medians[case]:.1f} | {_median(runs, 'cpuSeconds'):.1f} | "
                f"{max(run['peakGrowthKiB'] for run in runs) / 1024:.0f} MiB | {ratio:.2f}x |"
            )
        speedup = medians["in-process"] / medians["duckdb"]
        verdicts.append(
            f"{int(count):,} items: DuckDB {speedup:.2f}x the in-process compare (target "
            f">= {SPEEDUP_TARGET:.0f}x): {'PASS' if speedup >= SPEEDUP_TARGET else 'MISS'}; "
            f"read units a scan of both would consume: {figures['readCapacity']['scanReadUnits']:,}"
            ", an export: 0"
        )
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {verdict}" for verdict in verdicts)


def _median(runs: Sequence[dict[str, Any]], key: str) -> float:
    import statistics

    return float(statistics.median(run[key] for run in runs))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("probe", help="one case in this process (the harness runs it)")
    one.add_argument("--endpoint", required=True)
    one.add_argument("--case", choices=CASES, required=True)
    one.add_argument("--pair", required=True)
    one.add_argument("--memory-limit", default="1GB")
    whole = sub.add_parser("run", help="every case (as make bench does)")
    whole.add_argument("--items", type=int, nargs="+", default=[1_000_000])
    whole.add_argument("--memory-limit", default="1GB")
    whole.add_argument("--repetitions", type=int, default=1)
    whole.add_argument("--output", type=Path, default=ROOT / "reports" / "benchmarks-exports.json")
    args = parser.parse_args(argv)
    if args.command == "probe":
        if not args.endpoint.startswith("http://127.0.0.1:"):
            parser.error("the probe only talks to a moto_server on 127.0.0.1")
        print(json.dumps(probe(args.endpoint, args.case, json.loads(args.pair), args.memory_limit)))
        return 0
    if args.command != "run":
        parser.error("give probe or run")
    os.environ.update(offline_environment())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    results = run_export_bench(
        args.items, args.memory_limit, args.output.parent / "moto-exports.log", args.repetitions
    )
    print(markdown(results))
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
