"""PrivateBucket: the bucket every kind of kept data lands in (exports, audit reports, replicas).

Private: all public access blocked, ACLs off (BucketOwnerEnforced), plain HTTP denied.
Versioned, and encrypted by default with a key of its own (SSE-KMS with an S3 Bucket Key) that
only break-glass roles may delete, disable or re-policy. A lifecycle and a bucket policy whose
statements its owner words (what may delete, who may write). Every resource is protected while
`protect` is on (a downgrade or `pulumi destroy` stops and asks) and retained when it leaves the
program: the bucket stays, so what holds its data readable (the key) and what configures it
stays with it.

Not a component resource of its own: its resources are registered under the component that owns
the bucket (ExportsBucket, ReportsBucket, ReplicaBucket), named after it, so a deployed stack's
resources keep the URNs they had before the three shared this code. A new parent in the URN
would make the engine replace the bucket, and a bucket replaced is a new, empty one.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.guarded_key import guarded_key
from components.policies import Statement, break_glass_only, policy_document
from formkiq_backup import aws_rules

# S3 bucket naming rules: 3-63 characters, lower case letters, digits, dots and hyphens.
_MAX_BUCKET_NAME = 63

LifecycleRule = aws.s3.BucketLifecycleConfigurationRuleArgsDict

# What a bucket of backup data denies to all but the break-glass roles. "If you want to block
# users or accounts from removing or deleting objects from your bucket, you must deny them
# permissions for s3:DeleteObject, s3:DeleteObjectVersion and s3:PutLifecycleConfiguration" (S3
# API reference, PutBucketLifecycleConfiguration; DeleteBucketLifecycle takes the same
# permission): a lifecycle rule anyone else sets expires every object. Then what would lift the
# protection: replacing or removing the policy, and suspending versioning (after which an
# overwrite or a delete removes the only copy). S3 Object Lock was the alternative: it can be
# enabled on an existing bucket but never disabled ("Configuring S3 Object Lock", AmazonS3
# userguide), would lock exports.json and any retention mistake with it, and in governance mode
# still needs a policy denying s3:BypassGovernanceRetention; this policy stays changeable by
# break-glass roles.
PROTECTED_BUCKET_ACTIONS = (
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketVersioning",
)


def insecure_transport_denied(bucket_arn: pulumi.Output[str]) -> dict[str, object]:
    """Deny plain HTTP to the bucket and its objects (AmazonS3 userguide,
    security-best-practices: enforce encryption of data in transit)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, objects_of(bucket_arn)],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_policy_statements(
    bucket_arn: pulumi.Output[str], break_glass_role_arns: Sequence[str], *, sid: str
) -> list[dict[str, object]]:
    """TLS only; deleting objects, and lifting that protection, for break-glass roles only
    (the exports bucket and the replicas: `sid` says which).

    The account's root user can always replace or delete a bucket policy (S3 API reference,
    DeleteBucketPolicy: "the root principal in a bucket owner's account can perform the
    GetBucketPolicy, PutBucketPolicy, and DeleteBucketPolicy API actions, even if their bucket
    policy explicitly denies the root principal's access"): with no break-glass role, it is
    the only way to change this policy again.
    """
    return [
        insecure_transport_denied(bucket_arn),
        break_glass_only(
            sid,
            PROTECTED_BUCKET_ACTIONS,
            [bucket_arn, objects_of(bucket_arn)],
            break_glass_role_arns,
        ),
    ]


def objects_of(bucket_arn: pulumi.Output[str], prefix: str = "") -> pulumi.Output[str]:
    """The ARN of every object of the bucket (under `prefix`, e.g. "reports/")."""
    return bucket_arn.apply(lambda arn: f"{arn}/{prefix}*")


@dataclass(frozen=True, kw_only=True)
class BucketSettings:
    """What every owner of a private bucket is given about it (ExportsBucketArgs,
    ReportsBucketArgs and ReplicaBucketArgs extend it)."""

    bucket_name: str
    key_alias: str
    account_id: str
    partition: str
    break_glass_role_arns: Sequence[str] = ()
    """The only principals allowed to delete, disable or (when there are any) re-policy the key,
    and what the owner's policy denies to everyone else."""
    protect: bool = True
    """Pulumi refuses to delete the bucket, its key and its settings while this is on."""
    region: str | None = None
    """Region of every resource (pulumi-aws 7 `region`); None: the provider's region. A plain
    string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def bucket_problems(self) -> list[str]:
        """What S3 or IAM would refuse in the bucket's name and the break-glass roles."""
        found = []
        name = self.bucket_name
        if not (3 <= len(name) <= _MAX_BUCKET_NAME) or name != name.lower() or "_" in name:
            found.append(
                f"bucket name {name!r} must be 3..63 lower-case letters, digits, dots or hyphens"
            )
        found += [
            f"break-glass principal {arn!r} is not an IAM role ARN"
            for arn in self.break_glass_role_arns
            if not aws_rules.is_iam_role_arn(arn)
        ]
        return found


