"""The timed cases: the raw read ceiling, the hand-made pipeline, and formkiq-dr's own phases.

Every case reads the same two tables (a reference copy and the live table) once each:

- `ceiling`: a boto3 low-level paginator over both tables, default 1 MB pages, no filter; the
  items are counted and dropped. The most a client can read through this server.
- `ceiling-site`: the same with the FilterExpression `repair --site finance` sends, so the same
  requests as the repair, minus everything it does with what comes back.
- `hand-made`: `aws dynamodb scan` of each table (the CLI paginates itself), `jq -S -c
  '.Items[]'`, `sort`, then `diff`, as one bash script in a subprocess.
- `hand-made-site`: the same, with the site's FilterExpression passed to `aws dynamodb scan`.
- `ceiling-lean`: the unfiltered paginator with the lean response path of
  formkiq_backup.dr.tables.lean_scans (items taken from the body before botocore's shape walk):
  what reading costs once parsing is cheap.
- `repair`: formkiq_backup.dr.repair.compare_tables(..., site="finance"), the compare phase of
  `formkiq-dr repair --site finance` (restore aside, as `repair --from-table` runs it).
- `drill`: formkiq_backup.dr.drill.digest_tables, the integrity check of `formkiq-dr drill`
  (as `drill --from-table` runs it on tables of this size: one process).
- `repair-botocore`, `drill-botocore`: the same with botocore's own response parsing (the lean
  path switched off), what both did before it.
- `drill-parallel`: digest_tables with each table read as a parallel scan, one worker process per
  segment (what `drill` does on tables of PARALLEL_MIN_ITEMS items or more).
- `repair-one-reader`: compare_tables with each table read as one scan, one request in flight
  (READ_SEGMENTS = 1), what repair did before it read two segments at once.
- `repair-workers`: compare_tables with each table read by a worker process of its own, which
  writes its side of the diff (what `repair` does on tables of PARALLEL_MIN_ITEMS or more).

Each returns what it found, so the run can check it found the right thing.
"""

import json
import os
import shlex
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import KEYS, SITE, TablePair
from formkiq_backup.dr import tables
from formkiq_backup.dr.drill import digest_tables
from formkiq_backup.dr.repair import compare_tables
from formkiq_backup.items import TableDigest, canonical
from formkiq_backup.sites import site_filter_expression
from formkiq_backup.tablediff import Action


def site_filter() -> dict[str, Any]:
    """The Scan parameters `repair --site finance` filters with (server-side)."""
    expression = site_filter_expression(SITE)
    assert expression is not None, "a non-default site is filtered server-side"
    return expression


def raw_scan(
    dynamodb: Any, tables: Sequence[str], filter_expression: Mapping[str, Any] | None = None
) -> int:
    """Paginated scans of `tables`, doing nothing with the items; returns how many came back."""
    returned = 0
    paginator = dynamodb.get_paginator("scan")
    for table in tables:
        for page in paginator.paginate(TableName=table, **(filter_expression or {})):
            returned += len(page["Items"])
    return returned


def lean_raw_scan(dynamodb: Any, tables_read: Sequence[str]) -> int:
    """`raw_scan` with the lean response path on `dynamodb` (keep that client for this case)."""
    return raw_scan(tables.lean_scans(dynamodb), tables_read)


@contextmanager
def botocore_parsing() -> Iterator[None]:
    """Within the block, formkiq-dr's scans leave every response to botocore's parser."""
    lean = tables.lean_scans
    tables.lean_scans = lambda dynamodb: dynamodb
    try:
        yield
    finally:
        tables.lean_scans = lean


@dataclass(frozen=True)
class LineDiff:
    """What `diff` printed: lines only in the reference (<) and only in the live table (>)."""

    removed: int
    added: int
    items: int = 0
    """Lines jq wrote for both tables: one per item."""


def handmade_script(
    aws: str,
    jq: str,
    endpoint: str,
    pair: TablePair,
    workdir: Path,
    *,
    filter_expression: Mapping[str, Any] | None = None,
) -> str:
    """The bash script someone would write by hand to diff the two tables."""
    options = ""
    if filter_expression:
        options = " ".join(
            (
                "--filter-expression",
                shlex.quote(str(filter_expression["FilterExpression"])),
                "--expression-attribute-names",
                shlex.quote(json.dumps(filter_expression["ExpressionAttributeNames"])),
                "--expression-attribute-values",
                shlex.quote(json.dumps(filter_expression["ExpressionAttributeValues"])),
            )
        )
    lines = ["set -eu -o pipefail", f"cd {shlex.quote(str(workdir))}"]
    for table, output in ((pair.reference, "reference.txt"), (pair.live, "live.txt")):
        lines.append(
            f"{shlex.quote(aws)} dynamodb scan --table-name {shlex.quote(table)} "
            f"--endpoint-url {shlex.quote(endpoint)} --output json {options}"
            f" | {shlex.quote(jq)} -S -c '.Items[]' | LC_ALL=C sort > {output}"
        )
    # diff exits 1 when the files differ: that is the expected outcome, not a failure.
    lines.append("status=0; diff reference.txt live.txt > changes.diff || status=$?")
    lines.append('[ "$status" -le 1 ]')
    return "\n".join(lines) + "\n"


