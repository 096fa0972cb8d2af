"""S3 replication to the DR region: our rule, the replica buckets' names and who replicates.

The Pulumi program builds from these names, and the posture guard and `formkiq-dr` (verify,
replicate-existing, purge-replica) find the same resources by them, so a name is decided in one
place. Plain data and the standard library only: the recovery tool imports it without Pulumi.
"""

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from formkiq_backup.exports import exports_bucket_name
from formkiq_backup.posture import ExpectedReplication

# The id of our one rule on each source bucket. Replication metrics are published per rule id
# (AmazonS3 userguide, repl-metrics.html: dimensions SourceBucket, DestinationBucket, RuleId),
# and the posture guard finds our rule by it among any others.
RULE_ID = "formkiq-backup-dr"
# FormKiQ's guide's CRR snippet (Priority: 1). With one rule, priority decides nothing; a V2
# rule must carry one all the same (AmazonS3 API_ReplicationRule: Priority with Filter).
RULE_PRIORITY = 1
# Replication Time Control: 15 minutes is the only value S3 accepts, for the time and for the
# metrics event threshold alike (AmazonS3 API_ReplicationTimeValue; API_Metrics).
RTC_MINUTES = 15
# Where replicate-existing's manifests and completion reports go, in the exports bucket.
BATCH_REPORT_PREFIX = "batch-replication/"
# S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens (bucketnamingrules.html).
_MAX_BUCKET_NAME = 63


class Replicated(StrEnum):
    """A bucket the DR side replicates: FormKiQ's documents, and our system exports."""

    DOCUMENTS = "documents"
    EXPORTS = "exports"


def replica_bucket_name(
    app_environment: str, replicated: Replicated, account_id: str, region: str
) -> str:
    """`formkiq-<env>-<documents|exports>-dr-<account>-<region>`, at most 63 characters.

    Bucket names are global: the region is part of the name, so a new drRegion gets new replica
    buckets beside the old ones (retained) instead of a name still taken by them. A long
    environment is cut and made unique again with a digest of the whole value.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", app_environment.lower()).strip("-") or "env"
    tail = f"-{replicated.value}-dr-{account_id}-{region}"
    budget = _MAX_BUCKET_NAME - len("formkiq-") - len(tail)
    if len(slug) > budget:
        digest = hashlib.sha256(app_environment.encode()).hexdigest()[:6]
        slug = f"{slug[: budget - 7].rstrip('-')}-{digest}"
    return f"formkiq-{slug}{tail}"


def replication_role_name(prefix: str, replicated: Replicated) -> str:
    """The role S3 assumes to replicate one bucket (one role per source: least privilege)."""
    return f"{prefix}-{replicated.value}-replication"


def batch_replication_role_name(prefix: str) -> str:
    """The role S3 Batch Operations assumes for `formkiq-dr replicate-existing`."""
    return f"{prefix}-batch-replication"


def role_arn(partition: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{name}"


@dataclass(frozen=True)
class ReplicationPlan:
    """One source bucket replicated to its replica in the DR region, as the stack builds it."""

    replicated: Replicated
    source_bucket: str
    replica_bucket: str
    replica_region: str
    role_arn: str
    partition: str = "aws"

    @property
    def expected(self) -> ExpectedReplication:
        """What the posture guard and verify find on the source bucket when all is well."""
        return ExpectedReplication(
            source_bucket=self.source_bucket,
            rule_id=RULE_ID,
            destination_bucket_arn=f"arn:{self.partition}:s3:::{self.replica_bucket}",
            role_arn=self.role_arn,
            rtc_minutes=RTC_MINUTES,
        )

    def as_output(self) -> dict[str, str]:
        """The `verifyExpectations.replication` entry `formkiq-dr` reads."""
        return {
            "replicated": self.replicated.value,
            "sourceBucket": self.source_bucket,
            "replicaBucket": self.replica_bucket,
            "replicaRegion": self.replica_region,
            "ruleId": RULE_ID,
            "roleArn": self.role_arn,
        }


def planned_replications(
    *,
    app_environment: str,
    account_id: str,
    partition: str,
    prefix: str,
    documents_bucket: str,
    dr_region: str,
    with_exports: bool,
) -> list[ReplicationPlan]:
    """The documents bucket (and the exports bucket when the tier exports) to `dr_region`.

    `prefix` is the primary scope's naming prefix (`formkiq-<env>`): roles are global.
    """
    sources = [(Replicated.DOCUMENTS, documents_bucket)]
    if with_exports:
        sources.append((Replicated.EXPORTS, exports_bucket_name(app_environment, account_id)))
    return [
        ReplicationPlan(
            replicated=replicated,
            source_bucket=source,
            replica_bucket=replica_bucket_name(app_environment, replicated, account_id, dr_region),
            replica_region=dr_region,
            role_arn=role_arn(partition, account_id, replication_role_name(prefix, replicated)),
            partition=partition,
        )
        for replicated, source in sources
    ]
