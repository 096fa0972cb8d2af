"""`formkiq-dr`: prove and perform recovery of a FormKiQ deployment.

Exit codes: 0 healthy or done, 1 a check failed (or a repair met conflicts), 2 usage or access
error. Progress goes to stderr; `--json` puts a machine-readable report alone on stdout.
"""

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from formkiq_backup.config import Tier
from formkiq_backup.console import output_console
from formkiq_backup.dr.context import DrContext, SetupError, describe_error, is_access_error
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.dr.tables import SourceWriteRefusedError

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


class Timestamp(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """An ISO 8601 time; without an offset it is taken as UTC."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time such as 2026-11-30T12:00:00Z", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Feedback:
    """Progress bars on stderr: one spinner for the current step, one counter per table."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._step: TaskID | None = None
        self._counters: dict[str, TaskID] = {}

    def step(self, text: str) -> None:
        if self._step is None:
            self._step = self.progress.add_task(text, total=None)
        self.progress.update(self._step, description=text)

    def scanned(self, table: str, items: int) -> None:
        if table not in self._counters:
            self._counters[table] = self.progress.add_task(f"scan {table}", total=None)
        self.progress.advance(self._counters[table], items)

    def tick(self, what: str) -> None:
        self.scanned(what, 1)


Body = Callable[[DrContext, Report, Feedback], None]


def execute(command: str, options: dict[str, Any], body: Body) -> NoReturn:
    """Run a command body; map what happens to a report and an exit code."""
    report = Report(command, options["app_env"])
    stderr = Console(stderr=True)
    code = EXIT_OK
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )
    with progress:
        try:
            context = DrContext.create(options["app_env"], options["profile"], options["region"])
            body(context, report, Feedback(progress))
        except SetupError as error:
            code = EXIT_SETUP
            report.summary["error"] = str(error)
        except (ClientError, BotoCoreError) as error:
            code = EXIT_SETUP if is_access_error(error) else EXIT_FAILED
            report.summary["error"] = describe_error(error)
        except SourceWriteRefusedError as error:
            code = EXIT_FAILED
            report.add("safety", "source data", Status.FAIL, str(error))
        except KeyboardInterrupt:
            code = EXIT_FAILED
            report.add(
                "interrupted",
                command,
                Status.FAIL,
                "interrupted; temporary resources were cleaned up",
            )
    report.finish()
    if code == EXIT_OK and not report.ok:
        code = EXIT_FAILED
    if options["as_json"]:
        click.echo(report.dumps())
    else:
        if "error" in report.summary:
            stderr.print(f"[bold red]error:[/] {report.summary['error']}")
        if report.entries:
            report.render(output_console())
    sys.exit(code)


