"""Backup posture checks: PITR on every protected table, versioning on the documents bucket,
a fresh AWS Backup recovery point for every protected resource, and our replication rule on
every bucket the DR side replicates.

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
    COPY = "CopyFresh"
    """The newest copy in the DR region's vault (cross-region copies)."""
    REPLICATION = "ReplicationConfigured"

    @property
    def resource_dimension(self) -> str:
        """The CloudWatch dimension naming the checked resource."""
        return {
            Check.PITR: "TableName",
            Check.VERSIONING: "BucketName",
            Check.RECOVERY_POINT: "ResourceName",
            Check.COPY: "ResourceName",
            Check.REPLICATION: "BucketName",
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
    check: Check = Check.RECOVERY_POINT,
) -> PostureFinding:
    """`vault` must hold a completed recovery point of the resource at most `max_age_hours` old.

    Per resource, because AWS/Backup's job metrics are summed per vault and resource type: two
    healthy tables would hide a third whose backups fail every day. With Check.COPY, `backup`
    is a client of the DR region and `vault` the DR vault: a copy keeps its source's ARN and
    creation date (AWS Backup developer guide, recov-point-create-a-copy.html), so the same
    question finds the newest copy there.
    """
    expected = f"a completed recovery point in {vault} at most {max_age_hours} h old"
    try:
        created = newest_recovery_points(backup, resource_arn).get(vault)
    except (ClientError, BotoCoreError) as error:
        return _unchecked(check, resource, expected, error)
    if created is None:
        observed = f"no completed recovery point in {vault}"
        return PostureFinding(check, resource, False, observed, expected)
    now = now or datetime.now(UTC)
    hours = (now - created).total_seconds() / 3_600
    return PostureFinding(
        check,
        resource,
        is_fresh(created, max_age_hours, now),
        f"newest recovery point {created.isoformat()}, {hours:.1f} h old",
        expected,
        details={"vault": vault, "newest": created.isoformat()},
    )


@dataclass(frozen=True)
class ExpectedReplication:
    """Our replication rule on one source bucket, as the stack configures it."""

    source_bucket: str
    rule_id: str
    destination_bucket_arn: str
    role_arn: str
    rtc_minutes: int = 15

    @property
    def source_bucket_arn(self) -> str:
        """The source's ARN, in the destination's partition (replication stays within one)."""
        return f"{self.destination_bucket_arn.split(':::', 1)[0]}:::{self.source_bucket}"

    def as_json(self) -> dict[str, Any]:
        """For the guard's environment (REPLICATION_RULES) and the stack's outputs."""
        return {
            "sourceBucket": self.source_bucket,
            "ruleId": self.rule_id,
            "destinationBucketArn": self.destination_bucket_arn,
            "roleArn": self.role_arn,
            "rtcMinutes": self.rtc_minutes,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "ExpectedReplication":
        return cls(
            source_bucket=str(value["sourceBucket"]),
            rule_id=str(value["ruleId"]),
            destination_bucket_arn=str(value["destinationBucketArn"]),
            role_arn=str(value["roleArn"]),
            rtc_minutes=int(value.get("rtcMinutes", 15)),
        )


def check_replication(s3: Any, expected: ExpectedReplication) -> PostureFinding:
    """Our rule must be on the source bucket, enabled and complete.

    A bucket has one replication document and PutBucketReplication replaces it whole
    (AmazonS3 API_PutBucketReplication), while CloudFormation's drift detection checks only the
    properties a template declares (API_StackResourceDrift): a FormKiQ update that set its own
    configuration would remove ours unseen. This check is what sees it.
    """
    bucket = expected.source_bucket
    wanted = (
        f"rule {expected.rule_id} enabled: whole bucket to {expected.destination_bucket_arn}, "
        f"delete markers, RTC {expected.rtc_minutes} min with metrics, role {expected.role_arn}"
    )
    try:
        configuration = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ReplicationConfigurationNotFoundError":
            return _unchecked(Check.REPLICATION, bucket, wanted, error)
        observed = "no replication configuration: nothing reaches the DR region (pulumi up)"
        return PostureFinding(Check.REPLICATION, bucket, False, observed, wanted)
    except BotoCoreError as error:
        return _unchecked(Check.REPLICATION, bucket, wanted, error)
    rules = configuration.get("Rules", [])
    ours = next((rule for rule in rules if rule.get("ID") == expected.rule_id), None)
    others = sorted(str(rule.get("ID", "?")) for rule in rules if rule is not ours)
    details = {"otherRules": ", ".join(others)} if others else {}
    if ours is None:
        observed = (
            f"rule {expected.rule_id} is missing; the configuration holds "
            f"{', '.join(others) or 'no rule'}: it was replaced (pulumi up puts ours back, "
            "replacing that)"
        )
        return PostureFinding(Check.REPLICATION, bucket, False, observed, wanted, details=details)
    gaps = replication_gaps(ours, configuration.get("Role", ""), expected)
    observed = f"rule {expected.rule_id} " + ("complete" if not gaps else "; ".join(gaps))
    return PostureFinding(Check.REPLICATION, bucket, not gaps, observed, wanted, details=details)


def replication_gaps(
    rule: Mapping[str, Any], role: str, expected: ExpectedReplication
) -> list[str]:
    """What a replication rule lacks of ours, in words (empty: complete)."""
    gaps = []
    destination = rule.get("Destination", {})
    if rule.get("Status") != "Enabled":
        gaps.append(f"status {rule.get('Status')}")
    if destination.get("Bucket") != expected.destination_bucket_arn:
        gaps.append(f"replicates to {destination.get('Bucket')}")
    if role != expected.role_arn:
        gaps.append(f"role {role or 'none'}")
    filter_ = rule.get("Filter")
    if filter_ is None or filter_ not in ({}, {"Prefix": ""}):
        # No Filter is the V1 schema, which has no RTC and no delete marker replication.
        gaps.append(f"filter {filter_!r} is not the whole bucket" if filter_ else "V1 rule")
    if (rule.get("DeleteMarkerReplication") or {}).get("Status") != "Enabled":
        gaps.append("delete markers not replicated")
    rtc = destination.get("ReplicationTime") or {}
    if rtc.get("Status") != "Enabled" or rtc.get("Time", {}).get("Minutes") != expected.rtc_minutes:
        gaps.append("RTC off")
    metrics = destination.get("Metrics") or {}
    if metrics.get("Status") != "Enabled":
        gaps.append("replication metrics off")
    return gaps


def remediate(
    finding: PostureFinding, dynamodb: Any, s3: Any, minimum_days: int = REQUIRED_PITR_DAYS
) -> PostureFinding:
    """Re-enable what a finding shows disabled, then check again to report the real outcome.

    A stale recovery point is not remediated: a backup job started here would hide why the
    plan's own jobs fail. Nor is a replication rule: putting one replaces the bucket's whole
    replication configuration, which is `pulumi up`'s to decide, with a review.
    """
    if (
        finding.compliant
        or not finding.checked
        or finding.check not in (Check.PITR, Check.VERSIONING)
    ):
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
