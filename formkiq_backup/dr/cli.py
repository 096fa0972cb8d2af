"""`formkiq-dr`: prove and perform recovery of a FormKiQ deployment.

Exit codes: 0 healthy or done (or planned, or nothing to change), 1 a check failed, a repair
met conflicts or the work stopped on an error, 2 usage or access error, 3 the scope or input
matched nothing. The summary's heading, the `--json` report's `outcome`, `ok` and `exitCode`
and the exit code come from one place (`Report.outcome`), so they always agree. Progress and
warnings go to stderr; `--json` puts the report alone on stdout, usage errors included. Every
option is checked before any AWS call. However a command ends (an error, Ctrl-C, SIGTERM),
what it made is in its report's ledger, and what it made for itself is deleted or listed.
"""

import os
import re
import signal
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

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
from rich.text import Text

from formkiq_backup.aws_rules import MAX_LIFECYCLE_DAYS
from formkiq_backup.console import output_console
from formkiq_backup.dr.context import DrContext, SetupError, describe_error, is_access_error
from formkiq_backup.dr.paths import check_writable, report_files
from formkiq_backup.dr.report import EXIT_FAILED, EXIT_SETUP, Outcome, Report, Status
from formkiq_backup.dr.tables import SourceWriteRefusedError, check_backup_arn
from formkiq_backup.dr.users import ImportResult
from formkiq_backup.sites import is_site_id
from tiers.definitions import TIERS, Tier

if TYPE_CHECKING:
    from formkiq_backup.dr.expectations import StackExpectations

ROLE_ARN_SHAPE = "arn:<partition>:iam::<account>:role/<name>"


class Timestamp(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """An ISO 8601 time with its zone (`Z` or an offset such as `+01:00`).

    A time without a zone is refused rather than guessed: during an incident, local time taken
    for UTC restores the wrong hours.
    """

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
        if parsed.tzinfo is None:
            utc = f"{value}Z" if "T" in str(value) else f"{value}T00:00:00Z"
            self.fail(
                f"{value!r} has no time zone: add Z for UTC ({utc}) or an offset such as +01:00",
                param,
                ctx,
            )
        return parsed.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """A time as the output states it back: UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class OnceCommand(click.Command):
    """Refuses an option given twice: click would silently keep the last value, and a second
    `--site` or `--at` must not quietly replace the first."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_args(args: list[str]) -> Any:
            options, rest, order = parse(args)
            counts = Counter(
                param
                for param in order
                if isinstance(param, click.Option) and not (param.multiple or param.is_flag)
            )
            for param, times in counts.items():
                if times > 1:
                    raise click.UsageError(
                        f"{param.opts[0]} given {times} times: give it once", ctx
                    )
            return options, rest, order

        parser.parse_args = parse_args  # type: ignore[method-assign]
        return parser


class DrGroup(click.Group):
    """The command group; with `--json`, a usage error is a JSON report on stdout too."""

    command_class = OnceCommand
    group_class = type  # subgroups (users) behave the same

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(
                arguments, prog_name, complete_var, standalone_mode=False, **extra
            )
        except click.ClickException as error:
            if "--json" in arguments:
                click.echo(usage_report(error).dumps())
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_FAILED)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def usage_report(error: click.ClickException) -> Report:
    """The report of a command refused before it started."""
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path.split(" ", 1)[-1] if ctx is not None else "formkiq-dr"
    params = ctx.params if ctx is not None else {}
    app_env = params.get("app_env") or os.environ.get("FORMKIQ_APP_ENV", "")
    report = Report(command, str(app_env))
    report.stop(error.format_message(), EXIT_SETUP)
    return report.finish()


def refuse(message: str) -> NoReturn:
    """A usage error found in the options: exit 2 before any AWS call."""
    raise click.UsageError(message, click.get_current_context())


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

    def notice(self, text: str) -> None:
        """Something the operator should know now, not at the end (above the bars)."""
        line = Text("warning: ", style="bold yellow")
        line.append(text)
        self.progress.console.print(line, overflow="fold")


Body = Callable[[DrContext, Report, Feedback], None]


def execute(
    command: str, options: dict[str, Any], body: Body, *, report_path: Path | None = None
) -> NoReturn:
    """Run a command body; every way it can end becomes the report's outcome and exit code.

    Whatever ends it, the report's ledger then deletes what the command made for itself
    (temporary tables), and the report lists everything it made, with what became of it.
    """
    report = Report(command, options["app_env"])
    stderr = Console(stderr=True)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )
    feedback = Feedback(progress)
    with progress, signals_interrupt():
        failure: BaseException | None = None
        try:
            context = DrContext.create(
                options["app_env"],
                options["profile"],
                options["region"],
                on_notice=feedback.notice,
            )
            report.summary["region"] = context.region
            body(context, report, feedback)
        except (Exception, KeyboardInterrupt) as error:  # never a traceback: the report says why
            failure = error
        try:
            report.ledger.clean_up(on_step=feedback.step)
        except KeyboardInterrupt as error:  # a second interrupt stops the deletions
            failure = failure or error
        if failure is not None:
            record_error(report, command, failure)
    report.finish()
    if report_path is not None:
        try:
            write_reports(report, report_path)
        except OSError as error:
            report.stop(f"--report {report_path}: not written: {error}", EXIT_FAILED)
    if report.error is not None:
        stderr.print(Text("error: ", style="bold red") + Text(report.error), overflow="fold")
    if options["as_json"]:
        click.echo(report.dumps())
    else:
        report.render(output_console())
    sys.exit(report.exit_code)


