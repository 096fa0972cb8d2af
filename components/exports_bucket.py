"""ExportsBucket: the versioned, KMS-encrypted bucket the scheduled system exports land in."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.guarded_key import guarded_key
from components.policies import break_glass_only, policy_document
from formkiq_backup import aws_rules
from formkiq_backup.exports import (
    COGNITO_PREFIX,
    DESCRIPTOR_KEY,
    DYNAMODB_PREFIX,
    INFRASTRUCTURE_PREFIX,
)

# The data prefixes the retention rules apply to; `exports.json` at the root is the stack's
# own description: its current version never expires, its old versions do.
EXPORT_PREFIXES = (DYNAMODB_PREFIX, COGNITO_PREFIX, INFRASTRUCTURE_PREFIX)
# Noncurrent versions (an export re-run on the same day, one past its expiry, an old
# `exports.json`) stay 30 days.
NONCURRENT_DAYS = 30
ABORT_MULTIPART_DAYS = 7
# Transitions skip objects under 128 KB unless a rule's filter says otherwise
# (PutBucketLifecycleConfiguration TransitionDefaultMinimumObjectSize, all_storage_classes_128K,
# the default): stated, so the review shows it. Small objects stay in STANDARD on purpose:
# Glacier Instant Retrieval bills every object as at least 128 KB (AmazonS3 userguide,
# storage-class-intro, "Comparing the Amazon S3 storage classes").
TRANSITION_MINIMUM_OBJECT_SIZE = "all_storage_classes_128K"
# S3 bucket naming rules: 3-63 characters, lower case letters, digits, dots and hyphens.
_MAX_BUCKET_NAME = 63

# What the bucket policy denies to all but the break-glass roles. "If you want to block users or
# accounts from removing or deleting objects from your bucket, you must deny them permissions
# for s3:DeleteObject, s3:DeleteObjectVersion and s3:PutLifecycleConfiguration" (S3 API
# reference, PutBucketLifecycleConfiguration; DeleteBucketLifecycle takes the same permission):
# a lifecycle rule anyone else sets expires every export. Then what would lift the protection:
# replacing or removing this policy, and suspending versioning (after which an overwrite or a
# delete removes the only copy). S3 Object Lock was the alternative: it can be enabled on an
# existing bucket but never disabled ("Configuring S3 Object Lock", AmazonS3 userguide), would
# lock exports.json and any retention mistake with it, and in governance mode still needs a
# policy denying s3:BypassGovernanceRetention; this policy stays changeable by break-glass roles.
PROTECTED_BUCKET_ACTIONS = (
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketVersioning",
)


@dataclass(frozen=True)
class ExportsBucketArgs:
    """Where exports go, who may still delete them, and how long they are kept."""

    bucket_name: str
    key_alias: str
    account_id: str
    partition: str
    retention_days: int
    break_glass_role_arns: Sequence[str] = ()
    """The only principals allowed PROTECTED_BUCKET_ACTIONS, and to delete, disable or (when
    there are any) re-policy the key."""
    descriptor: Mapping[str, Any] | None = None
    """Written to `exports.json`: what the exports promise (read by the monitor and verify)."""
    transition_days: int = aws_rules.GLACIER_IR_TRANSITION_DAYS
    protect: bool = True
    """Pulumi refuses to delete the bucket, its key and its policies while this is on."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = []
        name = self.bucket_name
        if not (3 <= len(name) <= _MAX_BUCKET_NAME) or name != name.lower() or "_" in name:
            found.append(
                f"bucket name {name!r} must be 3..63 lower-case letters, digits, dots or hyphens"
            )
        if self.transition_days != aws_rules.GLACIER_IR_TRANSITION_DAYS:
            found.append(
                f"transition_days={self.transition_days}: FormKiQ's guide moves exports to "
                f"GLACIER_IR after {aws_rules.GLACIER_IR_TRANSITION_DAYS} days"
            )
        found += [
            f"retention_days={self.retention_days}: {rule}"
            for rule in aws_rules.export_retention_problems(self.retention_days, None)
        ]
        found += [
            f"break-glass principal {arn!r} is not an IAM role ARN"
            for arn in self.break_glass_role_arns
            if not aws_rules.is_iam_role_arn(arn)
        ]
        return found


