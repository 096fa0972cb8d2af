"""Item-level differences between a reference table (a restore) and a live table.

One scan of each table, one after the other: each side's canonical keys and items go to its own
temporary SQLite file (stdlib, small page cache), so neither table is held in memory. The
differences are then one SQL join of the two files: the same join Athena runs over two DynamoDB
exports when a table outgrows one machine (docs/benchmarks.md). Each scan keeps its next pages
requested while this one is stored (formkiq_backup.dr.tables.scan, in segments); the two tables
are not scanned at once in two threads on purpose: measured, that tripled peak memory and made
it grow with the table without making an emulated scan any faster.
"""

import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from formkiq_backup.items import Item, canonical, from_canonical, key_of

_BATCH = 1_000
# SQLite's page cache per connection. Small on purpose: a cache that small tables never fill
# but large ones do would grow memory with the table (the rest of the pages stay on disk).
_CACHE_KIB = 1_024
SIDES = ("reference", "live")


class Action(StrEnum):
    """What repairing the live table to match the reference needs for one item."""

    PUT = "put"
    """In the reference, missing from the live table: write it back."""
    OVERWRITE = "overwrite"
    """In both, different: write the reference version over the live one."""
    DELETE = "delete"
    """Only in the live table (created after the reference point): remove it."""


@dataclass(frozen=True)
class Change:
    """One item to change, with both versions as they were read."""

    action: Action
    key: Item
    wanted: Item | None
    """The reference version (None for DELETE)."""
    found: Item | None
    """The live version as scanned (None for PUT); writes are conditional on it."""


class TableDiff:
    """Collects both tables and joins them; use as a context manager."""

    def __init__(self, key_attributes: Sequence[str], directory: Path | None = None) -> None:
        self.key_attributes = tuple(key_attributes)
        self._directory = Path(tempfile.mkdtemp(prefix="formkiq-dr-diff-", dir=directory))
        self._db: sqlite3.Connection | None = None
        self.reference_count = 0
        self.live_count = 0

    def collect(self, reference: Iterable[Item], live: Iterable[Item]) -> dict[Action, int]:
        """Read both sides, then record every difference; returns counts per action."""
        keys = self.key_attributes
        self.reference_count = store_side(self.side_path("reference"), reference, keys)
        self.live_count = store_side(self.side_path("live"), live, keys)
        return self._join()

    def side_path(self, side: str) -> Path:
        """Where a side ("reference" or "live") is stored, for `store_side` to write it
        elsewhere (a worker process) before `collect_stored`."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, not {side!r}")
        return self._directory / f"{side}.sqlite3"

    def collect_stored(self, reference_count: int, live_count: int) -> dict[Action, int]:
        """Record every difference between the two sides `store_side` wrote to `side_path`."""
        self.reference_count, self.live_count = reference_count, live_count
        return self._join()

    def _join(self) -> dict[Action, int]:
        db = self._db = _open(self.side_path("reference"))
        db.execute("ATTACH DATABASE ? AS live", (str(self.side_path("live")),))
        db.executescript(
            """
            CREATE TABLE changes (action TEXT, key BLOB, wanted BLOB, found BLOB);
            -- Canonical forms are equal exactly when the items are: keys and items are compared
            -- as they are stored, byte for byte (memcmp in SQLite, no hash to collide).
            INSERT INTO changes
              SELECT 'overwrite', r.key, r.item, l.item FROM main.items r
              JOIN live.items l ON l.key = r.key WHERE l.item != r.item;
            INSERT INTO changes
              SELECT 'delete', l.key, NULL, l.item FROM live.items l
              WHERE NOT EXISTS (SELECT 1 FROM main.items r WHERE r.key = l.key);
            INSERT INTO changes
              SELECT 'put', r.key, r.item, NULL FROM main.items r
              WHERE NOT EXISTS (SELECT 1 FROM live.items l WHERE l.key = r.key);
            """
        )
        return self.counts()

    def counts(self) -> dict[Action, int]:
        found = dict(self._joined().execute("SELECT action, COUNT(*) FROM changes GROUP BY action"))
        return {action: int(found.get(action.value, 0)) for action in Action}

    def changes(self) -> Iterator[Change]:
        """Recorded changes, streamed from disk, in a stable order (by action, then key)."""
        rows = self._joined().execute(
            "SELECT action, key, wanted, found FROM changes ORDER BY action, key"
        )
        for name, key, wanted, found in rows:
            yield Change(
                action=Action(name),
                key=from_canonical(key),
                wanted=from_canonical(wanted) if wanted is not None else None,
                found=from_canonical(found) if found is not None else None,
            )

    def _joined(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("collect() both tables first")
        return self._db

    def close(self) -> None:
        """Remove the temporary databases."""
        if self._db is not None:
            self._db.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> "TableDiff":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def store_side(path: Path, items: Iterable[Item], key_attributes: Sequence[str]) -> int:
    """One side of a diff into its own database file; returns the item count.

    Each row is the canonical key and the canonical item, indexed by key once all are in
    (one sort, cheaper than keeping an index up to date row by row).
    """
    db = _open(path)
    db.execute("CREATE TABLE items (key BLOB, item BLOB)")
    batch: list[tuple[bytes, bytes]] = []
    count = 0
    try:
        for item in items:
            batch.append((canonical(key_of(item, key_attributes)), canonical(item)))
            if len(batch) >= _BATCH:
                count += _insert(db, batch)
        count += _insert(db, batch)
        db.execute("CREATE INDEX items_by_key ON items (key)")
        db.commit()
    finally:
        db.close()
    return count


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript(
        f"""
        PRAGMA journal_mode = OFF;
        PRAGMA synchronous = OFF;
        PRAGMA temp_store = FILE;
        PRAGMA cache_size = -{_CACHE_KIB};
        """
    )
    return db


def _insert(db: sqlite3.Connection, batch: list[tuple[bytes, bytes]]) -> int:
    db.executemany("INSERT INTO items VALUES (?, ?)", batch)
    count = len(batch)
    batch.clear()
    return count
