"""What an engine hands back: the diff's candidates and the item counts in scope."""

from collections.abc import Callable, Iterator
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


class Made(Protocol):
    """Something an engine makes in AWS (an Athena table), as its caller accounts for it
    (formkiq_backup.dr.ledger.Record: recorded before it is asked for, removed however the
    command ends, listed as left behind when it could not be)."""

    def done(self, detail: str) -> None: ...

    def refused(self, detail: str) -> None: ...

    def remove(self) -> None: ...


Track = Callable[[str, Callable[[], bool]], Made]
"""Called with a name and how to remove it, before the call that makes it is sent."""


class Untracked:
    """What an engine makes when nobody accounts for it: removed at `close`, errors raised."""

    def __init__(self, name: str, remove: Callable[[], bool]) -> None:
        self.name, self._remove = name, remove

    def done(self, detail: str) -> None:
        pass

    def refused(self, detail: str) -> None:
        pass

    def remove(self) -> None:
        self._remove()
