"""What a command found or did: a readable summary, a JSON document and a Markdown report."""

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text


class Status(StrEnum):
    """One line's verdict; a FAIL makes the command fail (exit 1)."""

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


# Exit codes: healthy or done; a check failed (or the work did); usage or access error.
EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


@dataclass
class Report:
    """Everything a command reports. Its `exit_code` and `ok` come from the same facts, so the
    heading, the JSON and the exit code cannot disagree."""

    command: str
    app_environment: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None
    entries: list[Entry] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    error_code: int = EXIT_OK
    """EXIT_FAILED or EXIT_SETUP once the command stopped on an error (`summary["error"]`)."""

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
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    @property
    def exit_code(self) -> int:
        """2 usage or access error, 1 an error or a failed check, 0 healthy or done."""
        if self.error_code != EXIT_OK:
            return self.error_code
        failed = any(entry.status is Status.FAIL for entry in self.entries)
        return EXIT_FAILED if failed else EXIT_OK

    def finish(self) -> "Report":
        self.finished = datetime.now(UTC)
        return self

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report (`--json`)."""
        document = asdict(self)
        del document["error_code"]
        document["ok"] = self.ok
        document["exitCode"] = self.exit_code
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
            f"- Result: **{'passed' if self.ok else 'FAILED'}** (exit code {self.exit_code})",
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
