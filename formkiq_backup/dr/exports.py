"""`formkiq-dr verify`, standard and up: is the newest export of every data set good?

The guide's "Metadata Integrity Check" made real. The checks are the export monitor Lambda's
(formkiq_backup.exports), so an alarm and a verify never disagree; only the verdicts differ:
verify fails a missing export at once, where the monitor waits until the first is due.
"""

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.aws_rules import parse_export_schedule
from formkiq_backup.config import DEFAULT_EXPORT_SCHEDULE
from formkiq_backup.dr.context import DrContext
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.exports import (
    DESCRIPTOR_KEY,
    ExportExpectations,
    TableExpectation,
    check_exports,
    exports_bucket_name,
    max_age_days,
    read_expectations,
)

SECTION = "exports"


def now() -> datetime:
    """The time exports are judged at (a function, so tests can move it)."""
    return datetime.now(UTC)


def check_export_health(ctx: DrContext, report: Report, required: bool) -> None:
    """One entry per data set; FAIL (or INFO when the tier does not promise exports)."""
    environment = ctx.environment
    s3, dynamodb = ctx.client("s3"), ctx.client("dynamodb")
    bucket = exports_bucket_name(environment.app_environment, environment.account_id)
    bad = Status.FAIL if required else Status.INFO
    if not bucket_exists(s3, bucket):
        report.add(SECTION, bucket, bad, "no exports bucket: are the system exports deployed?")
        return
    expectations = read_expectations(s3, bucket)
    if expectations is None:
        default = parse_export_schedule(DEFAULT_EXPORT_SCHEDULE)
        expectations = ExportExpectations(
            app_environment=environment.app_environment,
            bucket=bucket,
            schedule=default.expression,
            max_age_days=max_age_days(default.longest_gap),
            retention_days=0,
            tables=tuple(TableExpectation(t.name, t.arn) for t in environment.protected_tables),
            user_pool_id=environment.user_pool_id,
        )
        report.add(
            SECTION,
            bucket,
            Status.WARN,
            f"no {DESCRIPTOR_KEY}: judged against the default schedule {default.expression}",
        )
    report.summary["exportsBucket"] = bucket
    for finding in check_exports(dynamodb, s3, expectations, now()):
        status = Status.WARN if finding.warning else Status.PASS
        if not finding.healthy:
            status = bad
        detail = f"{finding.detail}; {finding.warning}" if finding.warning else finding.detail
        report.add(
            SECTION,
            finding.export_set,
            status,
            f"{finding.state.value.upper()}: {detail}",
            state=finding.state.value,
            maxAgeDays=expectations.max_age_days,
            **dict(finding.data),
        )


def bucket_exists(s3: Any, bucket: str) -> bool:
    """HeadBucket: True when the bucket is there, False when it is not; other errors raise."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
        return False
    return True
