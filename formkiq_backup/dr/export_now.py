"""`formkiq-dr export-now`: a DynamoDB export of one table into the exports bucket, now.

The same bucket and `dynamodb/<table>/` prefix the Standard tier's scheduled exports use
(formkiq_backup.exports), so `latest:<table>` finds it. A full export, or with
`--incremental-since` an incremental one (the changes from then to the latest restorable time,
NEW_AND_OLD_IMAGES). Exports read the table's PITR data on AWS's side: no read capacity.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from formkiq_backup.dr.context import DrContext, SetupError
from formkiq_backup.dr.polling import poll_until
from formkiq_backup.dr.repair import resolve_table
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.dr.tables import SourceGuard, check_restorable
from formkiq_backup.exports import exports_bucket_name, table_prefix

EXPORT_TIMEOUT_SECONDS = 24 * 3600
# ExportTableToPointInTime's incremental window ("Exporting incremental data", Amazon DynamoDB
# developer guide): at least 15 minutes, at most 24 hours.
INCREMENTAL_MIN = timedelta(minutes=15)
INCREMENTAL_MAX = timedelta(hours=24)


def export_request(
    table_arn: str,
    bucket: str,
    prefix: str,
    *,
    since: datetime | None,
    at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """ExportTableToPointInTime's request (API Reference: S3Prefix is optional for AWS and
    always sent here: the exports bucket's layout is `dynamodb/<table>/`). `at` exports the
    table as it was then (ExportTime, inside the PITR window); `since` an incremental export."""
    request: dict[str, Any] = {
        "TableArn": table_arn,
        "S3Bucket": bucket,
        "S3Prefix": prefix,
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT",
    }
    if at is not None:
        request["ExportTime"] = at
    if since is None:
        return request
    window = now - since
    if not INCREMENTAL_MIN <= window <= INCREMENTAL_MAX:
        raise SetupError(
            f"--incremental-since {since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: an incremental "
            f"export covers 15 minutes to 24 hours up to now ({window} here); use a full export"
        )
    request.update(
        ExportType="INCREMENTAL_EXPORT",
        IncrementalExportSpecification={
            "ExportFromTime": since,
            "ExportViewType": "NEW_AND_OLD_IMAGES",
        },
    )
    return request


def run_export_now(
    ctx: DrContext,
    report: Report,
    *,
    table_name: str,
    incremental_since: datetime | None,
    wait_for_it: bool,
    at: datetime | None = None,
    on_step: Callable[[str], None],
    now: datetime | None = None,
) -> None:
    """Start an ExportTableToPointInTime of the table into the exports bucket (full, or
    incremental from `incremental_since` to the latest time) and follow it to the end."""
    table = resolve_table(ctx, table_name)
    facts = next(t for t in ctx.environment.protected_tables if t.name == table)
    environment = ctx.environment
    bucket = exports_bucket_name(environment.app_environment, environment.account_id)
    request = export_request(
        facts.arn,
        bucket,
        table_prefix(table),
        since=incremental_since,
        at=at,
        now=now or datetime.now(UTC),
    )
    guard = SourceGuard([t.name for t in environment.protected_tables], [])
    dynamodb = guard.attach(ctx.client("dynamodb"))
    _check_exportable(dynamodb, table, at)
    kind = request["ExportType"].lower().replace("_", " ")
    on_step(f"starting {kind} of {table}")
    started = time.monotonic()
    # Recorded before it is asked for: an answer that never comes may still have started one.
    record = report.ledger.ask(
        "export",
        "export",
        table,
        f"{kind} asked for, no answer yet: it may have started; `aws dynamodb list-exports "
        f"--table-arn {facts.arn}` lists it",
    )
    with record.sending():
        described = dynamodb.export_table_to_point_in_time(**request)["ExportDescription"]
    arn = str(described["ExportArn"])
    report.summary.update(
        table=table,
        exportArn=arn,
        exportType=request["ExportType"],
        bucket=bucket,
        prefix=request["S3Prefix"],
    )
    record.done(f"started: {arn} ({described['ExportStatus']})", arn=arn)
    if not wait_for_it:
        return
    final = _follow(dynamodb, dict(described), on_step=lambda s: on_step(f"export of {table}: {s}"))
    record.entry.seconds = round(time.monotonic() - started, 3)
    if final["ExportStatus"] == "COMPLETED":
        report.summary["itemCount"] = final.get("ItemCount")
        record.done(
            f"COMPLETED: {final.get('ItemCount')} items into s3://{bucket}/{table_prefix(table)}"
            f" (latest:{table_name} names it)",
            arn=arn,
        )
    else:
        why = final.get("FailureMessage") or final.get("FailureCode") or "no reason given"
        record.done(f"{final['ExportStatus']}: {why}", status=Status.FAIL, arn=arn)


def _check_exportable(dynamodb: Any, table: str, at: datetime | None) -> None:
    """An export reads the table's PITR data: without PITR DynamoDB answers
    PointInTimeRecoveryUnavailableException, and an ExportTime outside the restorable window
    InvalidExportTimeException (API Reference, ExportTableToPointInTime). Refused first."""
    described = dynamodb.describe_continuous_backups(TableName=table)
    pitr = described["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    status = str(pitr.get("PointInTimeRecoveryStatus", "off"))
    if status != "ENABLED":
        raise SetupError(
            f"table {table} has PITR {status.lower()}: DynamoDB exports read PITR data, so "
            "there is nothing to export until PITR is on"
        )
    if at is not None:
        check_restorable(dynamodb, table, at)  # the same window as a restore's


def _follow(
    dynamodb: Any, described: dict[str, Any], *, on_step: Callable[[str], None]
) -> dict[str, Any]:
    """DescribeExport until the export is no longer IN_PROGRESS; its last description."""

    def state() -> str:
        described.update(
            dynamodb.describe_export(ExportArn=described["ExportArn"])["ExportDescription"]
        )
        on_step(str(described["ExportStatus"]))
        return str(described["ExportStatus"])

    poll_until(
        state,
        lambda status: status != "IN_PROGRESS",
        timeout_seconds=EXPORT_TIMEOUT_SECONDS,
        what=str(described["ExportArn"]),
    )
    return described
