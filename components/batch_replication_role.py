"""BatchReplicationRole: the role S3 Batch Operations assumes to replicate existing objects.

Live replication copies only what is written after the rule exists; objects already in the
source need S3 Batch Replication, a Batch Operations job (`formkiq-dr replicate-existing`
creates it with S3 Control CreateJob). No Pulumi or Terraform resource creates such a job, but
the role it runs as is infrastructure: built here, least privilege, its ARN a stack output.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.policies import documented_trust_policy, policy_document
from formkiq_backup import aws_rules


@dataclass(frozen=True)
class BatchReplicationRoleArgs:
    """Which sources it may replicate, and where manifests and completion reports go."""

    role_name: str
    source_bucket_arns: Sequence[str]
    report_bucket_arn: pulumi.Input[str]
    report_prefix: str
    report_key_arn: pulumi.Input[str]
    """The report bucket's default encryption key (the exports bucket's is SSE-KMS)."""
    region: str
    """Where the jobs run (the sources' region), for the key's kms:ViaService condition."""
    partition: str = "aws"
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = aws_rules.resource_name_problems("iam role", self.role_name)
        if not self.source_bucket_arns:
            found.append("source_bucket_arns: give at least one replicated bucket")
        if not self.report_prefix.endswith("/"):
            found.append(f"report_prefix {self.report_prefix!r} must end with '/'")
        return found


class BatchReplicationRole(pulumi.ComponentResource):
    """An IAM role (global: no region) for S3 Batch Replication jobs over the given sources."""

    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: BatchReplicationRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"BatchReplicationRole {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:BatchReplicationRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description="S3 Batch Replication of objects that predate replication",
            assume_role_policy=documented_trust_policy("batchoperations.s3.amazonaws.com"),
            tags=dict(args.tags),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-permissions",
            role=role.id,
            policy=policy_document(batch_replication_statements(args)),
            opts=child,
        )
        self.role_arn = role.arn
        self.register_outputs({"roleArn": role.arn})


def batch_replication_statements(args: BatchReplicationRoleArgs) -> list[dict[str, object]]:
    """AWS's policy for a job with an S3-generated manifest that is stored (AmazonS3 userguide,
    s3-batch-replication-policies.html, "Policy if using and storing an Amazon S3 generated
    manifest"), narrowed to our sources and our prefix, plus the report bucket's key."""
    reports = pulumi.Output.concat(args.report_bucket_arn, f"/{args.report_prefix}*")
    suffix = "amazonaws.com.cn" if args.partition == "aws-cn" else "amazonaws.com"
    return [
        {
            "Sid": "InitiateReplication",
            "Effect": "Allow",
            "Action": "s3:InitiateReplication",
            "Resource": [f"{arn}/*" for arn in args.source_bucket_arns],
        },
        {
            # The manifest is generated from the source's replication configuration.
            "Sid": "GenerateManifest",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
            "Resource": list(args.source_bucket_arns),
        },
        {
            "Sid": "ReadManifest",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": reports,
        },
        {
            "Sid": "WriteManifestAndReport",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": reports,
        },
        {
            # Objects in an SSE-KMS bucket are written and read with its key
            # (batch-ops-iam-role-policies.html: encrypted objects need KMS permissions).
            "Sid": "UseReportBucketKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": args.report_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{args.region}.{suffix}"}},
        },
    ]