# Signals that end a command as Ctrl-C does: a CI job cancelled, `kill`, a closed terminal.
INTERRUPTING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt while a command runs, so they end it
    through its report and its ledger's clean-up instead of killing it on the spot."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous: dict[int, Any] = {}
    try:
        for number in INTERRUPTING_SIGNALS:
            previous[number] = signal.signal(number, interrupt)
    except ValueError:  # not the main thread: signals stay as they are
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def record_error(report: Report, command: str, error: BaseException) -> None:
    """How a command stopped, as the report's outcome (and so its exit code)."""
    if isinstance(error, KeyboardInterrupt):
        by = str(error.args[0]) if error.args else ""
        how = f"interrupted by {by}" if by.startswith("SIG") else "interrupted"
        report.add("interrupted", command, Status.FAIL, f"{how}: {report.ledger.account()}")
        report.stop(how, EXIT_FAILED)
    elif isinstance(error, SourceWriteRefusedError):
        report.add("safety", "source data", Status.FAIL, str(error))
        report.stop(str(error), EXIT_FAILED)
    else:
        report.stop(*_error_outcome(error))


def _error_outcome(error: BaseException) -> tuple[str, int]:
    if isinstance(error, SetupError):
        return str(error), EXIT_SETUP
    if isinstance(error, ClientError | BotoCoreError):
        return describe_error(error), EXIT_SETUP if is_access_error(error) else EXIT_FAILED
    if isinstance(error, TimeoutError):
        return f"gave up waiting: {error}", EXIT_FAILED
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}", EXIT_FAILED
    if os.environ.get("FORMKIQ_DR_DEBUG"):
        traceback.print_exception(error)
    hint = "FORMKIQ_DR_DEBUG=1 shows the traceback"
    return f"unexpected {type(error).__name__}: {error} ({hint})", EXIT_FAILED


def common_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--app-env, --profile, --region and --json: every command takes them."""
    return _common_options(function, app_env_required=True)


def common_options_app_env_optional(function: Callable[..., Any]) -> Callable[..., Any]:
    """The same, for a command that can read the environment from elsewhere (verify)."""
    return _common_options(function, app_env_required=False)


def _common_options(function: Callable[..., Any], *, app_env_required: bool) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--app-env",
                "app_env",
                required=app_env_required,
                envvar="FORMKIQ_APP_ENV",
                help="FormKiQ AppEnvironment: names are read from /formkiq/<app-env>/.",
            ),
            click.option("--profile", default=None, help="AWS profile (default: AWS_PROFILE)."),
            click.option(
                "--region",
                default=None,
                help="AWS region (default: AWS_REGION, then AWS_DEFAULT_REGION, then the "
                "profile's, as the AWS CLI).",
            ),
            click.option(
                "--json", "as_json", is_flag=True, help="Print a machine-readable report on stdout."
            ),
        ]
    ):
        function = option(function)
    return function


AT_HELP = (
    "with its zone (Z or +01:00); a time without one is refused. Stated back in UTC; must be "
    "inside each table's PITR window."
)


MEMORY_LIMIT_SHAPE = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def export_engine_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The engine that computes a diff of exports, and its settings."""
    for option in reversed(
        [
            click.option(
                "--engine",
                type=click.Choice(["duckdb", "athena"]),
                default="duckdb",
                show_default=True,
                help="duckdb: on this machine; athena: in the account (needs --workgroup).",
            ),
            click.option("--workgroup", default=None, help="Athena workgroup (--engine athena)."),
            click.option(
                "--athena-database",
                default="default",
                show_default=True,
                help="Glue database for the temporary tables over the exports.",
            ),
            click.option(
                "--athena-output",
                default=None,
                help="S3 URL for query results (default: the workgroup's).",
            ),
            click.option(
                "--memory-limit",
                default=None,
                help="DuckDB's memory limit, e.g. 2GB (default 1GB); larger joins spill to disk.",
            ),
            click.option(
                "--threads",
                type=click.IntRange(1, 256),
                default=None,
                help="DuckDB's threads (default: one per core).",
            ),
            click.option(
                "--direct-s3",
                is_flag=True,
                help="DuckDB reads the files in S3 (httpfs) instead of downloading them first.",
            ),
        ]
    ):
        function = option(function)
    return function


@click.group(cls=DrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="formkiq-backup", prog_name="formkiq-dr")
def cli() -> None:
    """Prove and perform recovery of a FormKiQ deployment on AWS.

    Exit codes: 0 healthy or done (or a dry run's plan, or nothing to change), 1 a check
    failed (or a repair met conflicts, or the work stopped on an error), 2 usage or access
    error, 3 the scope or input matched nothing.
    """


@cli.command()
@common_options_app_env_optional
@click.option(
    "--tier",
    type=click.Choice([t.value for t in Tier]),
    default=None,
    help="What the deployment is expected to have (default: the stack outputs' tier, or basic).",
)
@click.option("--dr-region", default=None, help="Region of DR copies and replicas.")
@click.option("--vault", "vaults", multiple=True, help="Also check this backup vault's lock.")
@click.option(
    "--stack-outputs",
    "stack_outputs",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="JSON of `pulumi stack output --json`: expect what the stack built (tier, "
    "environment, regions, vaults, tables, buckets, replicas); a flag that disagrees with it "
    "is refused.",
)
def verify(
    *,
    tier: str | None,
    dr_region: str | None,
    vaults: tuple[str, ...],
    stack_outputs: Path | None,
    **options: Any,
) -> None:
    """Check PITR, versioning, replication, recovery points, vault locks and replicas."""
    from formkiq_backup.dr.verify import run_verify

    expected = None
    if stack_outputs is not None:
        expected = _load_outputs(stack_outputs)
        names = tuple(vault.name for vault in expected.vaults)
        _refuse_disagreements(
            stack_outputs,
            [
                ("--tier", tier, "tier", expected.tier.value),
                (APP_ENV_OPTION, options["app_env"], "appEnvironment", expected.app_environment),
                ("--region", options["region"], "primaryRegion", expected.primary_region),
                ("--dr-region", dr_region, "drRegion", expected.dr_region),
                ("--vault", set(vaults) or None, "vaults", set(names)),
            ],
        )
        options.update(app_env=expected.app_environment, region=expected.primary_region)
        tier, dr_region, vaults = expected.tier.value, expected.dr_region, names
    if not options["app_env"]:
        refuse("give --app-env (or FORMKIQ_APP_ENV), or --stack-outputs FILE")

    execute(
        "verify",
        options,
        lambda ctx, report, _: run_verify(
            ctx, report, Tier(tier or Tier.BASIC.value), dr_region, vaults, expected
        ),
    )


