"""ConfigRecorder: an AWS Config recorder of exactly the types Backup Audit Manager evaluates.

Audit Manager's controls are AWS Config rules, so they evaluate only what AWS Config records:
"AWS Config: resource compliance" for every control, plus backup plans, selections, vaults and
recovery points (aws-backup/latest/devguide, "Turning on resource tracking"; "Choosing your
controls"). A region has one configuration recorder and one delivery channel per account
(config/latest/developerguide, "Managing the configuration recorder"): this one is made only
where `audit.configRecorder` asks, and a region that already has one refuses it
(MaxNumberOfConfigurationRecordersExceededException); there, add these types to that recorder.
AWS Config charges per configuration item recorded.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.policies import managed_policy_arn, policy_document, service_trust_policy
from formkiq_backup import aws_rules

RECORDED_TYPES = (
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection",
    "AWS::Backup::BackupVault",
    "AWS::Backup::RecoveryPoint",
    "AWS::Config::ResourceCompliance",
)
# The AWS managed policy for a recorder's role (config/latest/developerguide, iamrole-permissions).
CONFIG_ROLE_POLICY = "service-role/AWS_ConfigRole"


@dataclass(frozen=True)
class ConfigRecorderArgs:
    """The recorder's name and role, and the bucket its delivery channel writes to."""

    recorder_name: str
    role_name: str
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    account_id: str
    partition: str
    key_prefix: str = "config"
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = aws_rules.resource_name_problems("iam role", self.role_name)
        # PutConfigurationRecorder Name and PutDeliveryChannel Name: 1..256 characters.
        if not 1 <= len(self.recorder_name) <= 256:
            found.append(f"recorder name {self.recorder_name!r} must be 1..256 characters")
        return found


class ConfigRecorder(pulumi.ComponentResource):
    """Recorder, delivery channel to the reports bucket, and the switch that starts it."""

    recorder_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ConfigRecorderArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"ConfigRecorder {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:ConfigRecorder", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description="AWS Config records the backup resource types for Backup Audit Manager",
            assume_role_policy=service_trust_policy("config.amazonaws.com", args.account_id),
            tags=dict(args.tags),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-role-config",
            role=role.name,
            policy_arn=managed_policy_arn(args.partition, CONFIG_ROLE_POLICY),
            opts=child,
        )
        delivery = aws.iam.RolePolicy(
            f"{name}-delivery",
            role=role.id,
            policy=policy_document(self._delivery_permissions(args)),
            opts=child,
        )
        recorder = aws.cfg.Recorder(
            f"{name}-recorder",
            name=args.recorder_name,
            role_arn=role.arn,
            recording_group={
                "all_supported": False,
                "include_global_resource_types": False,
                "resource_types": list(RECORDED_TYPES),
                "recording_strategies": [{"use_only": "INCLUSION_BY_RESOURCE_TYPES"}],
            },
            region=args.region,
            opts=child,
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-delivery-channel",
            name=args.recorder_name,
            s3_bucket_name=args.bucket_name,
            s3_key_prefix=args.key_prefix,
            s3_kms_key_arn=args.key_arn,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[recorder, delivery]),
        )
        # Recording starts only with a delivery channel in place (StartConfigurationRecorder).
        aws.cfg.RecorderStatus(
            f"{name}-status",
            name=recorder.name,
            is_enabled=True,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[channel]),
        )
        self.recorder_name = recorder.name
        self.register_outputs({"recorderName": recorder.name})

    @staticmethod
    def _delivery_permissions(args: ConfigRecorderArgs) -> list[dict[str, object]]:
        """Writing snapshots and history under its prefix of the bucket, with the bucket's key
        (config/latest/developerguide, s3-bucket-policy: delivery with a custom IAM role)."""
        objects = pulumi.Output.concat(
            args.bucket_arn, f"/{args.key_prefix}/AWSLogs/{args.account_id}/*"
        )
        return [
            {
                "Sid": "CheckTheBucket",
                "Effect": "Allow",
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": args.bucket_arn,
            },
            {
                "Sid": "DeliverUnderOwnPrefix",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
            },
            {
                "Sid": "EncryptWithTheBucketKey",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": args.key_arn,
            },
        ]
