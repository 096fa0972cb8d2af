"""What a command found or did: a readable summary, a JSON document and a Markdown report."""

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

if TYPE_CHECKING:
    pass


def readable_time(moment: str | datetime | None) -> str:
    """A time (ISO text or datetime) as a reader wants it in a summary: UTC, to the second."""
    if moment is None:
        return "unknown"
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pitr_detail(observed: str, window: Mapping[str, str]) -> str:
    """A PITR finding with its restorable window (earliestRestorable, latestRestorable)."""
    if not window:
        return observed
    earliest = readable_time(window.get("earliestRestorable"))
    return f"{observed}; restorable {earliest} to {readable_time(window.get('latestRestorable'))}"


class Status(StrEnum):
    """One line's verdict; a FAIL makes the command fail (exit 1)."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


class Outcome(StrEnum):
    """How a command ended, in one word a script can test (the JSON's `outcome`).

    A scope or an input that selects nothing is not success: it is most often a mistyped
    prefix, the wrong file or an empty export, so it has an exit code of its own. A scope whose
    items are all as wanted already is success (a repair run twice finds nothing to repair).
    """

    DONE = "done"
    """Checks passed, or the work was done."""
    PLANNED = "planned"
    """A dry run whose plan has changes; nothing was written."""
    UNCHANGED = "unchanged"
    """What the scope selected is as wanted already: nothing to change."""
    NOTHING_MATCHED = "nothing-matched"
    """The scope or the input selected nothing at all: no object, item or user."""
    FAILED = "failed"
    """A check failed, a change met conflicts, or the work stopped on an error."""
    SETUP_ERROR = "setup-error"
    """A usage or access error (an endpoint that cannot be reached included)."""


def scope_outcome(*, matched: bool, changes: bool, apply: bool) -> Outcome:
    """How a command that plans changes over a scope ends: a scope that selected nothing is
    nothing matched; one with nothing to change is unchanged; otherwise the changes are done,
    or (a dry run) planned."""
    if not matched:
        return Outcome.NOTHING_MATCHED
    if not changes:
        return Outcome.UNCHANGED
    return Outcome.DONE if apply else Outcome.PLANNED


# Exit codes: healthy or done; a check failed (or the work did); usage or access error;
# nothing matched.
EXIT_OK, EXIT_FAILED, EXIT_SETUP, EXIT_NOTHING_MATCHED = 0, 1, 2, 3
EXIT_CODES = {
    Outcome.DONE: EXIT_OK,
    Outcome.PLANNED: EXIT_OK,
    Outcome.UNCHANGED: EXIT_OK,
    Outcome.NOTHING_MATCHED: EXIT_NOTHING_MATCHED,
    Outcome.FAILED: EXIT_FAILED,
    Outcome.SETUP_ERROR: EXIT_SETUP,
}
# The heading's verdict (rich markup) and the Markdown report's, for each outcome.
_VERDICT = {
    Outcome.DONE: ("[green]OK[/]", "passed"),
    Outcome.PLANNED: ("[green]OK[/] (dry run: nothing written)", "planned, nothing written"),
    Outcome.UNCHANGED: ("[green]OK[/] (nothing to change)", "passed, nothing to change"),
    Outcome.NOTHING_MATCHED: ("[bold yellow]NOTHING MATCHED[/]", "NOTHING MATCHED"),
    Outcome.FAILED: ("[bold red]FAILED[/]", "FAILED"),
    Outcome.SETUP_ERROR: ("[bold red]FAILED[/]", "FAILED"),
}


class ResourceState(StrEnum):
    """What became of something a command created or changed (`formkiq_backup.dr.ledger`)."""

    NOT_REACHED = "not-reached"
    """Planned; the command ended before it was started: left as it was."""
    REQUESTED = "requested"
    """Asked for, and no answer came: it may or may not have been made."""
    REFUSED = "refused"
    """Asked for, and AWS refused: nothing was made."""
    DONE = "done"
    """Made, and kept: the command's result."""
    REMOVED = "removed"
    """Temporary, and gone again."""
    LEFT_BEHIND = "left-behind"
    """Temporary, and still there (or may be): to delete by hand."""


@dataclass
class Resource:
    """Something a command created or changed in AWS, and its state."""

    kind: str
    name: str
    state: ResourceState
    temporary: bool = False
    arn: str | None = None


# Where an entry's detail starts, below its status and subject.
_INDENT = 8
_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.WARN: "yellow", Status.INFO: "dim"}


@dataclass
class Entry:
    """One check or step, about one subject (a table, a bucket, a vault, a document)."""

    section: str
    subject: str
    status: Status
    detail: str
    seconds: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    resource: Resource | None = None
    """Set when the entry is the account of something created or changed (its ledger record)."""