APP_ENV_OPTION = "--app-env (or FORMKIQ_APP_ENV)"


def _load_outputs(path: Path) -> "StackExpectations":
    """The stack's outputs, or a usage error naming the file and the key at fault."""
    from formkiq_backup.dr.expectations import StackOutputsError, read_stack_outputs

    try:
        return read_stack_outputs(path)
    except StackOutputsError as error:
        refuse(f"--stack-outputs {error}")


def _refuse_disagreements(path: Path, checks: Sequence[tuple[str, Any, str, Any]]) -> None:
    """Each (option, value given, output key, the outputs' value): a value given must agree."""
    for option, given, key, value in checks:
        if given is not None and given != value:
            refuse(
                f"{option} {_shown(given)} disagrees with --stack-outputs {path}, whose {key} is "
                f"{_shown(value)}: leave the option out, or fix it"
            )


FAILOVER_TIERS = (Tier.ENHANCED.value, Tier.ENTERPRISE.value)


@cli.command("failover-check")
@common_options_app_env_optional
@click.option(
    "--stack-outputs",
    "stack_outputs",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="JSON of `pulumi stack output --json`: the names of what the stack keeps in the region; "
    "the primary region is never called. --region defaults to its drRegion.",
)
@click.option(
    "--tier",
    type=click.Choice(FAILOVER_TIERS),
    default=None,
    help="Without --stack-outputs: what the stack keeps in the region.",
)
@click.option(
    "--primary-region",
    default=None,
    help="Without --stack-outputs: where FormKiQ runs now (discovered there, from SSM).",
)
@click.option(
    "--exact",
    is_flag=True,
    help="Also count each replica table's items with a Scan (reads every item, up to "
    "1,000,000 a table); DescribeTable's count is updated only about every six hours.",
)
def failover_check(
    *,
    stack_outputs: Path | None,
    tier: str | None,
    primary_region: str | None,
    exact: bool,
    **options: Any,
) -> None:
    """What a FormKiQ deployed in --region (the DR region) would find there, read-only.

    Replica tables (status, PITR, item count, newest document), the replica bucket, the DR
    vault's newest recovery points, the newest exports, and what is missing. Exit code 0 ready,
    1 not ready, 2 usage or access error.
    """
    from formkiq_backup.dr.failover import (
        run_failover_check,
        target_from_outputs,
        target_from_tier,
    )

    if stack_outputs is not None:
        expected = _failover_outputs(stack_outputs, tier, primary_region, options)

        def from_outputs(ctx: DrContext, report: Report, feedback: Feedback) -> None:
            caller = ctx.client("sts").get_caller_identity()
            partition = str(caller["Arn"]).split(":")[1]
            target = target_from_outputs(expected, ctx.region, caller["Account"], partition)
            run_failover_check(ctx, report, target, exact=exact, on_step=feedback.step)

        execute("failover-check", options, from_outputs)
    primary = _failover_flags(tier, primary_region, options)

    def from_tier(ctx: DrContext, report: Report, feedback: Feedback) -> None:
        ctx.discovery_region = primary
        target = target_from_tier(ctx, TIERS[Tier(str(tier))], ctx.region)
        report.summary["tier"] = tier
        run_failover_check(ctx, report, target, exact=exact, on_step=feedback.step)

    execute("failover-check", options, from_tier)


def _failover_outputs(
    path: Path, tier: str | None, primary_region: str | None, options: dict[str, Any]
) -> "StackExpectations":
    """The stack's outputs; the flags given must agree with them, and the region must be one
    where the stack keeps something (its drRegion by default)."""
    expected = _load_outputs(path)
    _refuse_disagreements(
        path,
        [
            ("--tier", tier, "tier", expected.tier.value),
            (APP_ENV_OPTION, options["app_env"], "appEnvironment", expected.app_environment),
            ("--primary-region", primary_region, "primaryRegion", expected.primary_region),
        ],
    )
    kept = [r for r in (expected.dr_region, *expected.replica_regions) if r]
    region = options["region"] or expected.dr_region
    if region is None:
        refuse(
            f"--stack-outputs {path}: the stack keeps nothing in a second region (drRegion is "
            "none): there is nothing to fail over to"
        )
    if region == expected.primary_region:
        refuse(
            f"--region {region} is the primary region: give the region to fail over to "
            f"({', '.join(dict.fromkeys(kept))})"
        )
    if region not in kept:
        refuse(
            f"--region {region}: the stack keeps nothing there; it keeps copies or replicas in "
            f"{', '.join(dict.fromkeys(kept))}"
        )
    options.update(app_env=expected.app_environment, region=region)
    return expected