def common_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--app-env, --profile, --region and --json: every command takes them."""
    for option in reversed(
        [
            click.option(
                "--app-env",
                "app_env",
                required=True,
                envvar="FORMKIQ_APP_ENV",
                help="FormKiQ AppEnvironment: names are read from /formkiq/<app-env>/.",
            ),
            click.option("--profile", default=None, help="AWS profile (default: AWS_PROFILE)."),
            click.option("--region", default=None, help="AWS region (default: AWS_REGION)."),
            click.option(
                "--json", "as_json", is_flag=True, help="Print a machine-readable report on stdout."
            ),
        ]
    ):
        function = option(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="formkiq-backup", prog_name="formkiq-dr")
def cli() -> None:
    """Prove and perform recovery of a FormKiQ deployment on AWS."""


@cli.command()
@common_options
@click.option(
    "--tier",
    type=click.Choice([t.value for t in Tier]),
    default=Tier.BASIC.value,
    show_default=True,
    help="What the deployment is expected to have.",
)
@click.option("--dr-region", default=None, help="Region of DR copies and replicas.")
@click.option("--vault", "vaults", multiple=True, help="Also check this backup vault's lock.")
def verify(*, tier: str, dr_region: str | None, vaults: tuple[str, ...], **options: Any) -> None:
    """Check PITR, versioning, replication, recovery points, vault locks and replicas."""
    from formkiq_backup.dr.verify import run_verify

    execute(
        "verify",
        options,
        lambda ctx, report, _: run_verify(ctx, report, Tier(tier), dr_region, vaults),
    )


@cli.command()
@common_options
@click.option(
    "--vault",
    default=None,
    help="Back up through AWS Backup into this vault (default: DynamoDB backups).",
)
@click.option(
    "--role-arn",
    default=None,
    help="Role AWS Backup uses with --vault (default: AWSBackupDefaultServiceRole).",
)
@click.option("--label", default=None, help="Word for backup names, e.g. pre-upgrade.")
def snapshot(*, vault: str | None, role_arn: str | None, label: str | None, **options: Any) -> None:
    """On-demand backups of every protected table, waited on, reported with ARNs."""
    from formkiq_backup.dr.snapshot import run_snapshot

    execute(
        "snapshot",
        options,
        lambda ctx, report, feedback: run_snapshot(
            ctx, report, label=label, vault=vault, role_arn=role_arn, on_progress=feedback.step
        ),
    )


@cli.command()
@common_options
@click.option(
    "--at",
    type=Timestamp(),
    default=None,
    help="PITR time to restore (default: latest restorable).",
)
@click.option(
    "--from-backup",
    "backup_arns",
    multiple=True,
    help="Restore this table's on-demand backup instead of PITR (repeatable).",
)
@click.option(
    "--from-table",
    "from_tables",
    multiple=True,
    metavar="[SOURCE=]NAME",
    help="Check this table already restored instead of restoring (repeatable); never written.",
)
@click.option("--from-region", default=None, help="Region of the --from-table tables.")
@click.option(
    "--sample",
    "sample_size",
    type=click.IntRange(0, 10_000),
    default=10,
    show_default=True,
    help="Documents to download and check.",
)
@click.option("--seed", type=int, default=None, help="Seed for a repeatable sample.")
@click.option(
    "--strict", is_flag=True, help="Fail when a restored table differs from the live one."
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Write PATH.md and PATH.json.",
)
def drill(
    *,
    at: datetime | None,
    backup_arns: tuple[str, ...],
    from_tables: tuple[str, ...],
    from_region: str | None,
    sample_size: int,
    seed: int | None,
    strict: bool,
    report_path: Path | None,
    **options: Any,
) -> None:
    """Restore every protected table into a temporary one, verify, measure, clean up."""
    from formkiq_backup.dr.drill import run_drill

    def body(ctx: DrContext, report: Report, feedback: Feedback) -> None:
        try:
            run_drill(
                ctx,
                report,
                at=at,
                backup_arns=list(backup_arns),
                sample_size=sample_size,
                seed=seed,
                strict=strict,
                on_scan=feedback.scanned,
                on_step=feedback.step,
                from_tables=list(from_tables),
                from_region=from_region,
            )
        finally:
            if report_path is not None:
                write_reports(report, report_path)

    execute("drill", options, body)


def write_reports(report: Report, path: Path) -> None:
    """PATH.md for people, PATH.json for machines."""
    report.finish()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".md").write_text(report.to_markdown())
    path.with_suffix(".json").write_text(report.dumps() + "\n")


@cli.command()
@common_options
@click.option(
    "--table", "table_name", required=True, help="documents, documentsyncs, or a table name."
)
@click.option("--site", default=None, help="Repair only this FormKiQ site (default: all).")
@click.option("--at", type=Timestamp(), default=None, help="PITR time to go back to.")
@click.option("--from-backup", "backup_arn", default=None, help="On-demand backup to go back to.")
@click.option(
    "--from-table",
    default=None,
    help="A table already restored to go back to, instead of a restore; never written.",
)
@click.option("--from-region", default=None, help="Region of the --from-table table.")
@click.option("--apply", is_flag=True, help="Write the changes (default: dry-run).")
@click.option(
    "--keep-new", is_flag=True, help="Do not delete items created after the recovery point."
)
def repair(
    *,
    table_name: str,
    site: str | None,
    at: datetime | None,
    backup_arn: str | None,
    from_table: str | None,
    from_region: str | None,
    apply: bool,
    keep_new: bool,
    **options: Any,
) -> None:
    """Restore to a temporary table, diff against live, write back only what differs."""
    from formkiq_backup.dr.repair import run_repair

    execute(
        "repair",
        options,
        lambda ctx, report, feedback: run_repair(
            ctx,
            report,
            table_name=table_name,
            site=site,
            at=at,
            backup_arn=backup_arn,
            apply=apply,
            delete_new=not keep_new,
            on_scan=feedback.scanned,
            on_step=feedback.step,
            from_table=from_table,
            from_region=from_region,
        ),
    )


@cli.command("restore-documents")
@common_options
@click.option("--site", default=None, help="Only this FormKiQ site's documents.")
@click.option("--prefix", default=None, help="Only keys under this prefix.")
@click.option("--at", type=Timestamp(), required=True, help="Bring each object back to this time.")
@click.option("--apply", is_flag=True, help="Change the bucket (default: dry-run).")
@click.option(
    "--backfill-replica",
    is_flag=True,
    help="Also copy objects that predate replication to the replica bucket.",
)
def restore_documents(
    *,
    site: str | None,
    prefix: str | None,
    at: datetime,
    apply: bool,
    backfill_replica: bool,
    **options: Any,
) -> None:
    """Bring document content back to a point in time from S3 versions."""
    from formkiq_backup.dr.restore_documents import run_restore_documents

    execute(
        "restore-documents",
        options,
        lambda ctx, report, feedback: run_restore_documents(
            ctx,
            report,
            site=site,
            prefix=prefix,
            at=at,
            apply=apply,
            backfill_replica=backfill_replica,
            on_object=lambda: feedback.tick("objects"),
        ),
    )


@cli.group()
def users() -> None:
    """Cognito users and their groups, to and from JSON Lines."""


@users.command("export")
@common_options
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True)
def users_export(*, out_path: Path, **options: Any) -> None:
    """Write every user, with attributes and groups, one JSON object a line."""
    from formkiq_backup.dr.users import export_users

    def body(ctx: DrContext, report: Report, feedback: Feedback) -> None:
        pool = _user_pool(ctx)
        with out_path.open("w") as out:
            count = export_users(
                ctx.client("cognito-idp"), pool, out, lambda: feedback.tick("users")
            )
        report.add("export", pool, Status.PASS, f"{count} users written to {out_path}")
        report.summary.update(users=count, file=str(out_path))

    execute("users export", options, body)


@users.command("import")
@common_options
@click.argument("in_path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def users_import(*, in_path: Path, **options: Any) -> None:
    """Recreate users without invitations, restore group memberships."""
    from formkiq_backup.dr.users import import_users

    def body(ctx: DrContext, report: Report, feedback: Feedback) -> None:
        pool = _user_pool(ctx)
        with in_path.open() as lines:
            result = import_users(
                ctx.client("cognito-idp"), pool, lines, lambda: feedback.tick("users")
            )
        for user in result.created:
            report.add(
                "import",
                user,
                Status.WARN,
                "created without a password: send an invitation or set one",
            )
        for user, problem in result.failed.items():
            report.add("import", user, Status.FAIL, problem)
        report.add(
            "import",
            pool,
            Status.PASS if not result.failed else Status.FAIL,
            f"{len(result.created)} created, {len(result.existing)} already there, "
            f"{result.memberships} group memberships, groups created: "
            f"{', '.join(result.groups_created) or 'none'}",
        )
        report.summary.update(
            created=len(result.created),
            existing=len(result.existing),
            needPasswordReset=result.need_password_reset,
        )

    execute("users import", options, body)


def _user_pool(ctx: DrContext) -> str:
    pool = ctx.environment.user_pool_id
    if not pool:
        raise SetupError(f"no /formkiq/{ctx.app_environment}/cognito/UserPoolId parameter")
    return pool


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="formkiq-dr")
