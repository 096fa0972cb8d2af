"""What a command found or did: a readable summary, a JSON document and a Markdown report."""

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.text import Text


class Status(StrEnum):
    """One line's verdict; only FAIL makes a command exit 1."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


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


@dataclass
class Report:
    """Everything a command reports; `ok` decides its exit code."""

    command: str
    app_environment: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None
    entries: list[Entry] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

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

    @property
    def ok(self) -> bool:
        return not any(entry.status is Status.FAIL for entry in self.entries)

    def finish(self) -> "Report":
        self.finished = datetime.now(UTC)
        return self

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report (`--json`)."""
        document = asdict(self)
        document["ok"] = self.ok
        document["started"] = self.started.isoformat()
        document["finished"] = self.finished.isoformat() if self.finished else None
        return document

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=str)

    def render(self, console: Console) -> None:
        """The readable summary."""
        verdict = "[green]OK[/]" if self.ok else "[bold red]FAILED[/]"
        console.print(
            f"[bold]formkiq-dr {self.command}[/] for FormKiQ "
            f"[bold]{self.app_environment}[/]: {verdict}"
        )
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
            if isinstance(value, str | int | float):
                console.print(f"  {key}: {value}")

    def to_markdown(self) -> str:
        """A report to keep (drills): what ran, what it found, how long each step took."""
        lines = [
            f"# formkiq-dr {self.command}: FormKiQ {self.app_environment}",
            "",
            f"- Result: **{'passed' if self.ok else 'FAILED'}**",
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
