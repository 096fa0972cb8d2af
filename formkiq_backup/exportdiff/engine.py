"""What an engine hands back: the diff's candidates and the item counts in scope."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from formkiq_backup.exportdiff.manifest import Export
from formkiq_backup.exportdiff.sql import Scope

Candidate = tuple[str, str | None, str | None]
"""(action, reference line, live line): see formkiq_backup.exportdiff.sql."""


@dataclass
class Candidates:
    """The candidates of a diff, streamed (page by page, or in batches) once."""

    rows: Iterator[Candidate]
    reference_count: int
    """Items of the reference in scope."""
    live_count: int | None = None
    """Items of the live side in scope, when the engine counted them (else derived)."""
    details: dict[str, object] = field(default_factory=dict)
    """What the engine wants reported: files read, bytes, seconds per step."""


class Engine(Protocol):
    """A query engine able to diff two exports already checked against their manifests."""

    name: str

    def diff(
        self, reference: Export, live: Export, keys: tuple[str, ...], scope: Scope
    ) -> Candidates: ...

    def close(self) -> None: ...


class EngineError(RuntimeError):
    """The engine could not compute the diff (a query that failed or was cancelled)."""
