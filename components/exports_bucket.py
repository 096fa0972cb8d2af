"""ExportsBucket: the versioned, KMS-encrypted bucket the scheduled system exports land in."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.private_bucket import (
    BucketSettings,
    PrivateBucket,
    PrivateBucketArgs,
    bucket_policy_statements,
)
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


@dataclass(frozen=True, kw_only=True)
class ExportsBucketArgs(BucketSettings):
    """Where exports go, who may still delete them (the break-glass roles: the only ones allowed
    PROTECTED_BUCKET_ACTIONS), and how long they are kept."""

    retention_days: int
    descriptor: Mapping[str, Any] | None = None
    """Written to `exports.json`: what the exports promise (read by the monitor and verify)."""
    transition_days: int = aws_rules.GLACIER_IR_TRANSITION_DAYS

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = self.bucket_problems()
        if self.transition_days != aws_rules.GLACIER_IR_TRANSITION_DAYS:
            found.append(
                f"transition_days={self.transition_days}: FormKiQ's guide moves exports to "
                f"GLACIER_IR after {aws_rules.GLACIER_IR_TRANSITION_DAYS} days"
            )
        found += [
            f"retention_days={self.retention_days}: {rule}"
            for rule in aws_rules.export_retention_problems(self.retention_days, None)
        ]
        return found


class ExportsBucket(pulumi.ComponentResource):
    """Exports nobody but break-glass roles can delete early: a private bucket with the guide's
    lifecycle, a policy denying PROTECTED_BUCKET_ACTIONS, and `exports.json`.

    Own KMS key rather than the backup vault's: the vault key guards every recovery point, and
    granting S3, DynamoDB exports and three Lambdas the use of it would widen who can decrypt
    them; a key of its own also lets this capability stand without AWS Backup.

    Everything is retained when it leaves the program (components/private_bucket.py): deleting
    `exports.json` from a versioned bucket means deleting each of its versions, which the
    policy denies, so a downgrade or `pulumi destroy` would otherwise stop half-way with
    AccessDenied. `protect` makes a downgrade stop and ask.
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
        private = PrivateBucket(
            name,
            args,
            PrivateBucketArgs(
                key_description=f"Encrypts the system exports in s3://{args.bucket_name}",
                lifecycle_rules=lifecycle_rules(args.retention_days, args.transition_days),
                transition_default_minimum_object_size=TRANSITION_MINIMUM_OBJECT_SIZE,
                policy_statements=lambda arn: bucket_policy_statements(
                    arn,
                    args.break_glass_role_arns,
                    sid="OnlyBreakGlassDeletesExportsOrLiftsThisProtection",
                ),
            ),
            parent=self,
        )
        self.descriptor = self._add_descriptor(name, args, private)
        self.bucket_name = private.bucket.bucket
        self.bucket_arn = private.bucket.arn
        self.key_arn = private.key.arn
        self.register_outputs(private.outputs)

    def _add_descriptor(
        self, name: str, args: ExportsBucketArgs, private: PrivateBucket
    ) -> pulumi.Resource | None:
        """`exports.json`: an update writes a new version, the old one expires in 30 days."""
        if args.descriptor is None:
            return None
        return aws.s3.BucketObjectv2(
            f"{name}-descriptor",
            bucket=private.bucket.id,
            key=DESCRIPTOR_KEY,
            content=json.dumps(dict(args.descriptor), indent=2, sort_keys=True),
            content_type="application/json",
            server_side_encryption="aws:kms",
            kms_key_id=private.key.arn,
            tags=dict(args.tags),
            region=args.region,
            # Retained, not protected: removing it would delete every version, which the policy
            # denies; a new content is a new version, never a delete.
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, depends_on=[private.encryption]
            ),
        )


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