@dataclass
class Report:
    """Everything a command reports. Its `outcome`, `exit_code` and `ok` come from the same
    facts, so the heading, the JSON and the exit code cannot disagree.

    Its `ledger` tracks what the command creates or changes; each record is one of its entries.
    """

    command: str
    app_environment: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None
    entries: list[Entry] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    error_code: int = EXIT_OK
    """EXIT_FAILED or EXIT_SETUP once the command stopped on an error (`summary["error"]`)."""
    result: Outcome = Outcome.DONE
    """What the command concluded (`conclude`), unless it failed."""

    def __post_init__(self) -> None:
        from formkiq_backup.dr.ledger import Ledger  # the ledger writes into this report

        self.ledger: Ledger = Ledger(self)

    def add(
        self,
        section: str,
        subject: str,
        status: Status,
        detail: str,
        seconds: float | None = None,
        **data: Any,
    ) -> Entry:
        entry = Entry(
            section, subject, status, detail, None if seconds is None else round(seconds, 3), data
        )
        self.entries.append(entry)
        return entry

    def conclude(self, outcome: Outcome) -> None:
        """What the work amounted to: done, planned, unchanged or nothing matched."""
        if outcome in (Outcome.FAILED, Outcome.SETUP_ERROR):
            raise ValueError(f"{outcome} comes from a failed entry or `stop`, not `conclude`")
        self.result = outcome

    def stop(self, error: str, code: int) -> None:
        """The command ended on an error: whatever its entries say, it did not succeed."""
        if code not in (EXIT_FAILED, EXIT_SETUP):
            raise ValueError(f"an error ends with exit code 1 or 2, not {code}")
        self.summary["error"] = error
        self.error_code = code

    @property
    def error(self) -> str | None:
        return self.summary.get("error") if self.error_code != EXIT_OK else None

    @property
    def outcome(self) -> Outcome:
        """An error, then a failed entry, then what the command concluded."""
        if self.error_code == EXIT_SETUP:
            return Outcome.SETUP_ERROR
        if self.error_code == EXIT_FAILED:
            return Outcome.FAILED
        if any(entry.status is Status.FAIL for entry in self.entries):
            return Outcome.FAILED
        return self.result

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    @property
    def exit_code(self) -> int:
        """0 done (or planned, or nothing to change), 1 failed, 2 usage or access error,
        3 nothing matched."""
        return EXIT_CODES[self.outcome]

    @property
    def resources(self) -> list[dict[str, Any]]:
        """Everything the command created or changed, with what became of it."""
        return [
            asdict(entry.resource) | {"section": entry.section, "detail": entry.detail}
            for entry in self.entries
            if entry.resource is not None
        ]

    def finish(self) -> "Report":
        self.finished = datetime.now(UTC)
        return self

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report (`--json`)."""
        return {
            "command": self.command,
            "app_environment": self.app_environment,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "entries": [asdict(entry) for entry in self.entries],
            "resources": self.resources,
            "summary": self.summary,
            "outcome": self.outcome.value,
            "ok": self.ok,
            "exitCode": self.exit_code,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "Report":
        """A report read back from its JSON (the demo prints a child's report so)."""
        report = cls(
            command=document.get("command", "?"),
            app_environment=document.get("app_environment", ""),
            summary=dict(document.get("summary", {})),
        )
        for entry in document.get("entries", []):
            resource = entry.get("resource")
            report.entries.append(
                Entry(
                    entry["section"],
                    entry["subject"],
                    Status(entry["status"]),
                    entry["detail"],
                    entry.get("seconds"),
                    entry.get("data", {}),
                    None
                    if resource is None
                    else Resource(**resource | {"state": ResourceState(resource["state"])}),
                )
            )
        if "error" in report.summary:
            report.error_code = (
                EXIT_SETUP if document.get("exitCode") == EXIT_SETUP else EXIT_FAILED
            )
        concluded = document.get("outcome", Outcome.DONE.value)
        if concluded in (Outcome.PLANNED, Outcome.UNCHANGED, Outcome.NOTHING_MATCHED):
            report.result = Outcome(concluded)
        return report

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=str)

    def render(self, console: Console) -> None:
        """The readable summary."""
        verdict = _VERDICT[self.outcome][0]
        console.print(
            f"[bold]formkiq-dr {self.command}[/] for FormKiQ "
            f"[bold]{escape(self.app_environment or '?')}[/]: {verdict}"
        )
        if self.error is not None:
            line = Text("  ")
            line.append("error", style="bold red")
            line.append(f"  {self.error}")
            console.print(line, overflow="fold")
        # One entry a line, its detail indented below: readable at any terminal width, since
        # subjects are long names (tables, buckets, ARNs) that a column would cut.
        section = None
        for entry in self.entries:
            if entry.section != section:
                section = entry.section
                console.print(Text(section, style="bold"))
            line = Text("  ")
            line.append(f"{entry.status.value:<4}", style=_STYLE[entry.status])
            line.append(f"  {entry.subject}")
            if entry.seconds is not None:
                line.append(f"  ({entry.seconds:.1f}s)")
            console.print(line, overflow="fold")
            width = max(console.width - _INDENT, 20)
            for wrapped in Text(entry.detail).wrap(console, width, overflow="fold"):
                wrapped.rstrip()
                console.print(Text(" " * _INDENT) + wrapped)
        for key, value in self.summary.items():
            if key != "error" and isinstance(value, str | int | float):
                console.print(Text(f"  {key}: {value}"), overflow="fold")

    def to_markdown(self) -> str:
        """A report to keep (drills): what ran, what it found, how long each step took."""
        lines = [
            f"# formkiq-dr {self.command}: FormKiQ {self.app_environment}",
            "",
            f"- Result: **{_VERDICT[self.outcome][1]}** (exit code {self.exit_code})",
            f"- Outcome: {self.outcome.value}",
            f"- Started: {self.started.isoformat()}",
            f"- Finished: {self.finished.isoformat() if self.finished else '-'}",
        ]
        lines += [
            f"- {key}: {value}"
            for key, value in self.summary.items()
            if isinstance(value, str | int | float)
        ]
        lines += ["", "| section | subject | status | detail | seconds |", "|---|---|---|---|---|"]
        for entry in self.entries:
            detail = entry.detail.replace("|", "\\|")
            seconds = "" if entry.seconds is None else f"{entry.seconds:.3f}"
            lines.append(
                f"| {entry.section} | {entry.subject} | {entry.status.value} | "
                f"{detail} | {seconds} |"
            )
        return "\n".join(lines) + "\n"
