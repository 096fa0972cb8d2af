"""ReplicaBucket: the versioned bucket in the DR region that S3 replication copies into."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.private_bucket import (
    BucketSettings,
    PrivateBucket,
    PrivateBucketArgs,
    bucket_policy_statements,
)

# Older versions of replicated objects (overwritten or deleted in the source, and so here) move
# to Glacier Instant Retrieval after this many days: cheaper, still readable in milliseconds
# (AmazonS3 API_NoncurrentVersionTransition; storage-class-intro: S3 Glacier Instant Retrieval).
NONCURRENT_TO_GLACIER_IR_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class ReplicaBucketArgs(BucketSettings):
    """Where replicas land and who may still delete their versions (the break-glass roles: the
    only ones allowed PROTECTED_BUCKET_ACTIONS)."""

    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = ()
    """Default: noncurrent versions to GLACIER_IR, nothing ever expires. S3 does not replicate
    lifecycle actions (AmazonS3 userguide, replication-what-is-isnot-replicated.html), so a
    replica that should expire like its source needs the source's rules here."""

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        return self.bucket_problems()

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
    """A replica nobody but break-glass roles can delete versions from: a private bucket
    (components/private_bucket.py) whose policy denies PROTECTED_BUCKET_ACTIONS.

    Versioned (S3 replicates only between versioned buckets: AmazonS3 userguide,
    replication-requirements.html), encrypted by default with a key of its own, public access
    blocked, TLS only. The default encryption applies to what S3 itself writes here; replicas of
    SSE-S3 source objects stay SSE-S3 whatever the destination's default says
    (replication-config-for-kms-objects.html). The bucket, its key and every setting are
    retained when removed from the program; `protect` makes a downgrade stop and ask. The key:
    replication roles get its use from their own IAM policy, which the account statement of the
    key policy admits (a key policy naming a role must wait for the role, and the role's policy
    names this key: KMS refuses unknown principals).
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
        private = PrivateBucket(
            name,
            args,
            PrivateBucketArgs(
                key_description=f"Encrypts the replicas in s3://{args.bucket_name}",
                lifecycle_rules=args.rules,
                policy_statements=lambda arn: bucket_policy_statements(
                    arn,
                    args.break_glass_role_arns,
                    # Replication never deletes a version (a delete by version id is not
                    # replicated), so only a person could: `formkiq-dr purge-replica`, run as
                    # a break-glass role.
                    sid="OnlyBreakGlassDeletesReplicasOrLiftsThisProtection",
                ),
            ),
            parent=self,
        )
        self.versioning = private.versioning
        self.bucket_name = private.bucket.bucket
        self.bucket_arn = private.bucket.arn
        self.key_arn = private.key.arn
        self.register_outputs(private.outputs)
