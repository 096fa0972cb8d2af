"""Item-level differences between a reference table (a restore) and a live table.

One scan of each table, in any order. The reference side goes into a temporary SQLite file
(stdlib, bounded page cache), the live side is streamed against it, so memory stays flat however
large the tables are: only the hashing of one item at a time happens in Python. Past one
machine the same join runs in Athena over two DynamoDB exports (see docs/benchmarks.md).
"""

import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from formkiq_backup.items import Item, canonical, content_hash, from_canonical, key_hash, key_of

_BATCH = 1_000
# SQLite's page cache for the reference table: the one memory cost that does not grow with it.
_CACHE_KIB = 4_096


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
    """Collects a reference table and compares a live table against it."""

    def __init__(self, key_attributes: Sequence[str], directory: Path | None = None) -> None:
        self.key_attributes = tuple(key_attributes)
        self._directory = Path(tempfile.mkdtemp(prefix="formkiq-dr-diff-", dir=directory))
        self._db = sqlite3.connect(self._directory / "diff.sqlite3")
        self._db.executescript(
            f"""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA temp_store = FILE;
            PRAGMA cache_size = -{_CACHE_KIB};
            CREATE TABLE reference (kh INTEGER, key BLOB, ch BLOB, item BLOB, seen INTEGER);
            CREATE TABLE changes (action TEXT, key BLOB, wanted BLOB, found BLOB);
            """
        )
        self._indexed = False
        self._finished = False
        self.reference_count = 0
        self.live_count = 0

    def add_reference(self, items: Iterable[Item]) -> int:
        """Store reference items (a restored table); returns how many were added."""
        batch: list[tuple[int, bytes, bytes, bytes]] = []
        added = 0
        for item in items:
            key = canonical(key_of(item, self.key_attributes))
            body = canonical(item)
            batch.append((key_hash(key), key, content_hash(body), body))
            if len(batch) >= _BATCH:
                added += self._insert_reference(batch)
        added += self._insert_reference(batch)
        self.reference_count += added
        return added

    def _insert_reference(self, batch: list[tuple[int, bytes, bytes, bytes]]) -> int:
        self._db.executemany(
            "INSERT INTO reference (kh, key, ch, item, seen) VALUES (?, ?, ?, ?, 0)", batch
        )
        count = len(batch)
        batch.clear()
        return count

    def compare_live(self, items: Iterable[Item]) -> int:
        """Stream live items against the reference, recording every difference."""
        if not self._indexed:
            self._db.execute("CREATE INDEX reference_by_key ON reference (kh)")
            self._indexed = True
        seen: list[tuple[int]] = []
        changes: list[tuple[str, bytes, bytes | None, bytes | None]] = []
        compared = 0
        lookup = self._db.cursor()
        for item in items:
            compared += 1
            key = canonical(key_of(item, self.key_attributes))
            body = canonical(item)
            match = None
            for rowid, stored_key, stored_hash, stored_item in lookup.execute(
                "SELECT rowid, key, ch, item FROM reference WHERE kh = ?", (key_hash(key),)
            ):
                if stored_key == key:  # a 64-bit hash may collide; the key decides
                    match = (rowid, stored_hash, stored_item)
                    break
            if match is None:
                changes.append((Action.DELETE.value, key, None, body))
            else:
                rowid, stored_hash, stored_item = match
                seen.append((rowid,))
                if stored_hash != content_hash(body):
                    changes.append((Action.OVERWRITE.value, key, stored_item, body))
            if len(seen) >= _BATCH or len(changes) >= _BATCH:
                self._flush(seen, changes)
        self._flush(seen, changes)
        self.live_count += compared
        return compared

    def _flush(
        self, seen: list[tuple[int]], changes: list[tuple[str, bytes, bytes | None, bytes | None]]
    ) -> None:
        self._db.executemany("UPDATE reference SET seen = 1 WHERE rowid = ?", seen)
        self._db.executemany("INSERT INTO changes VALUES (?, ?, ?, ?)", changes)
        seen.clear()
        changes.clear()

    def finish(self) -> dict[Action, int]:
        """Record reference items the live table lacks; returns the count per action."""
        if self._finished:
            return self.counts()
        self._finished = True
        self._db.execute(
            "INSERT INTO changes SELECT ?, key, item, NULL FROM reference WHERE seen = 0",
            (Action.PUT.value,),
        )
        return self.counts()

    def counts(self) -> dict[Action, int]:
        found = dict(self._db.execute("SELECT action, COUNT(*) FROM changes GROUP BY action"))
        return {action: int(found.get(action.value, 0)) for action in Action}

    def changes(self, action: Action | None = None) -> Iterator[Change]:
        """Recorded changes, streamed from disk, in a stable order (by action, then key)."""
        query = "SELECT action, key, wanted, found FROM changes"
        parameters: tuple[str, ...] = ()
        if action is not None:
            query += " WHERE action = ?"
            parameters = (action.value,)
        for name, key, wanted, found in self._db.execute(
            query + " ORDER BY action, key", parameters
        ):
            yield Change(
                action=Action(name),
                key=from_canonical(key),
                wanted=from_canonical(wanted) if wanted is not None else None,
                found=from_canonical(found) if found is not None else None,
            )

    def close(self) -> None:
        """Remove the temporary database."""
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