def _failover_flags(tier: str | None, primary_region: str | None, options: dict[str, Any]) -> str:
    """Without the stack's outputs: the environment, the tier, both regions, all given."""
    from formkiq_backup.dr.context import is_region_name

    if not options["app_env"]:
        refuse("give --app-env (or FORMKIQ_APP_ENV), or --stack-outputs FILE")
    if tier is None:
        refuse(
            f"give --tier ({' or '.join(FAILOVER_TIERS)}): what the stack keeps in the region; "
            "or --stack-outputs FILE"
        )
    if options["region"] is None:
        refuse("give --region: the region to fail over to (the stack's drRegion)")
    if primary_region is None:
        refuse(
            "give --primary-region: where FormKiQ runs now, to discover it there; or "
            "--stack-outputs FILE, which needs no call to that region"
        )
    if not is_region_name(primary_region):
        refuse(f"--primary-region {primary_region!r} is not an AWS region name such as us-east-1")
    if primary_region == options["region"]:
        refuse(
            f"--region and --primary-region are both {primary_region}: --region is the region "
            "to fail over to"
        )
    return primary_region


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, set):
        return ", ".join(sorted(value)) or "none"
    return repr(value)


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
    help="Role AWS Backup uses; only with --vault (default: AWSBackupDefaultServiceRole).",
)
@click.option(
    "--label",
    default=None,
    help="Word for backup names (or, with --vault, the recovery points' formkiq-dr tag), e.g. "
    "pre-upgrade: up to 64 letters, digits, '_', '.' and '-'.",
)
@click.option(
    "--keep-days",
    type=int,
    default=None,
    help="With --vault: the recovery points expire after this many days (default: kept until "
    "deleted). A vault with a Vault Lock needs it, within the lock's minimum and maximum.",
)
def snapshot(
    *,
    vault: str | None,
    role_arn: str | None,
    label: str | None,
    keep_days: int | None,
    **options: Any,
) -> None:
    """On-demand backups of every protected table, waited on, reported with ARNs."""
    from formkiq_backup.dr.snapshot import check_label, run_snapshot

    if label is not None and (problem := check_label(label)):
        refuse(f"--label {label!r}: {problem}")
    if keep_days is not None and vault is None:
        refuse("--keep-days is the recovery points' lifecycle in a vault: give it with --vault")
    if keep_days is not None and not 1 <= keep_days <= MAX_LIFECYCLE_DAYS:
        refuse(
            f"--keep-days {keep_days}: from 1 to {MAX_LIFECYCLE_DAYS} days (AWS Backup's longest "
            "retention)"
        )
    if role_arn is not None and vault is None:
        refuse("--role-arn is the role AWS Backup uses: give it with --vault, or leave it out")
    if role_arn is not None and not _is_role_arn(role_arn):
        refuse(f"--role-arn {role_arn!r}: not an IAM role ARN ({ROLE_ARN_SHAPE})")
    execute(
        "snapshot",
        options,
        lambda ctx, report, feedback: run_snapshot(
            ctx,
            report,
            label=label,
            vault=vault,
            role_arn=role_arn,
            on_progress=feedback.step,
            keep_days=keep_days,
        ),
    )


def _is_role_arn(arn: str) -> bool:
    parts = arn.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] == "iam"
        and parts[4].isdigit()
        and len(parts[4]) == 12
        and parts[5].startswith("role/")
    )


def _refuse_mixed_references(
    *, from_table: bool, from_region: str | None, at: datetime | None, backups: bool
) -> None:
    """A table already restored is the reference instead of a restore, never beside one."""
    from formkiq_backup.dr.tables import check_reference_options

    try:
        check_reference_options(
            from_tables=["given"] if from_table else [],
            from_region=from_region,
            restore_options={"--at": at is not None, "--from-backup": backups},
        )
    except SetupError as error:
        refuse(str(error))


def _check_backup_arns(arns: Sequence[str]) -> None:
    for arn in arns:
        problem = check_backup_arn(arn)
        if problem:
            refuse(f"--from-backup {arn}: {problem}")


@cli.command()
@common_options
@click.option(
    "--at",
    type=Timestamp(),
    default=None,
    help=f"PITR time to restore (default: latest restorable), {AT_HELP}",
)
@click.option(
    "--from-backup",
    "backup_arns",
    multiple=True,
    help="Restore this table's on-demand backup instead of PITR (repeatable; not with --at).",
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
    type=click.Path(),
    default=None,
    help="Write PATH.md and PATH.json (checked before anything starts; the folder must exist).",
)
@click.option(
    "--from-export",
    "restored_export",
    default=None,
    metavar="EXPORT",
    help="Check this export of a restored table against --reference-export instead of "
    "restoring (s3://.../AWSDynamoDB/<id>/ or latest:<table>).",
)
@click.option(
    "--reference-export",
    default=None,
    metavar="EXPORT",
    help="With --from-export: the export it must equal (e.g. the source's at the recovery point).",
)
@export_engine_options
def drill(
    *,
    at: datetime | None,
    backup_arns: tuple[str, ...],
    from_tables: tuple[str, ...],
    from_region: str | None,
    sample_size: int,
    seed: int | None,
    strict: bool,
    report_path: str | None,
    restored_export: str | None,
    reference_export: str | None,
    **options: Any,
) -> None:
    """Restore every protected table into a temporary one, verify, measure, clean up."""
    from formkiq_backup.dr.drill import run_drill

    engine = _engine_options(options, exports_given=restored_export is not None)
    report_stem = None if report_path is None else file_path(report_path, "--report")
    if restored_export is not None or reference_export is not None:
        _drill_from_export(
            restored_export,
            reference_export,
            restore_options={"--at": at, "--from-backup": backup_arns, "--from-table": from_tables},
            strict=strict,
            engine=engine,
            options=options,
            report_path=report_stem,
        )

    _refuse_mixed_references(
        from_table=bool(from_tables), from_region=from_region, at=at, backups=bool(backup_arns)
    )
    if at is not None and backup_arns:
        refuse(
            "--at and --from-backup both say what to restore: give --at (a point in time) "
            "or --from-backup (backups), not both"
        )
    _check_backup_arns(backup_arns)
    if report_stem is not None:
        for path in (report_stem, *report_files(report_stem)):
            check_writable(path, "--report")

    execute(
        "drill",
        options,
        lambda ctx, report, feedback: run_drill(
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
        ),
        report_path=report_stem,
    )


