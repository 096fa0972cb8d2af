"""ReplicaBucket: the versioned bucket in the DR region that S3 replication copies into."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.exports_bucket import bucket_policy_statements
from components.guarded_key import guarded_key
from components.policies import policy_document
from formkiq_backup import aws_rules

# S3 bucket naming rules: 3-63 characters, lower case letters, digits, dots and hyphens.
_MAX_BUCKET_NAME = 63
# Older versions of replicated objects (overwritten or deleted in the source, and so here) move
# to Glacier Instant Retrieval after this many days: cheaper, still readable in milliseconds
# (AmazonS3 API_NoncurrentVersionTransition; storage-class-intro: S3 Glacier Instant Retrieval).
NONCURRENT_TO_GLACIER_IR_DAYS = 30


@dataclass(frozen=True)
class ReplicaBucketArgs:
    """Where replicas land and who may still delete their versions."""

    bucket_name: str
    key_alias: str
    account_id: str
    partition: str
    break_glass_role_arns: Sequence[str] = ()
    """The only principals allowed s3:DeleteObjectVersion, and to delete or disable the key."""
    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = ()
    """Default: noncurrent versions to GLACIER_IR, nothing ever expires. S3 does not replicate
    lifecycle actions (AmazonS3 userguide, replication-what-is-isnot-replicated.html), so a
    replica that should expire like its source needs the source's rules here."""
    protect: bool = True
    """Pulumi refuses to delete the bucket, its key and policies while this is on."""
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
        found += [
            f"break-glass principal {arn!r} is not an IAM role ARN"
            for arn in self.break_glass_role_arns
            if not aws_rules.is_iam_role_arn(arn)
        ]
        return found

    @property
    def rules(self) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
        return list(self.lifecycle_rules) or [
            {
                "id": f"noncurrent-to-glacier-ir-after-{NONCURRENT_TO_GLACIER_IR_DAYS}-days",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "noncurrent_version_transitions": [
                    {
                        "noncurrent_days": NONCURRENT_TO_GLACIER_IR_DAYS,
                        "storage_class": "GLACIER_IR",
                    }
                ],
            }
        ]


class ReplicaBucket(pulumi.ComponentResource):
    """A replica nobody but break-glass roles can delete versions from.

    Versioned (S3 replicates only between versioned buckets: AmazonS3 userguide,
    replication-requirements.html), encrypted by default with a key of its own, public access
    blocked, TLS only. The default encryption applies to what S3 itself writes here; replicas of
    SSE-S3 source objects stay SSE-S3 whatever the destination's default says
    (replication-config-for-kms-objects.html). The bucket, its key and every setting are
    retained when removed from the program; `protect` makes a downgrade stop and ask.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    versioning: pulumi.Resource
    """Replication must wait for it: a rule to an unversioned bucket is refused."""

    def __init__(
        self, name: str, args: ReplicaBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"ReplicaBucket {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:ReplicaBucket", name, None, opts)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True)
        tags, region = dict(args.tags), args.region

        key = self._key(name, args, kept)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=False,
            tags=tags,
            region=region,
            opts=kept,
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            region=region,
            opts=kept,
        )
        self._settings(name, args, bucket, key, kept)
        lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=args.rules,
            region=region,
            # Lifecycle rules act on the replicas already here: every change is a replacement
            # of a protected resource, so with protectBackups on `pulumi up` stops and asks.
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                retain_on_delete=True,
                replace_on_changes=["rules"],
                depends_on=[self.versioning],
            ),
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(
                bucket_policy_statements(
                    bucket.arn,
                    args.break_glass_role_arns,
                    # Replication never deletes a version (a delete by version id is not
                    # replicated), so only a person could: `formkiq-dr purge-replica`, run as
                    # a break-glass role.
                    sid="OnlyBreakGlassDeletesReplicasOrLiftsThisProtection",
                )
            ),
            region=region,
            # The policy denies PutBucketVersioning and PutLifecycleConfiguration to all but the
            # break-glass roles: it goes on last, so the first deploy can still set them.
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                retain_on_delete=True,
                depends_on=[self.versioning, lifecycle],
            ),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs(
            {"bucketName": bucket.bucket, "bucketArn": bucket.arn, "keyArn": key.arn}
        )

    @staticmethod
    def _key(name: str, args: ReplicaBucketArgs, kept: pulumi.ResourceOptions) -> aws.kms.Key:
        """The replica key. Replication roles get its use from their own IAM policy, which the
        account statement of the key policy admits: a key policy naming a role must wait for
        the role, and the role's policy names this key (KMS refuses unknown principals)."""
        key = guarded_key(
            f"{name}-key",
            description=f"Encrypts the replicas in s3://{args.bucket_name}",
            partition=args.partition,
            account_id=args.account_id,
            break_glass_role_arns=args.break_glass_role_arns,
            tags=args.tags,
            region=args.region,
            opts=kept,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=args.key_alias,
            target_key_id=key.key_id,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=kept.parent),
        )
        return key

    @staticmethod
    def _settings(
        name: str,
        args: ReplicaBucketArgs,
        bucket: aws.s3.Bucket,
        key: aws.kms.Key,
        kept: pulumi.ResourceOptions,
    ) -> None:
        """Encryption, public access and ownership."""
        region = args.region
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
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
            # ACLs off: replicas belong to this account (same-account replication).
            rule={"object_ownership": "BucketOwnerEnforced"},
            region=region,
            opts=pulumi.ResourceOptions(parent=kept.parent),
        )
