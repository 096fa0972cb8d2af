"""BucketReplication: one replication rule on a source bucket, and the role S3 replicates with.

The source bucket may be someone else's (FormKiQ's CloudFormation owns its documents bucket):
this adds a `BucketReplicationConfig` to it and nothing else (no versioning, no lifecycle, no
notifications). A bucket has ONE replication document: PutBucketReplication "creates a new
replication configuration, or replaces an existing one" (AmazonS3 API_PutBucketReplication), and
declaring two `BucketReplicationConfig`s for one bucket makes a perpetual diff (pulumi-aws
s3.BucketReplicationConfig). So there is exactly one rule per source, ours, in one resource.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.policies import documented_trust_policy, policy_document
from formkiq_backup import aws_rules

# The only value S3 accepts for the RTC time and the metrics threshold (API_ReplicationTimeValue).
RTC_MINUTES = 15
# Rule ids: up to 255 characters (AmazonS3 API_ReplicationRule, ID).
_MAX_RULE_ID = 255


@dataclass(frozen=True)
class BucketReplicationArgs:
    """What replicates where, with which role, and which keys are involved."""

    source_bucket: str
    source_bucket_arn: str
    destination_bucket_arn: pulumi.Input[str]
    destination_region: str
    """The replica's region, for the KMS kms:ViaService condition on its key."""
    destination_key_arn: pulumi.Input[str]
    """The replica key: ReplicaKmsKeyID for SSE-KMS source objects."""
    destination_versioning: pulumi.Resource
    """The replica's BucketVersioning: S3 refuses a rule to a bucket not yet versioned."""
    role_name: str
    rule_id: str
    source_region: str
    """The source's region, for the kms:ViaService condition on its key."""
    account_id: str
    partition: str
    source_key_arn: pulumi.Input[str] | None = None
    """The key of an SSE-KMS source (the exports bucket's); None for SSE-S3 (FormKiQ's)."""
    source_dependencies: Sequence[pulumi.Resource] = ()
    """A source this stack builds (the exports bucket): the rule waits for it and its
    versioning. None for FormKiQ's bucket, which exists, versioned, before this stack."""
    priority: int = 1
    rtc_minutes: int = RTC_MINUTES
    region: str | None = None
    """Region of every regional child (the source bucket's); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = aws_rules.resource_name_problems("iam role", self.role_name)
        if self.rtc_minutes != RTC_MINUTES:
            found.append(
                f"rtc_minutes={self.rtc_minutes}: S3 Replication Time Control takes "
                f"{RTC_MINUTES} minutes only (API_ReplicationTimeValue)"
            )
        if not 1 <= len(self.rule_id) <= _MAX_RULE_ID:
            found.append(f"rule id {self.rule_id!r} must have 1..{_MAX_RULE_ID} characters")
        if self.priority < 0:
            found.append(f"priority {self.priority} must be 0 or more")
        if self.source_region == self.destination_region:
            found.append(
                f"source and destination are both in {self.source_region}: cross-region "
                "replication needs two regions"
            )
        return found


class BucketReplication(pulumi.ComponentResource):
    """Every object version written to the source reaches the replica within 15 minutes (RTC).

    One V2 rule (explicit id, whole-bucket filter, priority): RTC and replication metrics exist
    only in V2 rules, which "contain the Filter element" (AmazonS3 userguide,
    replication-add-config.html, backward compatibility); a V2 rule must also state
    DeleteMarkerReplication and Priority (API_ReplicationRule). Delete markers replicate (the
    guide's snippet: a FormKiQ DELETE is undone in both regions alike); deletes by version id
    never do (replication-what-is-isnot-replicated.html), so a FormKiQ purge stays in the replica.
    Objects already in the source before the rule are not replicated: S3 Batch Replication
    (`formkiq-dr replicate-existing`) does that.
    """

    role_arn: pulumi.Output[str]
    rule_id: str

    def __init__(
        self, name: str, args: BucketReplicationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"BucketReplication {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:BucketReplication", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"S3 replicates {args.source_bucket} to the DR region with this role",
            assume_role_policy=documented_trust_policy("s3.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        permissions = aws.iam.RolePolicy(
            f"{name}-permissions",
            role=role.id,
            policy=policy_document(replication_role_statements(args)),
            opts=child,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-config",
            bucket=args.source_bucket,
            role=role.arn,
            rules=[replication_rule(args)],
            region=args.region,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[args.destination_versioning, permissions, *args.source_dependencies],
            ),
        )
        self.role_arn = role.arn
        self.rule_id = args.rule_id
        self.register_outputs({"roleArn": role.arn})


def replication_rule(args: BucketReplicationArgs) -> aws.s3.BucketReplicationConfigRuleArgsDict:
    """Our one rule: the whole bucket, delete markers, RTC with metrics, SSE-KMS objects too.

    SseKmsEncryptedObjects with ReplicaKmsKeyID act only on SSE-KMS (and DSSE-KMS) source
    objects: "If objects in the source bucket are encrypted by using SSE-S3 ... the replica
    objects in the destination bucket use the same type of encryption as the source objects"
    (AmazonS3 userguide, replication-config-for-kms-objects.html). FormKiQ Core's documents are
    SSE-S3, so their replicas are SSE-S3; the two settings are there for SSE-KMS sources (our
    exports bucket, or FormKiQ with its full-encryption module).
    """
    return {
        "id": args.rule_id,
        "status": "Enabled",
        "priority": args.priority,
        # An explicit empty prefix: an empty filter can fall back to the V1 schema, where
        # delete marker replication and RTC are invalid.
        "filter": {"prefix": ""},
        "delete_marker_replication": {"status": "Enabled"},
        "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
        "destination": {
            "bucket": args.destination_bucket_arn,
            "storage_class": "STANDARD",
            "encryption_configuration": {"replica_kms_key_id": args.destination_key_arn},
            # RTC needs the metrics block beside it, both at 15 minutes (API_ReplicationTime,
            # API_Metrics); RTC also turns on the replication metrics the alarms watch.
            "replication_time": {"status": "Enabled", "time": {"minutes": args.rtc_minutes}},
            "metrics": {"status": "Enabled", "event_threshold": {"minutes": args.rtc_minutes}},
        },
    }


def replication_role_statements(args: BucketReplicationArgs) -> list[dict[str, object]]:
    """Least privilege for S3's replication role (AmazonS3 userguide, setting-repl-config-perm-
    overview.html, and replication-config-for-kms-objects.html for the keys): read the source's
    configuration and versions, replicate into the destination, and use a key only where one is.
    """
    destination_objects = pulumi.Output.from_input(args.destination_bucket_arn).apply(
        lambda arn: f"{arn}/*"
    )
    statements: list[dict[str, object]] = [
        {
            "Sid": "ReadSourceConfiguration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": args.source_bucket_arn,
        },
        {
            # GetObjectVersionForReplication, not GetObjectVersion: only it covers SSE-KMS
            # objects (replication-config-for-kms-objects.html).
            "Sid": "ReadSourceVersions",
            "Effect": "Allow",
            "Action": [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
            ],
            "Resource": f"{args.source_bucket_arn}/*",
        },
        {
            "Sid": "ReplicateIntoDestination",
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": destination_objects,
        },
        {
            "Sid": "EncryptReplicas",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": args.destination_key_arn,
            "Condition": _through_s3(
                args.destination_region, args.partition, args.destination_bucket_arn
            ),
        },
    ]
    if args.source_key_arn is not None:
        statements.append(
            {
                "Sid": "DecryptSourceObjects",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": args.source_key_arn,
                "Condition": _through_s3(
                    args.source_region, args.partition, args.source_bucket_arn
                ),
            }
        )
    return statements


def _through_s3(region: str, partition: str, bucket_arn: pulumi.Input[str]) -> dict[str, object]:
    """Only when S3 in `region` asks, for objects of that bucket: the encryption context is the
    bucket ARN with S3 Bucket Keys, the object ARN without (replication-config-for-kms-objects)."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    arn = pulumi.Output.from_input(bucket_arn)
    return {
        "StringEquals": {"kms:ViaService": f"s3.{region}.{suffix}"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, arn.apply(lambda a: f"{a}/*")]},
    }