# --- exports ---------------------------------------------------------------------------------


def _engine_options(options: dict[str, Any], *, exports_given: bool) -> Any:
    """EngineOptions from the options (removed from `options`); refuses settings that do
    not fit the engine, or engine settings without exports to diff."""
    from formkiq_backup.dr.from_export import EngineOptions

    engine = options.pop("engine")
    settings = {
        name: options.pop(name)
        for name in (
            "workgroup",
            "athena_database",
            "athena_output",
            "memory_limit",
            "threads",
            "direct_s3",
        )
    }
    duckdb_only = [
        flag
        for flag, name in (
            ("--memory-limit", "memory_limit"),
            ("--threads", "threads"),
            ("--direct-s3", "direct_s3"),
        )
        if settings[name]
    ]
    athena_only = [
        flag
        for flag, name in (("--workgroup", "workgroup"), ("--athena-output", "athena_output"))
        if settings[name]
    ]
    if not exports_given and (duckdb_only or athena_only or engine != "duckdb"):
        refuse(
            f"{', '.join(duckdb_only + athena_only) or '--engine'}: only with two exports to "
            "diff (with a table as the live side, the compare runs in this process)"
        )
    if engine == "athena" and duckdb_only:
        refuse(f"{', '.join(duckdb_only)}: DuckDB settings; --engine athena runs in Athena")
    if engine == "duckdb" and athena_only:
        refuse(f"{', '.join(athena_only)}: Athena settings; give --engine athena too")
    if engine == "athena" and not settings["workgroup"]:
        refuse("--engine athena needs --workgroup WORKGROUP (the Athena workgroup to run in)")
    limit = settings["memory_limit"]
    if limit is not None and not MEMORY_LIMIT_SHAPE.match(limit):
        refuse(f"--memory-limit {limit!r}: a size such as 512MB or 2GB")
    if settings["athena_output"] and not str(settings["athena_output"]).startswith("s3://"):
        refuse(f"--athena-output {settings['athena_output']!r}: an S3 URL (s3://bucket/prefix/)")
    return EngineOptions(
        engine=engine,
        memory_limit=limit or "1GB",
        threads=settings["threads"],
        direct_s3=settings["direct_s3"],
        workgroup=settings["workgroup"],
        athena_database=settings["athena_database"],
        athena_output=settings["athena_output"],
    )


def _repair_from_export(
    *,
    table_name: str,
    site: str | None,
    whole_table: bool,
    restore_options: dict[str, Any],
    from_export: str | None,
    live_export: str | None,
    apply: bool,
    delete_new: bool,
    engine: Any,
    options: dict[str, Any],
) -> NoReturn:
    from formkiq_backup.dr.from_export import RepairFromExport, run_repair_from_export

    if from_export is None:
        refuse("--live-export: only with --from-export (the export to go back to)")
    given = [name for name, value in restore_options.items() if value is not None]
    if given:
        refuse(f"--from-export and {' and '.join(given)}: give one state to go back to")
    _check_export_text("--from-export", from_export)
    if live_export is not None:
        _check_export_text("--live-export", live_export)
    _check_scope(site, whole_table)
    execute(
        "repair",
        options,
        lambda ctx, report, feedback: run_repair_from_export(
            ctx,
            report,
            RepairFromExport(table_name, site, from_export, live_export, apply, delete_new),
            engine_options=engine,
            on_scan=feedback.scanned,
            on_step=feedback.step,
        ),
    )


def _drill_from_export(
    restored_export: str | None,
    reference_export: str | None,
    *,
    restore_options: dict[str, Any],
    strict: bool,
    engine: Any,
    options: dict[str, Any],
    report_path: Path | None,
) -> NoReturn:
    from formkiq_backup.dr.from_export import run_drill_from_export

    if restored_export is None or reference_export is None:
        refuse(
            "--from-export and --reference-export go together: the export to check, and "
            "the export it must equal"
        )
    given = [name for name, value in restore_options.items() if value]
    if given:
        refuse(f"--from-export and {' and '.join(given)}: give one thing to check")
    _check_export_text("--from-export", restored_export)
    _check_export_text("--reference-export", reference_export)
    if report_path is not None:
        for path in (report_path, *report_files(report_path)):
            check_writable(path, "--report")
    execute(
        "drill",
        options,
        lambda ctx, report, feedback: run_drill_from_export(
            ctx,
            report,
            restored_text=restored_export,
            reference_text=reference_export,
            strict=strict,
            engine_options=engine,
            on_step=feedback.step,
        ),
        report_path=report_path,
    )


def _check_scope(site: str | None, whole_table: bool) -> None:
    if site is not None and whole_table:
        refuse("--site and --whole-table: give one (one site, or every site)")
    if site is None and not whole_table:
        refuse("give --site SITE to repair one site, or --whole-table to repair every site")
    if site is not None and not is_site_id(site):
        refuse(f"--site {site!r}: a FormKiQ site id has letters, digits, '-' and '_'")


