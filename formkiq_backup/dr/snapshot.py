"""`formkiq-dr snapshot`: on-demand backups of every protected table, before a risky change.

The guide's "pre-deployment safeguards": DynamoDB on-demand backups (kept until deleted), or,
with a vault, AWS Backup jobs (kept by the vault's rules, encrypted with its key). Each backup is
waited on, so the command only succeeds once every backup can be restored from.
"""

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from formkiq_backup.dr.context import DrContext
from formkiq_backup.dr.polling import poll_until
from formkiq_backup.dr.report import Report, Status

TIMEOUT_SECONDS = 4 * 3600
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")
_BACKUP_JOB_DONE = {"COMPLETED", "FAILED", "ABORTED", "EXPIRED", "PARTIAL"}


def run_snapshot(
    ctx: DrContext,
    report: Report,
    *,
    label: str | None,
    vault: str | None,
    role_arn: str | None,
    on_progress: Callable[[str], None],
) -> None:
    """Back up each protected table and wait; one report entry (with the ARN) per table."""
    environment = ctx.environment
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    backups: dict[str, str] = {}
    for table in environment.protected_tables:
        started = time.monotonic()
        on_progress(f"backing up {table.name}")
        if vault:
            role = role_arn or (
                f"arn:{environment.partition}:iam::{environment.account_id}:"
                "role/service-role/AWSBackupDefaultServiceRole"
            )
            status, arn, detail = _aws_backup(ctx.client("backup"), vault, role, table.arn, label)
        else:
            name = _NAME_UNSAFE.sub(
                "-", f"formkiq-dr-{label + '-' if label else ''}{table.name}-{stamp}"
            )[:255]
            status, arn, detail = _dynamodb_backup(ctx.client("dynamodb"), table.name, name)
        seconds = time.monotonic() - started
        report.add("snapshot", table.name, status, detail, seconds, arn=arn)
        if arn and status is Status.PASS:
            backups[table.name] = arn
    report.summary["backups"] = backups


def _dynamodb_backup(dynamodb: Any, table: str, name: str) -> tuple[Status, str, str]:
    arn = dynamodb.create_backup(TableName=table, BackupName=name)["BackupDetails"]["BackupArn"]
    state = _wait(
        lambda: dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"][
            "BackupStatus"
        ],
        {"AVAILABLE", "DELETED"},
    )
    if state != "AVAILABLE":
        return Status.FAIL, arn, f"DynamoDB backup {name} ended {state}"
    return Status.PASS, arn, f"DynamoDB backup {name} AVAILABLE"


def _aws_backup(
    backup: Any, vault: str, role_arn: str, resource_arn: str, label: str | None
) -> tuple[Status, str, str]:
    job = backup.start_backup_job(
        BackupVaultName=vault,
        ResourceArn=resource_arn,
        IamRoleArn=role_arn,
        RecoveryPointTags={"Application": "FormKiQ", "formkiq-dr": label or "snapshot"},
    )
    job_id = job["BackupJobId"]
    described: dict[str, Any] = {}

    def state() -> str:
        described.update(backup.describe_backup_job(BackupJobId=job_id))
        return str(described["State"])

    final = _wait(state, _BACKUP_JOB_DONE)
    point = described.get("RecoveryPointArn") or job.get("RecoveryPointArn", "")
    if final != "COMPLETED":
        message = described.get("StatusMessage", "")
        detail = f"AWS Backup job {job_id} in {vault} ended {final} {message}".rstrip()
        return Status.FAIL, point, detail
    return Status.PASS, point, f"AWS Backup job {job_id} COMPLETED in vault {vault}"


def _wait(read_state: Callable[[], str], done: set[str]) -> str:
    """The final state, or what it still was when the wait gave up (a failed snapshot)."""
    try:
        return poll_until(
            read_state, lambda state: state in done, timeout_seconds=TIMEOUT_SECONDS, what="backup"
        )
    except TimeoutError as error:
        return str(error).removeprefix("backup ")
