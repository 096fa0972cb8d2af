"""`formkiq-dr snapshot`: on-demand backups of every protected table, before a risky change.

The guide's "pre-deployment safeguards": DynamoDB on-demand backups (kept until deleted), or,
with a vault, AWS Backup jobs (encrypted with the vault's key, kept `--keep-days` days or until
deleted; a locked vault needs `--keep-days` within its lock's bounds). Each backup is
waited on, so the command only succeeds once every backup can be restored from. Each is in the
report's ledger from the moment it is asked for: a snapshot stopped while waiting still lists
the backups it started, which stay (backups are never deleted by the command that made them).
"""

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from formkiq_backup.dr.context import DrContext, SetupError
from formkiq_backup.dr.ledger import Record
from formkiq_backup.dr.polling import poll_until
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.formkiq import TableFacts

TIMEOUT_SECONDS = 4 * 3600
_BACKUP_JOB_DONE = {"COMPLETED", "FAILED", "ABORTED", "EXPIRED", "PARTIAL"}
# CreateBackup's BackupName: 3 to 255 characters of [a-zA-Z0-9_.-] (DynamoDB API Reference,
# CreateBackup: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateBackup.html).
# The label is a word within it; with a vault it is a recovery point tag's value instead, whose
# characters ([\p{L}\p{Z}\p{N}_.:/=+\-@], up to 256) include these (AWS Backup API Reference,
# KeyValue: https://docs.aws.amazon.com/aws-backup/latest/devguide/API_KeyValue.html).
BACKUP_NAME_MAX = 255
LABEL_MAX = 64
_LABEL = re.compile(r"^[a-zA-Z0-9_.-]+$")


def check_label(label: str) -> str | None:
    """What is wrong with a `--label`, or None."""
    if not _LABEL.match(label):
        return "letters, digits, '_', '.' and '-' only (the characters of a DynamoDB backup name)"
    if len(label) > LABEL_MAX:
        return f"{len(label)} characters: at most {LABEL_MAX}"
    return None


def backup_name(label: str | None, table: str, stamp: str) -> str:
    """`formkiq-dr-[<label>-]<table>-<UTC time>`: which table, when, and why, whole."""
    return f"formkiq-dr-{label + '-' if label else ''}{table}-{stamp}"


def backup_names(label: str | None, tables: list[str], stamp: str) -> dict[str, str]:
    """Each table's backup name, refused (before any backup) where one would not fit: a name
    cut short could lose the table or the time, and two tables' backups share one name."""
    names = {table: backup_name(label, table, stamp) for table in tables}
    too_long = {table: name for table, name in names.items() if len(name) > BACKUP_NAME_MAX}
    if too_long:
        table, name = max(too_long.items(), key=lambda pair: len(pair[1]))
        room = BACKUP_NAME_MAX - len(backup_name(None, table, stamp)) - len("-")
        advice = f"shorten --label to at most {room} characters" if room > 0 else "leave it out"
        raise SetupError(
            f"--label {label!r}: the backup name of table {table} would be {len(name)} "
            f"characters, and DynamoDB allows {BACKUP_NAME_MAX}: {advice}"
        )
    return names


def run_snapshot(
    ctx: DrContext,
    report: Report,
    *,
    label: str | None,
    vault: str | None,
    role_arn: str | None,
    on_progress: Callable[[str], None],
    keep_days: int | None = None,
) -> None:
    """Back up each protected table and wait; one report entry (with the ARN) per table."""
    environment = ctx.environment
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    tables = environment.protected_tables
    names = backup_names(label, [table.name for table in tables], stamp) if not vault else {}
    lifecycle = vault_lifecycle(ctx.client("backup"), vault, keep_days) if vault else {}
    backups: dict[str, str] = {}
    report.summary["backups"] = backups
    for table in tables:
        started = time.monotonic()
        on_progress(f"backing up {table.name}")
        if vault:
            role = role_arn or (
                f"arn:{environment.partition}:iam::{environment.account_id}:"
                "role/service-role/AWSBackupDefaultServiceRole"
            )
            record = _aws_backup(
                report,
                ctx.client("backup"),
                table,
                vault=vault,
                role_arn=role,
                label=label,
                lifecycle=lifecycle,
            )
        else:
            record = _dynamodb_backup(report, ctx.client("dynamodb"), table.name, names[table.name])
        record.entry.seconds = round(time.monotonic() - started, 3)
        if record.resource.arn and record.entry.status is Status.PASS:
            backups[table.name] = record.resource.arn


