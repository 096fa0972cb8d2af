"""`formkiq-dr verify`'s checks of the DR region: what a failover would find there.

- Replication: our rule on each replicated bucket, complete (the posture guard's own check,
  formkiq_backup.posture.check_replication), and a replica that is versioned.
- Copies: each protected resource's newest completed recovery point in the DR vault, within the
  tier's age limit (a copy keeps its source's creation date).
- Replicas: the newest documents, each present in the replica bucket at the same version id
  (replication keeps version ids) with the same size and checksum.

What the stack built comes from `--stack-outputs`; without it, from the names the program gives
(formkiq_backup.replication, tiers.scope), for the tier and --dr-region given.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.dr.context import DrContext, require_access
from formkiq_backup.dr.expectations import StackExpectations
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.posture import Check, check_recovery_point, check_replication
from formkiq_backup.replication import Replicated, ReplicationPlan, planned_replications
from tiers.definitions import Capability, TierSpec
from tiers.scope import Naming, ScopeRole

# How many of the newest objects (of one listing page) are compared with their replicas.
REPLICA_SAMPLE = 10
LISTING_SAMPLE = 1_000
# S3 RTC replicates 99.99% of objects within 15 minutes; older PENDING objects are late.
REPLICATION_LATE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class DrExpectations:
    """What verify should find in the DR region, and whether the tier requires it."""

    replications: Sequence[ReplicationPlan]
    replication_required: bool
    dr_vault: str | None
    dr_region: str | None
    max_age_hours: int | None


def dr_expectations(
    ctx: DrContext, spec: TierSpec, dr_region: str | None, expected: StackExpectations | None
) -> DrExpectations:
    """From the stack's outputs when given, else from the tier and the program's names."""
    if expected is not None:
        dr_vaults = [v for v in expected.vaults if v.region and v.region != expected.primary_region]
        return DrExpectations(
            replications=expected.replication,
            replication_required=bool(expected.replication),
            dr_vault=dr_vaults[0].name if dr_vaults else None,
            dr_region=expected.dr_region,
            max_age_hours=dr_vaults[0].max_recovery_point_age_hours if dr_vaults else None,
        )
    replicates = Capability.S3_REPLICATION in spec.capabilities
    copies = Capability.CROSS_REGION_COPIES in spec.capabilities
    plans = tier_replications(ctx, spec, dr_region) if dr_region else []
    vault = Naming.for_environment(ctx.app_environment, ScopeRole.DR).backup_vault()
    return DrExpectations(
        replications=plans,
        replication_required=replicates,
        dr_vault=vault if copies and dr_region else None,
        dr_region=dr_region,
        max_age_hours=spec.recovery_point_max_age_hours,
    )


def tier_replications(ctx: DrContext, spec: TierSpec, dr_region: str) -> list[ReplicationPlan]:
    """The replications a stack of this tier makes to `dr_region`, by the program's names."""
    if Capability.S3_REPLICATION not in spec.capabilities:
        return []
    environment = ctx.environment
    return planned_replications(
        app_environment=environment.app_environment,
        account_id=environment.account_id,
        partition=environment.partition,
        prefix=Naming.for_environment(environment.app_environment).prefix,
        documents_bucket=environment.documents_bucket.name,
        dr_region=dr_region,
        with_exports=Capability.SYSTEM_EXPORTS in spec.capabilities,
    )


def check_replication_setup(ctx: DrContext, report: Report, wanted: DrExpectations) -> None:
    """Our rule on each replicated bucket, complete, to a versioned replica."""
    bucket = ctx.environment.documents_bucket.name
    if not wanted.replications:
        if wanted.replication_required:
            report.add(
                "replication",
                bucket,
                Status.FAIL,
                "the tier replicates to drRegion: give --dr-region (or --stack-outputs) to "
                "check it",
            )
        else:
            report.add("replication", bucket, Status.INFO, _configured_rules(ctx, bucket))
        return
    s3 = ctx.client("s3")
    for plan in wanted.replications:
        finding = require_access(check_replication(s3, plan.expected))
        detail = finding.observed
        if finding.compliant:
            replica = ctx.client("s3", plan.replica_region)
            status = replica.get_bucket_versioning(Bucket=plan.replica_bucket).get("Status")
            detail += f"; replica {plan.replica_bucket} ({plan.replica_region}) versioning "
            detail += status or "never enabled"
            ok = status == "Enabled"
        else:
            ok = False
        report.add(
            "replication",
            plan.source_bucket,
            Status.PASS if ok else Status.FAIL,
            detail,
            replica=plan.replica_bucket,
            replicaRegion=plan.replica_region,
        )
        if plan.replicated is Replicated.DOCUMENTS and finding.compliant:
            check_replica_sample(ctx, report, plan)


