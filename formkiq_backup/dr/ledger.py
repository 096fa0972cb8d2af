"""What a command creates or changes in AWS, tracked from the moment it is asked for.

Each thing is recorded before the call that makes it is sent: a call whose answer never came
(the endpoint went away, Ctrl-C, SIGTERM) may have succeeded on AWS's side all the same, so it
is listed as asked for, never forgotten. A plan's steps can be recorded before the first one
starts, so a run that stops part-way lists those it never reached. Temporary resources
(restored tables) carry how to remove them: `clean_up` removes them however the command ends
(`cli.execute` calls it last, whatever happened before), and lists what it could not remove as
left behind, with why and how to delete it by hand.

Every record is one report entry, updated as its state changes, so the summary, the Markdown
report and the JSON (`entries`, and `resources` for scripts) always say the same.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from formkiq_backup.dr.context import describe_error
from formkiq_backup.dr.report import Entry, Report, Resource, ResourceState, Status

Remover = Callable[[], bool]
"""Deletes a temporary resource: True once deleted, False when it was not there (never made).
Raises when it could not."""

_STATUS = {
    ResourceState.NOT_REACHED: Status.WARN,
    ResourceState.REQUESTED: Status.WARN,
    ResourceState.REFUSED: Status.FAIL,
    ResourceState.DONE: Status.PASS,
    ResourceState.REMOVED: Status.PASS,
    ResourceState.LEFT_BEHIND: Status.FAIL,
}
# Where a temporary resource still stands when the ledger is asked to remove it.
_TO_REMOVE = (ResourceState.REQUESTED, ResourceState.REFUSED, ResourceState.DONE)


class Record:
    """One thing a command makes or changes, as its report entry, kept up to date."""

    def __init__(self, entry: Entry, remove: Remover | None, by_hand: str | None) -> None:
        self.entry = entry
        self._remove = remove
        self._by_hand = by_hand

    @property
    def resource(self) -> Resource:
        assert self.entry.resource is not None  # set by the ledger, always
        return self.entry.resource

    @property
    def state(self) -> ResourceState:
        return self.resource.state

    @property
    def temporary(self) -> bool:
        return self.resource.temporary

    def _set(self, state: ResourceState, detail: str, status: Status | None = None) -> None:
        self.resource.state = state
        self.entry.detail = detail
        self.entry.status = status or _STATUS[state]

    def asked(self, detail: str) -> None:
        """A planned step starts: its call is about to be sent (`detail`: what is not yet known)."""
        self._set(ResourceState.REQUESTED, detail)

    def progress(self, detail: str) -> None:
        """Part of it is done (several calls make one change): the detail says which part."""
        self.entry.detail = detail

    def done(self, detail: str, *, status: Status | None = None, arn: str | None = None) -> None:
        """AWS answered: it is made (or changed). `status` for a verdict other than pass."""
        if arn is not None:
            self.resource.arn = arn
        self._set(ResourceState.DONE, detail, status)

    def refused(self, detail: str) -> None:
        """AWS answered with an error: nothing was made."""
        self._set(ResourceState.REFUSED, detail)

    @contextmanager
    def sending(self) -> Iterator["Record"]:
        """Around the call that makes it: an error answer from AWS is a refusal; any other way
        out (no answer, Ctrl-C) leaves it asked for, since it may have been made."""
        try:
            yield self
        except ClientError as error:
            self.refused(f"refused: {describe_error(error)}")
            raise

    def remove(self) -> None:
        """Delete a temporary resource; what it could not delete is left behind, with why."""
        assert self._remove is not None
        try:
            existed = self._remove()
        except KeyboardInterrupt:
            self.left_behind("its deletion was interrupted")
            raise
        except (ClientError, BotoCoreError) as error:
            self.left_behind(describe_error(error))
        except Exception as error:  # whatever it was, the resource is listed
            self.left_behind(f"{type(error).__name__}: {error}")
        else:
            if existed:
                self._set(ResourceState.REMOVED, "deleted on the way out")
            elif self.state is ResourceState.REFUSED:
                self.progress(f"{self.entry.detail}; nothing was made, nothing to delete")
            else:
                self._set(ResourceState.REMOVED, "not there: never made, nothing to delete")

    def left_behind(self, why: str) -> None:
        hint = f"; delete it yourself: {self._by_hand}" if self._by_hand else ""
        self._set(ResourceState.LEFT_BEHIND, f"left behind: {why}{hint}")


class Ledger:
    """Every record of one command run, in the order they were made (`Report.ledger`)."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self._records: list[Record] = []

    @property
    def records(self) -> list[Record]:
        return list(self._records)

    def plan(self, section: str, kind: str, name: str, detail: str) -> Record:
        """A step the command means to take: listed as not reached until it starts."""
        return self._record(section, kind, name, ResourceState.NOT_REACHED, detail)

    def ask(
        self,
        section: str,
        kind: str,
        name: str,
        detail: str,
        *,
        subject: str | None = None,
        remove: Remover | None = None,
        by_hand: str | None = None,
    ) -> Record:
        """Something about to be asked for (call it before sending): listed at once as asked
        for, with `detail` saying what is not yet known. With `remove` it is temporary:
        `clean_up` deletes it, and `by_hand` says how to when it cannot."""
        return self._record(
            section, kind, name, ResourceState.REQUESTED, detail, subject, remove, by_hand
        )

    def _record(  # noqa: PLR0917  # ask's arguments, passed on
        self,
        section: str,
        kind: str,
        name: str,
        state: ResourceState,
        detail: str,
        subject: str | None = None,
        remove: Remover | None = None,
        by_hand: str | None = None,
    ) -> Record:
        entry = self._report.add(section, subject or name, _STATUS[state], detail)
        entry.resource = Resource(kind, name, state, temporary=remove is not None)
        record = Record(entry, remove, by_hand)
        self._records.append(record)
        return record

    def discard(self, record: Record) -> None:
        """Forget a record AWS's answer shows was never this command's (a user that was there
        already): it made nothing, and the command counts such cases itself."""
        self._records.remove(record)
        self._report.entries.remove(record.entry)

    def clean_up(self, on_step: Callable[[str], None] | None = None) -> None:
        """Delete every temporary resource still there, newest first (`on_step` hears which).
        Another interrupt stops the deletions: what is left is listed as left behind, and the
        interrupt goes on."""
        pending = [
            record
            for record in reversed(self._records)
            if record.temporary and record.state in _TO_REMOVE
        ]
        for number, record in enumerate(pending):
            if on_step is not None:
                on_step(f"deleting {record.resource.kind} {record.resource.name}")
            try:
                record.remove()
            except KeyboardInterrupt:
                for rest in pending[number + 1 :]:
                    rest.left_behind("the deletions were interrupted")
                raise

    def account(self) -> str:
        """In one sentence, what the run made and what became of it (for an interrupted run)."""
        counts: dict[tuple[bool, ResourceState], int] = {}
        for record in self._records:
            key = (record.temporary, record.state)
            counts[key] = counts.get(key, 0) + 1
        kept = [
            (ResourceState.DONE, "made and kept"),
            (ResourceState.REQUESTED, "asked for without an answer (it may have been made)"),
            (ResourceState.REFUSED, "refused by AWS"),
            (ResourceState.NOT_REACHED, "not reached (left as they were)"),
        ]
        temporary = [
            (ResourceState.REMOVED, "deleted again"),
            (ResourceState.LEFT_BEHIND, "left behind"),
            (ResourceState.REQUESTED, "asked for without an answer"),
        ]
        parts = [f"{counts[False, s]} {what}" for s, what in kept if counts.get((False, s))]
        parts += [
            f"{counts[True, s]} temporary {what}" for s, what in temporary if counts.get((True, s))
        ]
        if not parts:
            return "nothing was created or changed before it stopped"
        return f"{', '.join(parts)}: each is listed with what became of it"
