"""ExportsBucket: the versioned, KMS-encrypted bucket the scheduled system exports land in."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.policies import key_policy, policy_document
from formkiq_backup import aws_rules
from formkiq_backup.exports import (
    COGNITO_PREFIX,
    DESCRIPTOR_KEY,
    DYNAMODB_PREFIX,
    INFRASTRUCTURE_PREFIX,
)

# The data prefixes the retention rules apply to; `exports.json` at the root is the stack's
# own description and never expires.
EXPORT_PREFIXES = (DYNAMODB_PREFIX, COGNITO_PREFIX, INFRASTRUCTURE_PREFIX)
# Noncurrent versions (an export re-run on the same day, or one past its expiry) stay 30 days.
NONCURRENT_DAYS = 30
ABORT_MULTIPART_DAYS = 7
# S3 bucket naming rules: 3-63 characters, lower case letters, digits, dots and hyphens.
_MAX_BUCKET_NAME = 63


@dataclass(frozen=True)
class ExportsBucketArgs:
    """Where exports go, who may still delete their versions, and how long they are kept."""

    bucket_name: str
    key_alias: str
    account_id: str
    partition: str
    retention_days: int
    break_glass_role_arns: Sequence[str] = ()
    """The only principals allowed s3:DeleteObjectVersion, and to delete or disable the key."""
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
    them; a key of its own also lets this capability stand without AWS Backup. The bucket,
    key, policy, versioning and encryption are always retained when removed from the program
    (deleting the key would make every export unreadable); `protect` makes a downgrade stop
    and ask.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ExportsBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"ExportsBucket {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:ExportsBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True)
        tags = dict(args.tags)
        region = args.region

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the system exports in s3://{args.bucket_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy(
                args.partition,
                args.account_id,
                _break_glass_only(
                    "OnlyBreakGlassDeletesKey",
                    ["kms:ScheduleKeyDeletion", "kms:DisableKey"],
                    "*",
                    args.break_glass_role_arns,
                ),
            ),
            tags=tags,
            region=region,
            opts=kept,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=args.key_alias,
            target_key_id=key.key_id,
            region=region,
            opts=child,
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=False,
            tags=tags,
            region=region,
            opts=kept,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            region=region,
            opts=kept,
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
            region=region,
            opts=kept,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=region,
            opts=kept,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            # ACLs off: every object belongs to this account, whoever wrote it.
            rule={"object_ownership": "BucketOwnerEnforced"},
            region=region,
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(self._policy_statements(bucket.arn, args)),
            region=region,
            opts=kept,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(args.retention_days, args.transition_days),
            region=region,
            # S3 lifecycle rules apply to the objects already in the bucket, so a lower
            # exportRetentionDays would delete older exports. Every change of the rules is a
            # replacement of a protected resource: with protectBackups on, `pulumi up` stops and
            # asks. Retained, so the replacement never deletes the configuration it just put
            # (PutBucketLifecycleConfiguration replaces the whole configuration anyway).
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                retain_on_delete=True,
                replace_on_changes=["rules"],
                depends_on=[versioning],
            ),
        )
        if args.descriptor is not None:
            aws.s3.BucketObjectv2(
                f"{name}-descriptor",
                bucket=bucket.id,
                key=DESCRIPTOR_KEY,
                content=json.dumps(dict(args.descriptor), indent=2, sort_keys=True),
                content_type="application/json",
                server_side_encryption="aws:kms",
                kms_key_id=key.arn,
                tags=tags,
                region=region,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[encryption]),
            )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs(
            {"bucketName": bucket.bucket, "bucketArn": bucket.arn, "keyArn": key.arn}
        )

    @staticmethod
    def _policy_statements(
        bucket_arn: pulumi.Output[str], args: ExportsBucketArgs
    ) -> list[dict[str, object]]:
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
            _break_glass_only(
                "OnlyBreakGlassDeletesVersions",
                ["s3:DeleteObjectVersion"],
                objects,
                args.break_glass_role_arns,
            ),
        ]


def lifecycle_rules(
    retention_days: int, transition_days: int
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """The guide's lifecycle: GLACIER_IR after 60 days, expiry after the retention.

    ExpiredObjectDeleteMarker "cannot be specified with Days or Date in a Lifecycle Expiration
    Policy" (AmazonS3 API_LifecycleExpiration), so removing expired delete markers (and
    aborting stale multipart uploads) is a rule of its own over the whole bucket.
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
            "id": "tidy-delete-markers-and-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"expired_object_delete_marker": True},
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
        }
    )
    return rules


def _break_glass_only(
    sid: str, actions: list[str], resource: object, break_glass_role_arns: Sequence[str]
) -> dict[str, object]:
    """Deny `actions` to every principal except the break-glass roles (none: to all)."""
    statement: dict[str, object] = {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": actions,
        "Resource": resource,
    }
    if break_glass_role_arns:
        statement["Condition"] = {"ArnNotLike": {"aws:PrincipalArn": sorted(break_glass_role_arns)}}
    return statement