class ExportsBucket(pulumi.ComponentResource):
    """Exports nobody but break-glass roles can delete early.

    Own KMS key rather than the backup vault's: the vault key guards every recovery point, and
    granting S3, DynamoDB exports and three Lambdas the use of it would widen who can decrypt
    them; a key of its own also lets this capability stand without AWS Backup.

    Every child is retained when it leaves the program: the bucket stays, so everything it holds
    and everything configuring it stays too. Deleting `exports.json` from a versioned bucket
    means deleting each of its versions, which the policy denies (a downgrade or `pulumi
    destroy` would stop half-way with AccessDenied); removing the ownership controls, lifecycle
    or policy would change a bucket that is kept; deleting the key would make every export
    unreadable. `protect` makes a downgrade stop and ask.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    descriptor: pulumi.Resource | None
    """The `exports.json` object: whatever reads it on creation must depend on it."""

    def __init__(
        self, name: str, args: ExportsBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"ExportsBucket {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:ExportsBucket", name, None, opts)
        self._name = name
        self._args = args
        self._tags = dict(args.tags)

        key = self._add_key()
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=False,
            tags=self._tags,
            region=args.region,
            opts=self._kept(),
        )
        versioning, encryption = self._add_bucket_settings(bucket, key)
        lifecycle = self._add_lifecycle(bucket, versioning)
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(
                bucket_policy_statements(bucket.arn, args.break_glass_role_arns)
            ),
            region=args.region,
            # The policy denies PutBucketVersioning and PutLifecycleConfiguration to the
            # deployer: both must be in place before it is.
            opts=self._kept(depends_on=[versioning, lifecycle]),
        )
        self.descriptor = self._add_descriptor(bucket, key, encryption)

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs(
            {"bucketName": bucket.bucket, "bucketArn": bucket.arn, "keyArn": key.arn}
        )

    def _kept(self, **options: Any) -> pulumi.ResourceOptions:
        """Retained when removed from the program; protected while protectBackups is on."""
        return pulumi.ResourceOptions(
            parent=self, protect=self._args.protect, retain_on_delete=True, **options
        )

    def _add_key(self) -> aws.kms.Key:
        """The exports key, guarded as the vault key is, and its alias."""
        args = self._args
        key = guarded_key(
            f"{self._name}-key",
            description=f"Encrypts the system exports in s3://{args.bucket_name}",
            partition=args.partition,
            account_id=args.account_id,
            break_glass_role_arns=args.break_glass_role_arns,
            tags=self._tags,
            region=args.region,
            opts=self._kept(),
        )
        aws.kms.Alias(
            f"{self._name}-key-alias",
            name=args.key_alias,
            target_key_id=key.key_id,
            region=args.region,
            # Kept with the key it names: whoever restores later finds the key by it.
            opts=self._kept(),
        )
        return key

    def _add_bucket_settings(
        self, bucket: aws.s3.Bucket, key: aws.kms.Key
    ) -> tuple[aws.s3.BucketVersioning, aws.s3.BucketServerSideEncryptionConfiguration]:
        """Versioning, default encryption with the exports key, no public access, no ACLs."""
        args, name = self._args, self._name
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            region=args.region,
            opts=self._kept(),
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    # S3 Bucket Keys cut KMS requests (and cost) for the many objects an export
                    # writes (AmazonS3 userguide, bucket-key).
                    "bucket_key_enabled": True,
                }
            ],
            region=args.region,
            opts=self._kept(),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=args.region,
            opts=self._kept(),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            # ACLs off: every object belongs to this account, whoever wrote it.
            rule={"object_ownership": "BucketOwnerEnforced"},
            region=args.region,
            opts=self._kept(),
        )
        return versioning, encryption

    def _add_lifecycle(
        self, bucket: aws.s3.Bucket, versioning: aws.s3.BucketVersioning
    ) -> aws.s3.BucketLifecycleConfiguration:
        """The guide's lifecycle, which only a break-glass role may change once deployed."""
        args = self._args
        return aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(args.retention_days, args.transition_days),
            transition_default_minimum_object_size=TRANSITION_MINIMUM_OBJECT_SIZE,
            region=args.region,
            # S3 lifecycle rules apply to the objects already in the bucket, so a lower
            # exportRetentionDays would delete older exports. Every change of the rules is a
            # replacement of a protected resource: with protectBackups on, `pulumi up` stops and
            # asks. Retained, so the replacement never deletes the configuration it just put
            # (PutBucketLifecycleConfiguration replaces the whole configuration anyway).
            opts=self._kept(replace_on_changes=["rules"], depends_on=[versioning]),
        )

    def _add_descriptor(
        self,
        bucket: aws.s3.Bucket,
        key: aws.kms.Key,
        encryption: aws.s3.BucketServerSideEncryptionConfiguration,
    ) -> pulumi.Resource | None:
        """`exports.json`: an update writes a new version, the old one expires in 30 days."""
        args = self._args
        if args.descriptor is None:
            return None
        return aws.s3.BucketObjectv2(
            f"{self._name}-descriptor",
            bucket=bucket.id,
            key=DESCRIPTOR_KEY,
            content=json.dumps(dict(args.descriptor), indent=2, sort_keys=True),
            content_type="application/json",
            server_side_encryption="aws:kms",
            kms_key_id=key.arn,
            tags=self._tags,
            region=args.region,
            # Retained, not protected: removing it would delete every version, which the policy
            # denies; a new content is a new version, never a delete.
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, depends_on=[encryption]
            ),
        )


