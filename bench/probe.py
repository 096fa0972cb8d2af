"""Memory probe: one operation in a fresh process, its peak RSS growth printed as JSON.

`python -m bench.probe --endpoint URL --reference T --live T --operation compare|digest|ceiling`

Everything is imported and the client created first, then a small warm-up scan (one page of 25
items) loads botocore's models and opens the connection. The baseline is taken at that point,
the peak after the operation, and growth = peak - baseline. A fresh process per measurement
means no earlier run's peak hides this one.

Peak means the kernel's high-water mark of this process's resident set, VmHWM in
/proc/self/status, reset to the current resident set just before the operation (`5` written to
/proc/self/clear_refs, Linux 4.0+). Plain `getrusage(RUSAGE_SELF).ru_maxrss` would not do: Linux
carries the parent's peak into a child's ru_maxrss at exec (signal->maxrss is set from the old
memory map), so a probe started by the benchmark, which held every seeded item, starts with the
benchmark's peak as its own and shows no growth until it exceeds it. The ru_maxrss figures are
reported beside (`ruMaxrss*`) to show this.

`compare-botocore` and `digest-botocore` are the same with the lean response path switched
off: what both held before it.

`compare` is formkiq_backup.dr.repair.compare_tables over the whole table (site None): every
item of both tables passes through the diff, the most memory a repair can ask for. `digest`
is formkiq_backup.dr.drill.digest_tables. `ceiling` is the raw paginator of bench/cases.py over
both tables, for contrast: what reading alone costs.
"""

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.cases import botocore_parsing, raw_scan
from bench.data import KEYS
from bench.server import dynamodb_client
from formkiq_backup.dr.drill import digest_tables
from formkiq_backup.dr.repair import compare_tables

STATUS = Path("/proc/self/status")
OPERATIONS = ("compare", "digest", "ceiling", "compare-botocore", "digest-botocore")
BOTOCORE_SUFFIX = "-botocore"
"""`<operation>-botocore`: the same with botocore parsing every response (lean path off)."""


def _ru_maxrss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _status_kib(field: str) -> int:
    """A `Vm*` line of /proc/self/status, in KiB."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    """Lower the high-water mark to the current resident set, where Linux allows it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _run(dynamodb: Any, reference: str, live: str, operation: str) -> dict[str, Any]:
    if operation.endswith(BOTOCORE_SUFFIX):
        with botocore_parsing():
            return _run(dynamodb, reference, live, operation.removesuffix(BOTOCORE_SUFFIX))
    if operation == "compare":
        with compare_tables(dynamodb, reference, live, KEYS, site=None) as diff:
            return {
                "referenceCount": diff.reference_count,
                "liveCount": diff.live_count,
                "changes": {action.value: count for action, count in diff.counts().items()},
            }
    if operation == "digest":
        source, restored = digest_tables(dynamodb, live, reference)
        return {
            "liveCount": source.count,
            "referenceCount": restored.count,
            "liveDigest": source.hexdigest,
            "referenceDigest": restored.hexdigest,
        }
    if operation == "ceiling":
        return {
            "liveCount": raw_scan(dynamodb, [live]),
            "referenceCount": raw_scan(dynamodb, [reference]),
        }
    raise ValueError(f"unknown operation {operation!r}")


def measure(endpoint: str, reference: str, live: str, operation: str) -> dict[str, Any]:
    """Run `operation` once on the two tables; returns its peak RSS growth and results."""
    dynamodb = dynamodb_client(endpoint)
    dynamodb.scan(TableName=reference, Limit=25)
    gc.collect()
    ru_baseline = _ru_maxrss_kib()
    startup_peak = _status_kib("VmHWM")
    reset = _reset_peak()
    baseline = _status_kib("VmHWM")
    started = time.perf_counter()
    result = _run(dynamodb, reference, live, operation)
    seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM")
    ru_peak = _ru_maxrss_kib()
    return {
        "operation": operation,
        "peakReset": reset,
        "startupPeakKiB": startup_peak,
        "baselineKiB": baseline,
        "peakKiB": peak,
        "growthKiB": peak - baseline,
        "ruMaxrssBaselineKiB": ru_baseline,
        "ruMaxrssPeakKiB": ru_peak,
        "ruMaxrssGrowthKiB": ru_peak - ru_baseline,
        "seconds": seconds,
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--live", required=True)
    parser.add_argument("--operation", choices=OPERATIONS, required=True)
    args = parser.parse_args(argv)
    if not args.endpoint.startswith("http://127.0.0.1:"):
        parser.error("the probe only talks to a moto_server on 127.0.0.1")
    print(json.dumps(measure(args.endpoint, args.reference, args.live, args.operation)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