def _configured_rules(ctx: DrContext, bucket: str) -> str:
    """For tiers without replication: what the bucket has anyway, as information."""
    try:
        configuration = ctx.client("s3").get_bucket_replication(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ReplicationConfigurationNotFoundError":
            raise
        return "no replication configured"
    rules = configuration["ReplicationConfiguration"].get("Rules", [])
    return "replication rules: " + ", ".join(str(rule.get("ID", "?")) for rule in rules)


def check_replica_sample(ctx: DrContext, report: Report, plan: ReplicationPlan) -> None:
    """The newest documents, each in the replica at the same version, size and checksum.

    S3 cannot list by date, so the sample is the newest objects of one listing page: a bucket
    of millions of documents is never listed whole. Replication keeps version ids (AmazonS3
    userguide, replication-what-is-isnot-replicated.html), so the replica is asked for the very
    version the source holds.
    """
    source = ctx.client("s3")
    replica = ctx.client("s3", plan.replica_region)
    page = source.list_objects_v2(Bucket=plan.source_bucket, MaxKeys=LISTING_SAMPLE)
    newest = sorted(page.get("Contents", []), key=lambda o: o["LastModified"], reverse=True)
    newest = newest[:REPLICA_SAMPLE]
    now = datetime.now(UTC)
    matched = 0
    for listed in newest:
        head = source.head_object(Bucket=plan.source_bucket, Key=listed["Key"])
        status, detail = _compare(replica, plan.replica_bucket, listed["Key"], head, now)
        matched += status is Status.PASS
        report.add("replica", listed["Key"], status, detail, versionId=head.get("VersionId"))
    report.add(
        "replica",
        plan.replica_bucket,
        Status.INFO,
        f"{matched} of the {len(newest)} newest documents found in the replica, same version",
    )


def _compare(
    replica: Any, bucket: str, key: str, head: dict[str, Any], now: datetime
) -> tuple[Status, str]:
    """One object against its replica: its replication status first, then the replica."""
    state = head.get("ReplicationStatus")
    if state != "COMPLETED":
        return _not_replicated(state, now - head["LastModified"])
    version = head.get("VersionId")
    try:
        copy = replica.head_object(Bucket=bucket, Key=key, VersionId=version)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NoSuchVersion"):
            raise
        return Status.FAIL, f"replication says {state}, but the replica has no version {version}"
    problems = []
    if copy.get("ContentLength") != head.get("ContentLength"):
        problems.append(f"size {copy.get('ContentLength')} != {head.get('ContentLength')}")
    if _checksum(copy) != _checksum(head):
        problems.append(f"checksum {_checksum(copy)} != {_checksum(head)}")
    if problems:
        return Status.FAIL, f"version {version}: " + "; ".join(problems)
    return Status.PASS, f"version {version}, {head.get('ContentLength')} bytes, same checksum"


def _not_replicated(state: str | None, age: timedelta) -> tuple[Status, str]:
    """An object S3 has not (yet) replicated, by its ReplicationStatus (HeadObject)."""
    if state is None:
        return Status.WARN, (
            "never replicated: it predates the replication rule (formkiq-dr replicate-existing)"
        )
    if state == "FAILED":
        return Status.FAIL, "replication FAILED (formkiq-dr replicate-existing re-drives it)"
    if age > REPLICATION_LATE_AFTER:
        return Status.WARN, f"still {state} after {int(age.total_seconds() // 60)} min"
    return Status.INFO, "replicating (written less than 15 minutes ago)"


def _checksum(head: dict[str, Any]) -> str:
    """The object's checksum as S3 reports it: an additional checksum when it has one, else
    its ETag (the MD5 of an SSE-S3 single-part object: the same in source and replica)."""
    for algorithm in ("ChecksumSHA256", "ChecksumSHA1", "ChecksumCRC32C", "ChecksumCRC32"):
        if head.get(algorithm):
            return f"{algorithm.removeprefix('Checksum')}:{head[algorithm]}"
    return str(head.get("ETag", "")).strip('"')


def check_dr_copies(
    ctx: DrContext,
    report: Report,
    wanted: DrExpectations,
    resources: Sequence[tuple[str, str]] | None = None,
    *,
    stale: Status = Status.FAIL,
) -> None:
    """Each protected resource's newest completed copy in the DR vault, within the age limit:
    the posture guard's own check (Check.COPY), asked in drRegion.

    `resources` (name, ARN) default to FormKiQ's protected tables and bucket; a copy older than
    the limit is `stale` (failover-check: a warning, since it can still be restored).
    """
    if wanted.dr_vault is None or wanted.dr_region is None:
        return
    backup = ctx.client("backup", wanted.dr_region)
    if resources is None:
        environment = ctx.environment
        resources = [(t.name, t.arn) for t in environment.protected_tables]
        resources += [(b.name, b.arn) for b in environment.protected_buckets]
    limit = f" (tier allows {wanted.max_age_hours} h)" if wanted.max_age_hours else ""
    for name, arn in resources:
        finding = require_access(
            check_recovery_point(
                backup,
                name,
                arn,
                wanted.dr_vault,
                max_age_hours=wanted.max_age_hours or 0,
                check=Check.COPY,
            )
        )
        found = "newest" in finding.details
        fresh = finding.compliant or (not wanted.max_age_hours and found)
        report.add(
            "dr copies",
            f"{name} ({wanted.dr_region}, {wanted.dr_vault})",
            Status.PASS if fresh else stale if found else Status.FAIL,
            finding.observed + (limit if "newest" in finding.details else ""),
            newest=finding.details.get("newest"),
        )
