"""`make demo`: the recovery tool against a FormKiQ in moto_server, incident included.

Starts moto_server on 127.0.0.1 (nothing else is reachable), seeds FormKiQ 1.19 (SSM names,
tables, two sites with documents, tags and versions, Cognito users and groups), then runs the
real `formkiq-dr` command as a user would: verify, snapshot, an incident in site `finance`
(during which a user adds a legitimate document), repair and restore-documents from the
snapshot, verify, a second repair plan proving nothing is left to repair but the user's
document (kept, never deleted by default), and a drill of the snapshot. Prints each report and
a summary in which every step must end as expected.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from formkiq_backup.console import output_console
from formkiq_backup.dr.report import Report
from formkiq_backup.offline.incident import break_site
from formkiq_backup.offline.samples import sample_formkiq
from formkiq_backup.offline.seed import seed_documents, seed_formkiq, seed_users

ACCOUNT = "123456789012"  # moto's account
APP_ENVIRONMENT = "prod"
SITES = {"default": 5, "finance": 8}


@contextmanager
def moto_server() -> Any:
    """moto_server on a free loopback port; yields its URL and stops it afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def emulator_environment(url: str, home: Path) -> dict[str, str]:
    """Environment for every child: only the emulator, fake credentials, no profile."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        FORMKIQ_APP_ENV=APP_ENVIRONMENT,
        COLUMNS="140",
    )
    return environment


@dataclass
class Step:
    title: str
    command: list[str]
    exit_code: int
    seconds: float
    report: dict[str, Any]
    problem: str | None = None
    """What the demo expected of the report and did not find."""


def formkiq_dr(environment: dict[str, str], *arguments: str) -> tuple[int, dict[str, Any], float]:
    """Run the installed command exactly as a user would (`python -m formkiq_backup`)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "formkiq_backup", *arguments, "--json"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    report = (
        json.loads(result.stdout)
        if result.stdout.strip()
        else {"summary": {"error": result.stderr.strip()}, "entries": []}
    )
    return result.returncode, report, time.monotonic() - started


def show(console: Console, step: Step) -> None:
    """Print one command's report the way `formkiq-dr` prints it."""
    console.rule(f"[bold]{step.title}[/]  [dim]formkiq-dr {' '.join(step.command)}[/]")
    report = Report.from_json(
        {"command": step.command[0], "app_environment": APP_ENVIRONMENT} | step.report
    )
    report.render(console)
    console.print(f"[dim]exit code {step.exit_code}, {step.seconds:.1f}s[/]\n")