def _dynamodb_backup(report: Report, dynamodb: Any, table: str, name: str) -> Record:
    record = report.ledger.ask(
        "snapshot",
        "backup",
        name,
        f"DynamoDB backup {name} asked for, no answer yet: it may exist",
        subject=table,
    )
    with record.sending():
        arn = dynamodb.create_backup(TableName=table, BackupName=name)["BackupDetails"]["BackupArn"]
    record.done(f"DynamoDB backup {name} made, still CREATING: kept", status=Status.WARN, arn=arn)
    record.entry.data["arn"] = arn
    state = _wait(
        lambda: dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"][
            "BackupStatus"
        ],
        {"AVAILABLE", "DELETED"},
    )
    if state != "AVAILABLE":
        record.done(f"DynamoDB backup {name} ended {state}", status=Status.FAIL)
    else:
        record.done(f"DynamoDB backup {name} AVAILABLE")
    return record


def vault_lifecycle(backup: Any, vault: str, keep_days: int | None) -> dict[str, Any]:
    """StartBackupJob's `Lifecycle` for `--keep-days`, checked against the vault's lock first.

    A vault with a Vault Lock fails any backup job whose retention is outside the lock's minimum
    and maximum, and a job without a lifecycle is kept until deleted, longer than any maximum
    (AWS Backup API Reference, PutBackupVaultLockConfiguration: "any backup or copy job to the
    vault must have a lifecycle policy with a retention period equal to or shorter than the
    maximum retention period"). Refused here, before any job starts, rather than failed by AWS
    after the first table's job is in.
    """
    described = backup.describe_backup_vault(BackupVaultName=vault)
    locked = bool(described.get("Locked")) or "MinRetentionDays" in described
    low = int(described.get("MinRetentionDays") or 1)
    high = described.get("MaxRetentionDays")
    bounds = f"{low} to {high} days" if high is not None else f"at least {low} days"
    if keep_days is None:
        if high is not None:
            raise SetupError(
                f"--keep-days: vault {vault} has a Vault Lock keeping recovery points {bounds}; "
                "a backup kept until deleted is longer than its maximum, so AWS Backup would "
                f"fail the job: give --keep-days from {low} to {high}"
            )
        return {}
    if locked and (keep_days < low or (high is not None and keep_days > int(high))):
        raise SetupError(
            f"--keep-days {keep_days}: vault {vault} has a Vault Lock keeping recovery points "
            f"{bounds}, and AWS Backup fails a job outside them"
        )
    return {"Lifecycle": {"DeleteAfterDays": keep_days}}


def _aws_backup(
    report: Report,
    backup: Any,
    table: TableFacts,
    *,
    vault: str,
    role_arn: str,
    label: str | None,
    lifecycle: dict[str, Any],
) -> Record:
    record = report.ledger.ask(
        "snapshot",
        "backup job",
        f"{vault}/{table.name}",
        f"AWS Backup job into {vault} asked for, no answer yet: it may have started",
        subject=table.name,
    )
    with record.sending():
        job = backup.start_backup_job(
            BackupVaultName=vault,
            ResourceArn=table.arn,
            IamRoleArn=role_arn,
            RecoveryPointTags={"Application": "FormKiQ", "formkiq-dr": label or "snapshot"},
            **lifecycle,
        )
    job_id = job["BackupJobId"]
    record.resource.name = job_id
    record.done(
        f"AWS Backup job {job_id} started in vault {vault}, not finished: it goes on",
        status=Status.WARN,
        arn=job.get("RecoveryPointArn"),
    )
    described: dict[str, Any] = {}

    def state() -> str:
        described.update(backup.describe_backup_job(BackupJobId=job_id))
        return str(described["State"])

    final = _wait(state, _BACKUP_JOB_DONE)
    point = described.get("RecoveryPointArn") or job.get("RecoveryPointArn", "")
    record.entry.data["arn"] = point
    if final != "COMPLETED":
        message = described.get("StatusMessage", "")
        detail = f"AWS Backup job {job_id} in {vault} ended {final} {message}".rstrip()
        record.done(detail, status=Status.FAIL, arn=point or None)
    else:
        record.done(f"AWS Backup job {job_id} COMPLETED in vault {vault}", arn=point)
    return record


def _wait(read_state: Callable[[], str], done: set[str]) -> str:
    """The final state, or what it still was when the wait gave up (a failed snapshot)."""
    try:
        return poll_until(
            read_state, lambda state: state in done, timeout_seconds=TIMEOUT_SECONDS, what="backup"
        )
    except TimeoutError as error:
        return str(error).removeprefix("backup ")