def run_handmade(script: str, workdir: Path, environment: Mapping[str, str]) -> LineDiff:
    """Run the hand-made script; returns the shape of the diff it wrote.

    The script runs in its own process group: stopped (SIGTERM, an error), the whole pipeline
    goes with it, not only bash, so no `aws` is left scanning a server that is gone.
    """
    process = subprocess.Popen(
        ["bash", "-c", script], env=dict(environment), start_new_session=True
    )
    try:
        status = process.wait()
    except BaseException:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
        raise
    if status != 0:
        raise subprocess.CalledProcessError(status, "hand-made script")
    removed = added = 0
    with (workdir / "changes.diff").open() as changes:
        for line in changes:
            if line.startswith("< "):
                removed += 1
            elif line.startswith("> "):
                added += 1
    items = 0
    for name in ("reference.txt", "live.txt"):
        with (workdir / name).open() as lines:
            items += sum(1 for _ in lines)
    return LineDiff(removed, added, items)


@dataclass(frozen=True)
class RepairPlan:
    """What compare_tables found, per action, as canonical keys."""

    reference_count: int
    live_count: int
    keys: dict[Action, set[bytes]]


def run_repair_compare(
    dynamodb: Any,
    pair: TablePair,
    site: str | None = SITE,
    *,
    in_workers: bool = False,
    read_segments: int = tables.READ_SEGMENTS,
) -> RepairPlan:
    """compare_tables as `repair --site` calls it, then the plan read back and closed.

    The caller times this whole function: reading the (few) changes back is part of it, as
    repair lists them in its plan.
    """
    with compare_tables(
        dynamodb,
        pair.reference,
        pair.live,
        KEYS,
        site=site,
        in_workers=in_workers,
        read_segments=read_segments,
    ) as diff:
        keys: dict[Action, set[bytes]] = {action: set() for action in Action}
        for change in diff.changes():
            keys[change.action].add(canonical(change.key))
        return RepairPlan(diff.reference_count, diff.live_count, keys)


def run_drill_digest(
    dynamodb: Any, pair: TablePair, segments: int = 1
) -> tuple[TableDigest, TableDigest]:
    """digest_tables as drill calls it: the source (live) table, then the restored copy."""
    return digest_tables(dynamodb, pair.live, pair.reference, segments=segments)


def check_repair_plan(plan: RepairPlan, pair: TablePair) -> None:
    """The plan holds exactly the incident's changes in site finance, nothing else."""
    expected = {
        Action.PUT: pair.expected_put,
        Action.OVERWRITE: pair.expected_overwrite,
        Action.DELETE: pair.expected_delete,
    }
    for action, keys in expected.items():
        if plan.keys[action] != keys:
            raise AssertionError(
                f"repair found {len(plan.keys[action])} to {action.value}, expected {len(keys)}"
                f" ({len(plan.keys[action] - keys)} unexpected, {len(keys - plan.keys[action])}"
                " missed)"
            )


def check_drill_digests(source: TableDigest, restored: TableDigest, pair: TablePair) -> None:
    """Counts are right, and the digests differ exactly when the tables do."""
    if (source.count, restored.count) != (pair.live_count, pair.reference_count):
        raise AssertionError(
            f"drill counted {source.count} live and {restored.count} restored items, expected "
            f"{pair.live_count} and {pair.reference_count}"
        )
    identical = not (
        pair.expected_put
        or pair.expected_overwrite
        or pair.expected_delete
        or pair.changed_outside_site
    )
    if (source.hexdigest == restored.hexdigest) != identical:
        raise AssertionError(
            f"digests {source.hexdigest} and {restored.hexdigest} should "
            + ("match: the tables are identical" if identical else "differ: the tables differ")
        )


def check_line_diff(found: LineDiff, pair: TablePair, *, site_only: bool) -> None:
    """The hand-made diff saw every changed item: each overwrite is one line on each side."""
    outside = 0 if site_only else pair.changed_outside_site
    overwritten = len(pair.expected_overwrite) + outside
    expected = LineDiff(
        removed=overwritten + len(pair.expected_put),
        added=overwritten + len(pair.expected_delete),
    )
    if (found.removed, found.added) != (expected.removed, expected.added):
        raise AssertionError(f"hand-made diff found {found}, expected {expected}")