def bucket_policy_statements(
    bucket_arn: pulumi.Output[str],
    break_glass_role_arns: Sequence[str],
    *,
    sid: str = "OnlyBreakGlassDeletesExportsOrLiftsThisProtection",
) -> list[dict[str, object]]:
    """TLS only; deleting exports, and lifting that protection, for break-glass roles only.

    The account's root user can always replace or delete a bucket policy (S3 API reference,
    DeleteBucketPolicy: "the root principal in a bucket owner's account can perform the
    GetBucketPolicy, PutBucketPolicy, and DeleteBucketPolicy API actions, even if their bucket
    policy explicitly denies the root principal's access"): with no break-glass role, it is
    the only way to change this policy again.
    """
    objects = bucket_arn.apply(lambda arn: f"{arn}/*")
    return [
        {
            # Deny plain HTTP (AmazonS3 userguide, security-best-practices: enforce TLS).
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        break_glass_only(
            sid,
            PROTECTED_BUCKET_ACTIONS,
            [bucket_arn, objects],
            break_glass_role_arns,
        ),
    ]


def lifecycle_rules(
    retention_days: int, transition_days: int
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """The guide's lifecycle: GLACIER_IR after 60 days, expiry after the retention.

    ExpiredObjectDeleteMarker "cannot be specified with Days or Date in a Lifecycle Expiration
    Policy" (AmazonS3 API_LifecycleExpiration), so removing expired delete markers (and
    aborting stale multipart uploads) is a rule of its own over the whole bucket. Old versions
    of `exports.json` (one per `pulumi up` that changes it) expire like any noncurrent export.
    """
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
        {
            "id": f"keep-{prefix.rstrip('/')}-{retention_days}-days",
            "status": "Enabled",
            "filter": {"prefix": prefix},
            "transitions": [{"days": transition_days, "storage_class": "GLACIER_IR"}],
            "expiration": {"days": retention_days},
            "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
        }
        for prefix in EXPORT_PREFIXES
    ]
    rules.append(
        {
            "id": "expire-old-descriptors",
            "status": "Enabled",
            "filter": {"prefix": DESCRIPTOR_KEY},
            "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
        }
    )
    rules.append(
        {
            "id": "tidy-delete-markers-and-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"expired_object_delete_marker": True},
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
        }
    )
    return rules
