"""Backup posture checks: PITR on every protected table, versioning on the documents bucket,
and a fresh AWS Backup recovery point for every protected resource.

The posture-guard Lambda runs these on a schedule and the recovery CLI runs them on demand: one
implementation, so an alarm and a `verify` never disagree. This module ships inside the Lambda
package, so it imports only boto3's exceptions and the standard library.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# FormKiQ's guide: PITR "with a 35-day recovery window"; 35 is also DynamoDB's maximum.
REQUIRED_PITR_DAYS = 35
METRIC_NAMESPACE = "FormKiQ/Backup"
APP_ENVIRONMENT_DIMENSION = "AppEnvironment"


class Check(StrEnum):
    """A posture check, named by the metric it publishes (1 = compliant, 0 = not)."""

    PITR = "PitrCompliant"
    VERSIONING = "VersioningCompliant"
    RECOVERY_POINT = "RecoveryPointFresh"

    @property
    def resource_dimension(self) -> str:
        """The CloudWatch dimension naming the checked resource."""
        return {
            Check.PITR: "TableName",
            Check.VERSIONING: "BucketName",
            Check.RECOVERY_POINT: "ResourceName",
        }[self]


@dataclass(frozen=True)
class PostureFinding:
    """What one check saw on one resource, and whether that meets the rule."""

    check: Check
    resource: str
    compliant: bool
    observed: str
    expected: str
    # False when AWS could not be asked (no access, missing resource): never remediated.
    checked: bool = True
    remediated: bool = False
    details: Mapping[str, str] = field(default_factory=dict)
    """Extra facts for reports, e.g. the PITR window (earliestRestorable, latestRestorable)."""
    error_code: str = ""
    """AWS's error code when the check could not be made (`checked` False), e.g. AccessDenied."""

    def describe(self) -> str:
        """One line for a report or an alarm message."""
        verdict = "OK" if self.compliant else "VIOLATION"
        fixed = " (remediated)" if self.remediated else ""
        return f"{verdict}{fixed} {self.check.value} {self.resource}: {self.observed}"

    def metric_datum(self, app_environment: str) -> dict[str, Any]:
        """The CloudWatch datum the alarms watch; missing data is treated as breaching."""
        return {
            "MetricName": self.check.value,
            "Dimensions": [
                {"Name": APP_ENVIRONMENT_DIMENSION, "Value": app_environment},
                {"Name": self.check.resource_dimension, "Value": self.resource},
            ],
            "Value": 1.0 if self.compliant else 0.0,
            "Unit": "Count",
        }