def _check_export_text(option: str, text: str) -> None:
    from formkiq_backup.dr.from_export import LATEST
    from formkiq_backup.exportdiff.manifest import ExportLocation

    if text.startswith(LATEST):
        if not text.removeprefix(LATEST):
            refuse(f"{option} {text}: name the table (latest:documents)")
        return
    try:
        ExportLocation.parse(text)
    except ValueError as error:
        refuse(f"{option} {error}")


@cli.command("diff-exports")
@common_options
@click.option(
    "--from",
    "reference_text",
    required=True,
    metavar="EXPORT",
    help="The earlier state: s3://<bucket>/<prefix>/AWSDynamoDB/<id>/ or latest:<table>.",
)
@click.option(
    "--to",
    "live_text",
    required=True,
    metavar="EXPORT|TABLE",
    help="The later state: an export of the same table (full, or incremental from --from's "
    "time), or the table itself (documents, documentsyncs or its name; scanned).",
)
@click.option("--site", default=None, help="Only this FormKiQ site's items.")
@export_engine_options
def diff_exports(*, reference_text: str, live_text: str, site: str | None, **options: Any) -> None:
    """What repair would put back, overwrite and keep between two exports (per site).

    Manifests are checked (item counts, file checksums); nothing is written.
    """
    from formkiq_backup.dr.from_export import run_diff_exports

    _check_export_text("--from", reference_text)
    if live_text.startswith(("s3://", "latest:")):
        _check_export_text("--to", live_text)
    if site is not None and not is_site_id(site):
        refuse(f"--site {site!r}: a FormKiQ site id has letters, digits, '-' and '_'")
    engine = _engine_options(options, exports_given=live_text.startswith(("s3://", "latest:")))
    execute(
        "diff-exports",
        options,
        lambda ctx, report, feedback: run_diff_exports(
            ctx,
            report,
            reference_text=reference_text,
            live_text=live_text,
            site=site,
            engine_options=engine,
            on_scan=feedback.scanned,
            on_step=feedback.step,
        ),
    )


@cli.command("export-now")
@common_options
@click.argument("table_name", metavar="TABLE")
@click.option(
    "--incremental-since",
    type=Timestamp(),
    default=None,
    help="An incremental export of the changes since this time (15 minutes to 24 hours ago), "
    "with its zone; default: a full export.",
)
@click.option(
    "--at",
    type=Timestamp(),
    default=None,
    help=f"Export the table as it was at this time (default: now), {AT_HELP}",
)
@click.option("--no-wait", is_flag=True, help="Start the export and return.")
def export_now(
    *,
    table_name: str,
    incremental_since: datetime | None,
    at: datetime | None,
    no_wait: bool,
    **options: Any,
) -> None:
    """Export TABLE (documents, documentsyncs or its name) into the exports bucket now."""
    from formkiq_backup.dr.export_now import run_export_now

    for option, moment in (("--incremental-since", incremental_since), ("--at", at)):
        if moment is not None and moment > datetime.now(UTC):
            refuse(f"{option} {utc_text(moment)} is in the future")
    if at is not None and incremental_since is not None:
        refuse("--at and --incremental-since: a full export at a time, or the changes since one")
    execute(
        "export-now",
        options,
        lambda ctx, report, feedback: run_export_now(
            ctx,
            report,
            table_name=table_name,
            incremental_since=incremental_since,
            wait_for_it=not no_wait,
            at=at,
            on_step=feedback.step,
        ),
    )


def write_reports(report: Report, path: Path) -> None:
    """PATH.md for people, PATH.json for machines."""
    markdown, machine = report_files(path)
    markdown.write_text(report.to_markdown())
    machine.write_text(report.dumps() + "\n")