@dataclass(frozen=True)
class PrivateBucketArgs:
    """What the owner keeps in the bucket: its key's description, lifecycle and policy."""

    key_description: str
    """What the key encrypts, for whoever finds it in the KMS console."""
    lifecycle_rules: Sequence[LifecycleRule]
    policy_statements: Callable[[pulumi.Output[str]], Sequence[Statement]]
    """The bucket policy's statements, given the bucket's ARN."""
    key_statements: Sequence[Statement] = ()
    """Statements granting the key's use to a writer the account's IAM cannot (a service)."""
    transition_default_minimum_object_size: str | None = None
    """PutBucketLifecycleConfiguration's TransitionDefaultMinimumObjectSize; None: not sent."""


class PrivateBucket:
    """A private bucket's resources, registered under `parent` as `<name>-bucket`, `-key`, ..."""

    bucket: aws.s3.Bucket
    key: aws.kms.Key
    versioning: aws.s3.BucketVersioning
    """Replication must wait for it: a rule to an unversioned bucket is refused."""
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    """Objects written by the program itself wait for it, to be encrypted with the key."""

    def __init__(
        self,
        name: str,
        settings: BucketSettings,
        args: PrivateBucketArgs,
        parent: pulumi.ComponentResource,
    ) -> None:
        self._name, self._settings, self._args, self._parent = name, settings, args, parent
        self.key = self._add_key()
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=settings.bucket_name,
            force_destroy=False,
            tags=dict(settings.tags),
            region=settings.region,
            opts=self._kept(),
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            region=settings.region,
            opts=self._kept(),
        )
        self.encryption = self._add_private_settings()
        lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=list(args.lifecycle_rules),
            transition_default_minimum_object_size=args.transition_default_minimum_object_size,
            region=settings.region,
            # Lifecycle rules act on the objects already in the bucket: a shorter retention
            # would delete older data. Every change of the rules is a replacement of a
            # protected resource, so with protectBackups on `pulumi up` stops and asks; retained,
            # so the replacement never deletes the configuration it just put
            # (PutBucketLifecycleConfiguration replaces the whole configuration anyway).
            opts=self._kept(replace_on_changes=["rules"], depends_on=[self.versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=policy_document(args.policy_statements(self.bucket.arn)),
            region=settings.region,
            # The policy may deny PutBucketVersioning and PutLifecycleConfiguration to all but
            # the break-glass roles: it goes on last, so the first deploy can still set them.
            opts=self._kept(depends_on=[self.versioning, lifecycle]),
        )

    @property
    def outputs(self) -> dict[str, pulumi.Output[str]]:
        """The owner's registered outputs: bucket name and ARN, key ARN."""
        return {
            "bucketName": self.bucket.bucket,
            "bucketArn": self.bucket.arn,
            "keyArn": self.key.arn,
        }

    def _kept(self, **options: Any) -> pulumi.ResourceOptions:
        """Retained when removed from the program; protected while `protect` is on."""
        return pulumi.ResourceOptions(
            parent=self._parent, protect=self._settings.protect, retain_on_delete=True, **options
        )

    def _add_key(self) -> aws.kms.Key:
        """The bucket's own key, guarded as the vault key is, and its alias."""
        settings = self._settings
        key = guarded_key(
            f"{self._name}-key",
            description=self._args.key_description,
            partition=settings.partition,
            account_id=settings.account_id,
            break_glass_role_arns=settings.break_glass_role_arns,
            extra_statements=self._args.key_statements,
            tags=settings.tags,
            region=settings.region,
            opts=self._kept(),
        )
        aws.kms.Alias(
            f"{self._name}-key-alias",
            name=settings.key_alias,
            target_key_id=key.key_id,
            region=settings.region,
            # Kept with the key it names: whoever restores later finds the key by it.
            opts=self._kept(),
        )
        return key

    def _add_private_settings(self) -> aws.s3.BucketServerSideEncryptionConfiguration:
        """Default encryption with the bucket's key, no public access, no ACLs."""
        name, region, bucket = self._name, self._settings.region, self.bucket
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": self.key.arn,
                    },
                    # S3 Bucket Keys cut KMS requests (and cost) for the many objects written
                    # here (AmazonS3 userguide, bucket-key).
                    "bucket_key_enabled": True,
                }
            ],
            region=region,
            opts=self._kept(),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=region,
            opts=self._kept(),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            # ACLs off: every object belongs to this account, whoever wrote it (a writer's
            # bucket-owner-full-control is the one ACL still accepted: AmazonS3 userguide,
            # about-object-ownership).
            rule={"object_ownership": "BucketOwnerEnforced"},
            region=region,
            opts=self._kept(),
        )
        return encryption