def check_table_pitr(
    dynamodb: Any, table: str, minimum_days: int = REQUIRED_PITR_DAYS
) -> PostureFinding:
    """PITR must be ENABLED with a recovery period of at least `minimum_days`."""
    expected = f"PITR enabled with a recovery period >= {minimum_days} days"
    try:
        described = dynamodb.describe_continuous_backups(TableName=table)
    except (ClientError, BotoCoreError) as error:
        return _unchecked(Check.PITR, table, expected, error)
    pitr = described["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        return PostureFinding(Check.PITR, table, False, "PITR disabled", expected)
    # Responses from before recovery periods existed omit the field: the period was 35 days.
    days = int(pitr.get("RecoveryPeriodInDays") or REQUIRED_PITR_DAYS)
    observed = f"PITR enabled, {days}-day recovery period"
    window = {
        name: pitr[field_name].isoformat()
        for name, field_name in (
            ("earliestRestorable", "EarliestRestorableDateTime"),
            ("latestRestorable", "LatestRestorableDateTime"),
        )
        if pitr.get(field_name) is not None
    }
    return PostureFinding(
        Check.PITR, table, days >= minimum_days, observed, expected, details=window
    )


def check_bucket_versioning(s3: Any, bucket: str) -> PostureFinding:
    """Versioning must be Enabled: Suspended keeps old versions but protects no new writes."""
    expected = "versioning Enabled"
    try:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except (ClientError, BotoCoreError) as error:
        return _unchecked(Check.VERSIONING, bucket, expected, error)
    observed = f"versioning {status or 'never enabled'}"
    return PostureFinding(Check.VERSIONING, bucket, status == "Enabled", observed, expected)


def newest_recovery_points(backup: Any, resource_arn: str) -> dict[str, datetime]:
    """The newest COMPLETED recovery point of one resource, per vault holding any.

    ListRecoveryPointsByResource lists every vault's points for the resource; partial, expired
    or deleting points restore nothing whole, so only COMPLETED ones count.
    """
    newest: dict[str, datetime] = {}
    pages = backup.get_paginator("list_recovery_points_by_resource").paginate(
        ResourceArn=resource_arn
    )
    for page in pages:
        for point in page.get("RecoveryPoints", []):
            if point.get("Status") != "COMPLETED":
                continue
            vault, created = point["BackupVaultName"], point["CreationDate"]
            if vault not in newest or created > newest[vault]:
                newest[vault] = created
    return newest


def is_fresh(created: datetime, max_age_hours: int | None, now: datetime) -> bool:
    """Whether a recovery point made at `created` still meets an RPO of `max_age_hours`."""
    return max_age_hours is None or now - created <= timedelta(hours=max_age_hours)


def check_recovery_point(
    backup: Any,
    resource: str,
    resource_arn: str,
    vault: str,
    *,
    max_age_hours: int,
    now: datetime | None = None,
) -> PostureFinding:
    """`vault` must hold a completed recovery point of the resource at most `max_age_hours` old.

    Per resource, because AWS/Backup's job metrics are summed per vault and resource type: two
    healthy tables would hide a third whose backups fail every day.
    """
    expected = f"a completed recovery point in {vault} at most {max_age_hours} h old"
    try:
        created = newest_recovery_points(backup, resource_arn).get(vault)
    except (ClientError, BotoCoreError) as error:
        return _unchecked(Check.RECOVERY_POINT, resource, expected, error)
    if created is None:
        observed = f"no completed recovery point in {vault}"
        return PostureFinding(Check.RECOVERY_POINT, resource, False, observed, expected)
    now = now or datetime.now(UTC)
    hours = (now - created).total_seconds() / 3_600
    return PostureFinding(
        Check.RECOVERY_POINT,
        resource,
        is_fresh(created, max_age_hours, now),
        f"newest recovery point {created.isoformat()}, {hours:.1f} h old",
        expected,
        details={"vault": vault, "newest": created.isoformat()},
    )


def remediate(
    finding: PostureFinding, dynamodb: Any, s3: Any, minimum_days: int = REQUIRED_PITR_DAYS
) -> PostureFinding:
    """Re-enable what a finding shows disabled, then check again to report the real outcome.

    A stale recovery point is not remediated: a backup job started here would hide why the
    plan's own jobs fail.
    """
    if finding.compliant or not finding.checked or finding.check is Check.RECOVERY_POINT:
        return finding
    try:
        if finding.check is Check.PITR:
            dynamodb.update_continuous_backups(
                TableName=finding.resource,
                PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": True,
                    "RecoveryPeriodInDays": minimum_days,
                },
            )
            after = check_table_pitr(dynamodb, finding.resource, minimum_days)
        else:
            s3.put_bucket_versioning(
                Bucket=finding.resource, VersioningConfiguration={"Status": "Enabled"}
            )
            after = check_bucket_versioning(s3, finding.resource)
    except (ClientError, BotoCoreError) as error:
        return replace(
            finding, observed=f"{finding.observed}; remediation failed: {_reason(error)}"
        )
    return replace(
        after, remediated=after.compliant, observed=f"{finding.observed} -> now {after.observed}"
    )


def evaluate_posture(
    tables: Sequence[str],
    buckets: Sequence[str],
    dynamodb: Any,
    s3: Any,
    *,
    minimum_pitr_days: int = REQUIRED_PITR_DAYS,
    remediate_violations: bool = False,
) -> list[PostureFinding]:
    """Run every check; optionally remediate what is off. Order: tables, then buckets."""
    findings = [check_table_pitr(dynamodb, table, minimum_pitr_days) for table in tables]
    findings += [check_bucket_versioning(s3, bucket) for bucket in buckets]
    if remediate_violations:
        findings = [remediate(f, dynamodb, s3, minimum_pitr_days) for f in findings]
    return findings


def remediation_notice(findings: Iterable[PostureFinding], app_environment: str) -> str | None:
    """The message for the alarm topic when remediation changed something, else None."""
    touched = [f for f in findings if f.remediated or "remediation failed" in f.observed]
    if not touched:
        return None
    lines = [f"The FormKiQ backup posture guard for {app_environment} changed settings:"]
    lines += [f"  - {finding.describe()}" for finding in touched]
    if any(f.check is Check.PITR and f.remediated for f in touched):
        lines.append(
            "PITR was re-enabled: its restore window starts again now, so earlier points in "
            "time can no longer be restored from PITR (use AWS Backup recovery points)."
        )
    lines.append("Find out who disabled these settings (CloudTrail) before closing this.")
    return "\n".join(lines)


def _unchecked(check: Check, resource: str, expected: str, error: Exception) -> PostureFinding:
    """A check AWS would not answer: not compliant, and never remediated."""
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    observed = f"check failed: {_reason(error)}"
    return PostureFinding(
        check, resource, False, observed, expected, checked=False, error_code=code
    )


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', str(error))}"
    return str(error)