@cli.command()
@common_options
@click.option(
    "--table", "table_name", required=True, help="documents, documentsyncs, or a table name."
)
@click.option("--site", default=None, help="Repair only this FormKiQ site.")
@click.option(
    "--whole-table", is_flag=True, help="Repair every site (and items of no site); not with --site."
)
@click.option("--at", type=Timestamp(), default=None, help=f"PITR time to go back to, {AT_HELP}")
@click.option(
    "--from-backup", "backup_arn", default=None, help="On-demand backup to go back to (not --at)."
)
@click.option(
    "--from-table",
    default=None,
    help="A table already restored to go back to, instead of a restore; never written.",
)
@click.option("--from-region", default=None, help="Region of the --from-table table.")
@click.option(
    "--from-export",
    default=None,
    metavar="EXPORT",
    help="A DynamoDB export to go back to (s3://.../AWSDynamoDB/<id>/ or latest:<table>): no "
    "restore; see diff-exports.",
)
@click.option(
    "--live-export",
    default=None,
    metavar="EXPORT",
    help="With --from-export: compare with this later export instead of scanning the table.",
)
@click.option("--apply", is_flag=True, help="Write the changes (default: dry-run).")
@click.option(
    "--delete-new",
    is_flag=True,
    help="Also delete items created after the recovery point (default: kept and listed).",
)
@click.option("--keep-new", is_flag=True, hidden=True, help="Deprecated: keeping is the default.")
@export_engine_options
def repair(
    *,
    table_name: str,
    site: str | None,
    whole_table: bool,
    at: datetime | None,
    backup_arn: str | None,
    from_table: str | None,
    from_region: str | None,
    apply: bool,
    delete_new: bool,
    keep_new: bool,
    from_export: str | None,
    live_export: str | None,
    **options: Any,
) -> None:
    """Restore to a temporary table, diff against live, write back only what differs.

    Items created after the recovery point are kept unless --delete-new is given.
    """
    from formkiq_backup.dr.repair import run_repair

    engine = _engine_options(options, exports_given=live_export is not None)
    if from_export is not None or live_export is not None:
        _repair_from_export(
            table_name=table_name,
            site=site,
            whole_table=whole_table,
            restore_options={"--at": at, "--from-backup": backup_arn, "--from-table": from_table},
            from_export=from_export,
            live_export=live_export,
            apply=apply,
            delete_new=delete_new,
            engine=engine,
            options=options,
        )

    _refuse_mixed_references(
        from_table=from_table is not None, from_region=from_region, at=at, backups=bool(backup_arn)
    )
    if at is not None and backup_arn is not None:
        refuse("--at and --from-backup both say what to go back to: give one, not both")
    if at is None and backup_arn is None and from_table is None:
        refuse(
            "give --at TIME (PITR) or --from-backup ARN (or --from-table NAME, a table already "
            "restored): the state to go back to"
        )
    if site is not None and whole_table:
        refuse("--site and --whole-table: give one (one site, or every site)")
    if site is None and not whole_table:
        refuse("give --site SITE to repair one site, or --whole-table to repair every site")
    if site is not None and not is_site_id(site):
        refuse(f"--site {site!r}: a FormKiQ site id has letters, digits, '-' and '_'")
    if keep_new and delete_new:
        refuse("--keep-new and --delete-new contradict each other: give --delete-new or neither")
    if backup_arn is not None:
        _check_backup_arns([backup_arn])
    if keep_new:
        click.echo("warning: --keep-new is the default now; the option will go", err=True)

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
            delete_new=delete_new,
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
@click.option(
    "--whole-bucket", is_flag=True, help="Every object in the bucket; not with --site or --prefix."
)
@click.option(
    "--at",
    type=Timestamp(),
    required=True,
    help="Bring each object back to this time, with its zone (Z or +01:00); not in the future.",
)
@click.option("--apply", is_flag=True, help="Change the bucket (default: dry-run).")
@click.option("--backfill-replica", is_flag=True, hidden=True, help="Gone: replicate-existing.")
def restore_documents(
    *,
    site: str | None,
    prefix: str | None,
    whole_bucket: bool,
    at: datetime,
    apply: bool,
    backfill_replica: bool,
    **options: Any,
) -> None:
    """Bring document content back to a point in time from S3 versions.

    Give --site or --prefix; the whole bucket only with --whole-bucket.
    """
    from formkiq_backup.dr.restore_documents import run_restore_documents

    given = [name for name, value in (("--site", site), ("--prefix", prefix)) if value is not None]
    if whole_bucket:
        given.append("--whole-bucket")
    if len(given) > 1:
        refuse(f"{' and '.join(given)}: give one scope (--site, --prefix or --whole-bucket)")
    if not given:
        refuse(
            "give --site SITE or --prefix PREFIX; --whole-bucket to restore every object "
            "in the bucket"
        )
    if prefix == "":
        refuse("--prefix '' is the whole bucket: say --whole-bucket if that is meant")
    if site is not None and not is_site_id(site):
        refuse(f"--site {site!r}: a FormKiQ site id has letters, digits, '-' and '_'")
    if at > datetime.now(UTC):
        refuse(f"--at {utc_text(at)} is in the future: nothing to go back to")
    if backfill_replica:
        refuse(
            "--backfill-replica is gone: objects that predate replication reach the replica "
            "by S3 Batch Replication, `formkiq-dr replicate-existing`"
        )

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
            on_object=lambda: feedback.tick("objects"),
        ),
    )


def _read_outputs(
    stack_outputs: Path | None, options: dict[str, Any]
) -> "StackExpectations | None":
    """The stack's outputs when given: they must be of this environment; they give the region."""
    if stack_outputs is None:
        return None
    expected = _load_outputs(stack_outputs)
    if options["app_env"] != expected.app_environment:
        refuse(
            f"--app-env {options['app_env']!r} disagrees with --stack-outputs {stack_outputs}, "
            f"whose appEnvironment is {expected.app_environment!r}"
        )
    if options["region"] not in (None, expected.primary_region):
        refuse(
            f"--region {options['region']!r} disagrees with --stack-outputs {stack_outputs}, "
            f"whose primaryRegion is {expected.primary_region!r}"
        )
    options["region"] = expected.primary_region
    return expected


STACK_OUTPUTS_OPTION = click.option(
    "--stack-outputs",
    "stack_outputs",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="JSON of `pulumi stack output --json`: the buckets, replicas and role the stack built "
    "(default: the names the program gives them).",
)


@cli.command("replicate-existing")
@common_options
@click.option(
    "--bucket",
    "which",
    type=click.Choice(["documents", "exports", "all"]),
    default="all",
    show_default=True,
    help="Which replicated bucket to backfill.",
)
@STACK_OUTPUTS_OPTION
@click.option("--wait", is_flag=True, help="Follow each job to its end, with progress.")
def replicate_existing(
    *, which: str, stack_outputs: Path | None, wait: bool, **options: Any
) -> None:
    """Replicate objects that predate replication (or failed it): S3 Batch Replication.

    One S3 Batch Operations job per bucket, with a manifest S3 generates of the objects the
    replication rule never copied; completion reports go to the exports bucket.
    """
    from formkiq_backup.dr.replicate_existing import run_replicate_existing
    from formkiq_backup.replication import Replicated

    expected = _read_outputs(stack_outputs, options)
    chosen = list(Replicated) if which == "all" else [Replicated(which)]
    execute(
        "replicate-existing",
        options,
        lambda ctx, report, feedback: run_replicate_existing(
            ctx, report, which=chosen, expected=expected, wait=wait, on_progress=feedback.step
        ),
    )


_DOCUMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@cli.command("purge-replica")
@common_options
@click.option(
    "--document",
    "documents",
    multiple=True,
    required=True,
    metavar="ID",
    help="A document FormKiQ purged (repeatable).",
)
@click.option("--site", default=None, help="The documents' site (default: the default site).")
@STACK_OUTPUTS_OPTION
@click.option("--apply", is_flag=True, help="Delete from the replica (default: dry run).")
def purge_replica(
    *,
    documents: tuple[str, ...],
    site: str | None,
    stack_outputs: Path | None,
    apply: bool,
    **options: Any,
) -> None:
    """Remove purged documents' versions from the replica bucket (replication never does).

    Only documents FormKiQ's bucket no longer holds; names the recovery points that may
    still hold them.
    """
    from formkiq_backup.dr.purge_replica import run_purge_replica

    for document in documents:
        if not _DOCUMENT_ID.fullmatch(document):
            refuse(
                f"--document {document!r}: a FormKiQ document id has letters, digits, '-', '_' "
                "and '.', and no '/' (give the site with --site)"
            )
    if site is not None and not is_site_id(site):
        refuse(f"--site {site!r}: a FormKiQ site id has letters, digits, '-' and '_'")
    expected = _read_outputs(stack_outputs, options)
    execute(
        "purge-replica",
        options,
        lambda ctx, report, _: run_purge_replica(
            ctx, report, documents=list(documents), site=site, expected=expected, apply=apply
        ),
    )


@cli.group()
def users() -> None:
    """Cognito users and their groups, to and from JSON Lines."""


@users.command("export")
@common_options
@click.option(
    "--out",
    "out_name",
    type=click.Path(),
    required=True,
    help="File to write (checked first; replaced only once the export is complete, and not "
    "at all when the pool has no users).",
)
def users_export(*, out_name: str, **options: Any) -> None:
    """Write every user, with attributes and groups, one JSON object a line."""
    from formkiq_backup.dr.paths import NothingWrittenError, replace_when_done
    from formkiq_backup.dr.users import export_users

    out_path = file_path(out_name, "--out")
    check_writable(out_path, "--out")

    def body(ctx: DrContext, report: Report, feedback: Feedback) -> None:
        pool = _user_pool(ctx)
        report.summary.update(users=0, file=str(out_path))
        try:
            with replace_when_done(out_path) as out:
                count = export_users(
                    ctx.client("cognito-idp"), pool, out, lambda: feedback.tick("users")
                )
                if not count:
                    raise NothingWrittenError
        except NothingWrittenError:
            # An empty pool is most often the wrong pool, or one just wiped: keep the last export.
            report.add(
                "export",
                pool,
                Status.WARN,
                f"the pool has no users: nothing matched, {out_path} left as it was",
            )
            report.conclude(Outcome.NOTHING_MATCHED)
            return
        report.add("export", pool, Status.PASS, f"{count} users written to {out_path}")
        report.summary["users"] = count

    execute("users export", options, body)


@users.command("import")
@common_options
@click.argument("in_path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def users_import(*, in_path: Path, **options: Any) -> None:
    """Recreate users without invitations, restore group memberships."""
    from formkiq_backup.dr.users import import_users, open_lines

    def body(ctx: DrContext, report: Report, feedback: Feedback) -> None:
        pool = _user_pool(ctx)
        result = ImportResult()
        try:
            with open_lines(in_path) as lines:  # plain, or the scheduled export's .gz
                import_users(
                    ctx.client("cognito-idp"),
                    pool,
                    lines,
                    ledger=report.ledger,
                    result=result,
                    on_user=lambda: feedback.tick("users"),
                )
        except BaseException:
            _report_import(report, pool, in_path, result, stopped=True)
            raise
        _report_import(report, pool, in_path, result, stopped=False)

    execute("users import", options, body)


def _report_import(
    report: Report, pool: str, in_path: Path, result: ImportResult, *, stopped: bool
) -> None:
    """What the import read and did (so far, when it `stopped`): entries, counts, outcome."""
    for line, problem in result.failed.items():
        report.add("import", line, Status.FAIL, problem)
    done = (
        f"{result.lines} lines read: {len(result.created)} created, {len(result.existing)} "
        f"already there, {len(result.refused)} refused, {result.memberships} group "
        f"memberships added, groups created: {', '.join(result.groups_created) or 'none'}"
    )
    failed = bool(result.failed or result.refused or stopped)
    report.add(
        "import",
        pool,
        Status.FAIL if failed else Status.PASS,
        f"stopped part-way: {done}" if stopped else done,
    )
    report.summary.update(
        read=result.lines,
        created=len(result.created),
        existing=len(result.existing),
        needPasswordReset=result.need_password_reset,
    )
    if not result.lines and not stopped:
        report.add("scope", str(in_path), Status.WARN, "no user in the file: nothing matched")
        report.conclude(Outcome.NOTHING_MATCHED)
    elif not result.changed:
        report.conclude(Outcome.UNCHANGED)


def file_path(value: str, option: str) -> Path:
    """A file named by an option. A name ending in a separator names a folder (`reports/`),
    which pathlib would quietly turn into a file beside it (`reports`): refused, naming it."""
    if value.endswith(("/", os.sep)):
        raise click.BadParameter(
            f"{value}: names a folder; give a file name in it ({value}NAME)",
            param_hint=f"'{option}'",
        )
    return Path(value)


def _user_pool(ctx: DrContext) -> str:
    pool = ctx.environment.user_pool_id
    if not pool:
        raise SetupError(f"no /formkiq/{ctx.app_environment}/cognito/UserPoolId parameter")
    return pool


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="formkiq-dr")
