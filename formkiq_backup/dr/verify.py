"""`formkiq-dr verify`: the live backup posture, checked against what a tier promises.

PITR and versioning use the same checks as the posture-guard Lambda (formkiq_backup.posture).
A tier's capabilities (tiers.definitions) decide which of the rest are requirements (FAIL when
missing) and which are information.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.config import Tier
from formkiq_backup.dr.context import DrContext, require_access
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.posture import check_bucket_versioning, check_table_pitr
from tiers.definitions import TIERS, Capability

# How many of the newest objects (of one listing page) to ask for their replication status.
REPLICATION_SAMPLE = 10
LISTING_SAMPLE = 1_000
# S3 RTC replicates 99.99% of objects within 15 minutes; older PENDING objects are late.
REPLICATION_LATE_AFTER = timedelta(minutes=15)


def run_verify(
    ctx: DrContext, report: Report, tier: Tier, dr_region: str | None, vaults: Iterable[str]
) -> None:
    """Add one entry per check to `report`."""
    spec = TIERS[tier]
    environment = ctx.environment
    report.summary.update(tier=tier.value, formkiqVersion=environment.version or "unknown")
    dynamodb, s3 = ctx.client("dynamodb"), ctx.client("s3")

    for table in environment.protected_tables:
        finding = require_access(check_table_pitr(dynamodb, table.name))
        window = finding.details
        detail = finding.observed
        if window:
            detail += f"; restorable {_readable(window.get('earliestRestorable'))} to "
            detail += _readable(window.get("latestRestorable"))
        report.add(
            "pitr",
            table.name,
            Status.PASS if finding.compliant else Status.FAIL,
            detail,
            earliestRestorable=window.get("earliestRestorable"),
            latestRestorable=window.get("latestRestorable"),
        )
    bucket = environment.documents_bucket.name
    versioning = require_access(check_bucket_versioning(s3, bucket))
    report.add(
        "versioning",
        bucket,
        Status.PASS if versioning.compliant else Status.FAIL,
        versioning.observed,
    )

    _check_replication(
        ctx, report, bucket, Capability.S3_REPLICATION in spec.capabilities, dr_region
    )
    if Capability.AWS_BACKUP in spec.capabilities or vaults:
        seen_vaults = _check_recovery_points(
            ctx, report, spec.recovery_point_max_age_hours, dr_region
        )
        _check_vault_locks(
            ctx, report, set(vaults) | seen_vaults, Capability.VAULT_LOCK in spec.capabilities
        )
    _check_replicas(ctx, report, dr_region, Capability.GLOBAL_TABLE_REPLICAS in spec.capabilities)
    if Capability.SYSTEM_EXPORTS in spec.capabilities:
        from formkiq_backup.dr.exports import check_export_health

        check_export_health(ctx, report, required=True)


def _readable(iso: str | None) -> str:
    """An ISO time as a reader wants it in a summary, in UTC to the second."""
    if iso is None:
        return "unknown"
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _required(required: bool) -> Status:
    return Status.FAIL if required else Status.INFO


def _check_replication(
    ctx: DrContext, report: Report, bucket: str, required: bool, dr_region: str | None
) -> None:
    s3 = ctx.client("s3")
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ReplicationConfigurationNotFoundError":
            raise
        report.add("replication", bucket, _required(required), "no replication configured")
        return
    enabled = [rule for rule in rules if rule.get("Status") == "Enabled"]
    if not enabled:
        report.add("replication", bucket, _required(required), "replication rules all disabled")
        return
    for rule in enabled:
        destination = rule["Destination"]["Bucket"].split(":::")[-1]
        rtc = (rule["Destination"].get("ReplicationTime") or {}).get("Status") == "Enabled"
        replica_s3 = ctx.client("s3", dr_region) if dr_region else s3
        status = replica_s3.get_bucket_versioning(Bucket=destination).get("Status")
        healthy = status == "Enabled"
        report.add(
            "replication",
            f"{bucket} -> {destination}",
            Status.PASS if healthy else Status.FAIL,
            f"rule {rule.get('ID', '?')} enabled, RTC {'on' if rtc else 'off'}, "
            f"replica versioning {status or 'never enabled'}",
        )
    _check_replica_objects(ctx, report, bucket)


def _check_replica_objects(ctx: DrContext, report: Report, bucket: str) -> None:
    """The replication status of the newest objects: FAILED is a failure, late is a warning.

    S3 cannot list by date, so the sample is the newest objects of one listing page: a bucket
    of millions of documents is never listed whole.
    """
    s3 = ctx.client("s3")
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=LISTING_SAMPLE).get("Contents", [])
    newest = sorted(page, key=lambda obj: obj["LastModified"], reverse=True)[:REPLICATION_SAMPLE]
    now = datetime.now(UTC)
    for obj in newest:
        state = s3.head_object(Bucket=bucket, Key=obj["Key"]).get("ReplicationStatus")
        if state == "FAILED":
            report.add("replica health", obj["Key"], Status.FAIL, "replication FAILED")
        elif state in ("PENDING", None) and now - obj["LastModified"] > REPLICATION_LATE_AFTER:
            why = (
                (
                    "never replicated (predates replication? use restore-documents "
                    "--backfill-replica)"
                )
                if state is None
                else "still PENDING"
            )
            report.add("replica health", obj["Key"], Status.WARN, why)
    report.add("replica health", bucket, Status.INFO, f"checked the {len(newest)} newest objects")


def _check_recovery_points(
    ctx: DrContext, report: Report, max_age_hours: int | None, dr_region: str | None
) -> set[str]:
    """Newest completed recovery point per protected resource and vault, against the RPO."""
    environment = ctx.environment
    resources = [(t.name, t.arn) for t in environment.protected_tables]
    resources += [(b.name, b.arn) for b in environment.protected_buckets]
    regions: list[str | None] = [None] + ([dr_region] if dr_region else [])
    now = datetime.now(UTC)
    vaults: set[str] = set()
    for region in regions:
        backup = ctx.client("backup", region)
        where = region or ctx.region
        for name, arn in resources:
            newest = _newest_recovery_points(backup, arn)
            if region is None:  # vault locks are checked in the primary region
                vaults |= set(newest)
            if not newest:
                report.add(
                    "recovery points",
                    f"{name} ({where})",
                    _required(bool(max_age_hours)),
                    "no completed recovery point in any vault",
                )
                continue
            fresh = False
            for vault, created in sorted(newest.items()):
                age = now - created
                within = max_age_hours is None or age <= timedelta(hours=max_age_hours)
                fresh |= within
                limit = f" (tier allows {max_age_hours} h)" if max_age_hours else ""
                report.add(
                    "recovery points",
                    f"{name} ({where}, {vault})",
                    Status.PASS if within else Status.WARN,
                    f"newest {created.isoformat()}, {_hours(age)} old{limit}",
                    vault=vault,
                    newest=created.isoformat(),
                )
            if max_age_hours and not fresh:
                report.add(
                    "recovery points",
                    f"{name} ({where})",
                    Status.FAIL,
                    f"no vault has a recovery point younger than {max_age_hours} h",
                )
    return vaults


def _newest_recovery_points(backup: Any, resource_arn: str) -> dict[str, datetime]:
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


def _check_vault_locks(ctx: DrContext, report: Report, vaults: set[str], required: bool) -> None:
    backup = ctx.client("backup")
    for vault in sorted(vaults):
        described = backup.describe_backup_vault(BackupVaultName=vault)
        if described.get("Locked"):
            mode = "compliance" if described.get("LockDate") else "governance"
            report.add(
                "vault lock",
                vault,
                Status.PASS,
                f"locked ({mode}), retention {described.get('MinRetentionDays', '-')}.."
                f"{described.get('MaxRetentionDays', '-')} days",
            )
        else:
            report.add("vault lock", vault, _required(required), "not locked")


def _check_replicas(ctx: DrContext, report: Report, dr_region: str | None, required: bool) -> None:
    dynamodb = ctx.client("dynamodb")
    for table in ctx.environment.protected_tables:
        replicas = dynamodb.describe_table(TableName=table.name)["Table"].get("Replicas", [])
        states = {r["RegionName"]: r.get("ReplicaStatus", "?") for r in replicas}
        wanted = dr_region and states.get(dr_region) == "ACTIVE"
        if wanted:
            report.add("global table", table.name, Status.PASS, f"replica in {dr_region} ACTIVE")
        elif states:
            listed = ", ".join(f"{region} {state}" for region, state in sorted(states.items()))
            report.add("global table", table.name, _required(required), f"replicas: {listed}")
        else:
            report.add("global table", table.name, _required(required), "no replicas")


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"
