"""From an engine's candidates to the `TableDiff` a scan-based repair makes, and the checks
that two exports can be compared at all.

The engine compares lines as text; every pair whose text differs is stored, as wire-form items,
into the two sides of a `formkiq_backup.tablediff.TableDiff`, whose join compares canonical
forms (formkiq_backup.items.canonical: set order, attribute order, binary). So a pair of lines
that differ only in how DynamoDB wrote them drops out there, exactly as it would in a repair
that scanned both tables: the two diffs agree by construction, not by a second implementation.
"""

import gzip
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from formkiq_backup.exportdiff.engine import Candidate, Candidates, Engine
from formkiq_backup.exportdiff.manifest import (
    Export,
    ExportCheckError,
    check_line_counts,
    download,
)
from formkiq_backup.exportdiff.sql import ACTION_DELETE, ACTION_PUT, Scope
from formkiq_backup.items import Item, from_canonical
from formkiq_backup.sites import site_member
from formkiq_backup.tablediff import TableDiff, store_side


class ExportMismatchError(ValueError):
    """Two exports that cannot be compared (another table, the wrong order, a gap)."""


def check_pair(reference: Export, live: Export) -> None:
    """`live` must show the same table at the same time or later than `reference`; an
    incremental `live` must start no later than the reference's time (else changes made in
    between would be missing)."""
    if reference.incremental:
        raise ExportMismatchError(
            f"{reference.describe()}: the reference must be a full export (an incremental one "
            "holds only the items changed in its window)"
        )
    if live.table_arn != reference.table_arn:
        raise ExportMismatchError(
            f"{live.describe()} is of table {live.table_arn}, the reference "
            f"{reference.describe()} of {reference.table_arn}: give exports of one table"
        )
    if live.state_time < reference.export_time:
        raise ExportMismatchError(
            f"{live.describe()} is older than the reference {reference.describe()}: give the "
            "earlier state as the reference (--from) and the later one as the live side"
        )
    if live.incremental and (
        live.export_from_time is None or live.export_from_time > reference.export_time
    ):
        raise ExportMismatchError(
            f"{live.describe()} starts at {live.export_from_time}, after the reference's "
            f"{reference.export_time}: the changes in between are in no export; give an "
            "incremental export that starts at or before the reference's time"
        )


def item_of_line(line: str | bytes, image: str) -> Item:
    """The wire-form item (binary values as bytes) of an export line's `image`.

    An export writes an item exactly as the canonical form does (binary as base64, sets as
    lists), so `from_canonical` restores it whatever its attribute order.
    """
    return from_canonical(orjson.dumps(orjson.loads(line)[image]))


@dataclass(frozen=True)
class _Spooled:
    """Candidates written to a file once, to be read once per side."""

    path: Path
    puts: int
    deletes: int

    def side(self, column: int, image: str) -> Iterator[Item]:
        with gzip.open(self.path, "rb") as spooled:
            for row in spooled:
                line = orjson.loads(row)[column]
                if line is not None:
                    yield item_of_line(line, image)


def _spool(rows: Iterable[Candidate], path: Path) -> _Spooled:
    puts = deletes = 0
    with gzip.open(path, "wb", compresslevel=1) as spooled:
        for action, reference_line, live_line in rows:
            puts += action == ACTION_PUT
            deletes += action == ACTION_DELETE
            spooled.write(orjson.dumps([reference_line, live_line]) + b"\n")
    return _Spooled(path, puts, deletes)


def diff_exports(
    engine: Engine,
    reference: Export,
    live: Export,
    keys: Sequence[str],
    *,
    site: str | None,
    directory: Path | None = None,
) -> tuple[TableDiff, dict[str, object]]:
    """The diff repair would make between the two exports' tables (one site's items, or all),
    and what the engine reports of its work. The caller closes the diff.
    """
    check_pair(reference, live)
    candidates: Candidates = engine.diff(reference, live, tuple(keys), Scope(site))
    diff = TableDiff(keys, directory)
    try:
        spooled = _spool(candidates.rows, diff.side_path("reference").with_name("candidates.gz"))
        live_image = "NewImage" if live.incremental else "Item"
        store_side(diff.side_path("reference"), spooled.side(0, "Item"), keys)
        store_side(diff.side_path("live"), spooled.side(1, live_image), keys)
        spooled.path.unlink()
        live_count = candidates.live_count
        if live_count is None:  # an incremental: the reference, less deletions, plus creations
            live_count = candidates.reference_count - spooled.puts + spooled.deletes
        diff.collect_stored(candidates.reference_count, live_count)
    except BaseException:
        diff.close()
        raise
    return diff, candidates.details


def export_items(
    s3: Any, export: Export, site: str | None, *, directory: Path, workers: int = 8
) -> Iterator[Item]:
    """A full export's items (one site's, or all), read in this process from its files,
    each file's MD5 and line count checked; for comparing an export with a live table."""
    if export.incremental:
        raise ExportMismatchError(f"{export.describe()}: a full export is needed here")
    keep: Callable[[Item], bool] | None = site_member(site) if site else None
    fetched = download(s3, export, directory, workers=workers)
    counted: dict[str, int] = {}
    for path, file in fetched:
        lines = 0
        with gzip.open(path, "rb") as data:
            for line in data:
                if not line.strip():
                    continue
                lines += 1
                item = item_of_line(line, "Item")
                if keep is None or keep(item):
                    yield item
        counted[file.key] = lines
        path.unlink()
    check_line_counts(export, counted)


__all__ = [
    "ExportCheckError",
    "ExportMismatchError",
    "check_pair",
    "diff_exports",
    "export_items",
    "item_of_line",
]