def run_demo(console: Console, reports: Path) -> int:
    """The whole story; returns 0 when every step ended as expected."""
    steps: list[Step] = []
    expected: list[tuple[str, int]] = []
    with moto_server() as url, tempfile.TemporaryDirectory() as home:
        environment = emulator_environment(url, Path(home))
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        sample = sample_formkiq(app_environment=APP_ENVIRONMENT, account_id=ACCOUNT)
        with _endpoint(url):
            seed_formkiq(session, sample)
            documents = seed_documents(session, sample, SITES)
            seed_users(session, sample)
        console.print(
            f"Seeded FormKiQ {sample.version} '{APP_ENVIRONMENT}' in moto_server at "
            f"{url}: {len(documents)} documents in sites "
            f"{', '.join(SITES)}, with tags, versions, users and groups.\n"
        )

        def run(
            title: str,
            *arguments: str,
            expect: int = 0,
            check: Callable[[dict[str, Any]], str | None] | None = None,
        ) -> Step:
            code, report, seconds = formkiq_dr(environment, *arguments)
            step = Step(title, list(arguments), code, seconds, report)
            step.problem = check(report) if check is not None else None
            steps.append(step)
            expected.append((title, expect))
            show(console, step)
            return step

        run("1. Posture before anything happens", "verify")
        snapshot = run("2. Snapshot before a risky change", "snapshot", "--label", "pre-incident")
        backups = snapshot.report["summary"]["backups"]
        time.sleep(1.1)  # S3 keeps one-second timestamps: a clear "before"
        before = datetime.now(UTC)
        time.sleep(1.1)
        with _endpoint(url):
            incident = break_site(
                session,
                f"formkiq-core-{APP_ENVIRONMENT}-documents",
                f"formkiq-core-{APP_ENVIRONMENT}-documents-{ACCOUNT}",
                documents,
                "finance",
            )
        steps.append(Step("3. Incident in site finance (simulated)", ["-"], 0, 0.0, {}))
        expected.append(("3. Incident in site finance (simulated)", 0))
        console.rule("[bold red]3. Incident in site finance[/]")
        console.print(
            f"{len(incident.overwritten_items)} tag items overwritten, "
            f"{len(incident.deleted_items)} items deleted (2 documents and the site's "
            f"API key), {len(incident.deleted_objects)} documents deleted from S3, "
            f"{len(incident.overwritten_objects)} overwritten; meanwhile a user added "
            "a document.\n"
        )
        table = (
            "--table",
            "documents",
            "--site",
            "finance",
            "--from-backup",
            backups[f"formkiq-core-{APP_ENVIRONMENT}-documents"],
        )
        new_document = " / ".join(incident.created_items[0])
        kept = {"put": 0, "overwrite": 0, "delete": 0, "keep": len(incident.created_items)}
        run(
            "4. Repair plan (dry-run): the user's new document is kept",
            "repair",
            *table,
            check=lambda report: _kept(report, new_document),
        )
        run("5. Repair metadata", "repair", *table, "--apply")
        documents_scope = ("--site", "finance", "--at", before.isoformat())
        run("6. Document restore plan (dry-run)", "restore-documents", *documents_scope)
        run("7. Restore documents", "restore-documents", *documents_scope, "--apply")
        run("8. Posture after recovery", "verify")
        run(
            "9. Repair plan again: nothing left to repair, the user's document still kept",
            "repair",
            *table,
            check=lambda report: _plan_is(report, kept),
        )
        drill_arguments = [part for arn in backups.values() for part in ("--from-backup", arn)]
        run(
            "10. Drill: restore the snapshot, verify it and its documents",
            "drill",
            *drill_arguments,
            "--sample",
            "5",
            "--seed",
            "1",
            "--report",
            str(reports / "demo-drill"),
            check=lambda report: _drill_differs_only_by(report, len(incident.created_items)),
        )

    return print_summary(console, steps, expected, reports)


def print_summary(
    console: Console, steps: list[Step], expected: list[tuple[str, int]], reports: Path
) -> int:
    """Each step's exit code against the expected one; then the drill's Markdown report."""
    summary = Table(title="formkiq-dr demo: summary")
    for column in ("step", "exit code", "expected", "seconds", "check"):
        summary.add_column(column)
    ok = True
    for step, (_, expect) in zip(steps, expected, strict=True):
        good = step.exit_code == expect
        ok &= good and step.problem is None
        summary.add_row(
            step.title,
            f"[{'green' if good else 'red'}]{step.exit_code}[/]",
            str(expect),
            f"{step.seconds:.1f}",
            "[green]ok[/]" if step.problem is None else f"[red]{escape(step.problem)}[/]",
        )
    console.print(summary)
    console.print(f"Drill report: {reports / 'demo-drill.md'} and .json")
    markdown = reports / "demo-drill.md"
    if markdown.exists():
        console.rule("[bold]Drill report (Markdown)[/]")
        console.print(markdown.read_text(), markup=False, highlight=False, soft_wrap=True)
    return 0 if ok else 1


def _kept(report: dict[str, Any], key: str) -> str | None:
    changes = report.get("summary", {}).get("changes", [])
    if {"action": "keep", "key": key} not in changes:
        return f"the plan does not keep {key}"
    if any(change["action"] == "delete" for change in changes):
        return "the plan deletes items without --delete-new"
    return None


def _plan_is(report: dict[str, Any], plan: dict[str, int]) -> str | None:
    found = report.get("summary", {}).get("plan")
    return None if found == plan else f"plan {found}, expected {plan}"


def _drill_differs_only_by(report: dict[str, Any], kept: int) -> str | None:
    """The snapshot restores whole; the live documents table has only the kept items more."""
    for entry in report.get("entries", []):
        if entry["section"] != "integrity":
            continue
        data = entry.get("data", {})
        extra = kept if entry["subject"].endswith("-documents") else 0
        if data.get("sourceItems") != data.get("restoredItems", 0) + extra:
            return f"{entry['subject']}: {data.get('sourceItems')} live vs restored"
    return None


@contextmanager
def _endpoint(url: str) -> Any:
    """Point this process's boto3 at the emulator while seeding."""
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved


def main() -> None:
    reports = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("reports")
    reports.mkdir(parents=True, exist_ok=True)
    sys.exit(run_demo(output_console(), reports))


if __name__ == "__main__":
    main()
