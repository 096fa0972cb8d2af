"""RestoreTesting: an AWS Backup restore testing plan, its selections and its restore role.

On schedule AWS Backup restores the newest recovery point of each selected resource from the
given vaults (LATEST_WITHIN_WINDOW), keeps the copy for the validation window, then deletes it
(aws-backup/latest/devguide/restore-testing.html). The role is the restore testing role the
guide describes: AWSBackupServiceRolePolicyForRestores (and the S3 restore policy), creating
the `awsbackup-restore-test-` buckets S3 restores go to, and the vault key to decrypt with.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.policies import managed_policy_arn, policy_document, service_trust_policy
from formkiq_backup import aws_rules

# The managed policies restores need: Restores for DynamoDB, S3Restore for S3 (s3-backups.html:
# S3 restores fail with AccessDenied without it).
RESTORE_ROLE_POLICIES = {
    "restores": "service-role/AWSBackupServiceRolePolicyForRestores",
    "s3-restore": "AWSBackupServiceRolePolicyForS3Restore",
}
# Restore testing names what it restores `awsbackup-restore-test-...` (restore-testing-inferred-
# metadata: DynamoDB's targetTableName; restore-testing.html troubleshooting: "Access denied
# performing s3:CreateBucket on awsbackup-restore-test-xxxxxx").
RESTORED_PREFIX = "awsbackup-restore-test-"
# Metadata a selection may override, by resource type (restore-testing-inferred-metadata:
# DynamoDB's encryptionType and kmsMasterKeyArn; S3's encryptionType and kmsKey). Keys are not
# case-sensitive. None is needed for FormKiQ Core: DynamoDB restores to a new
# awsbackup-restore-test- table with default encryption, S3 to a new bucket, SSE-S3 like the
# documents bucket.
OVERRIDABLE_METADATA = {
    "DynamoDB": frozenset({"encryptiontype", "kmsmasterkeyarn"}),
    "S3": frozenset({"encryptiontype", "kmskey"}),
}


@dataclass(frozen=True)
class RestoreSelection:
    """Resources of one type the plan restores, and how long each copy is kept."""

    name: str
    resource_type: str
    resource_arns: Sequence[str]
    validation_window_hours: int = 24
    metadata_overrides: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = aws_rules.restore_testing_name_problems("selection", self.name)
        if self.resource_type not in aws_rules.RESTORE_TESTING_RESOURCE_TYPES:
            found.append(
                f"selection {self.name}: {self.resource_type!r} is not a type restore testing "
                f"takes ({', '.join(sorted(aws_rules.RESTORE_TESTING_RESOURCE_TYPES))})"
            )
        if not 1 <= len(self.resource_arns) <= aws_rules.MAX_RESTORE_TESTING_ARNS:
            found.append(
                f"selection {self.name}: 1..{aws_rules.MAX_RESTORE_TESTING_ARNS} resource ARNs "
                f"(got {len(self.resource_arns)})"
            )
        found += [
            f"selection {self.name}: validation_window_hours={self.validation_window_hours} {rule}"
            for rule in aws_rules.validation_window_problems(self.validation_window_hours)
        ]
        allowed = OVERRIDABLE_METADATA.get(self.resource_type, frozenset())
        found += [
            f"selection {self.name}: restore metadata {key!r} cannot be overridden for "
            f"{self.resource_type} (restore testing inferred metadata)"
            for key in self.metadata_overrides
            if key.lower() not in allowed
        ]
        return found


@dataclass(frozen=True)
class RestoreTestingArgs:
    """When to test, which vaults' recovery points, and which resources."""

    plan_name: str
    schedule: str
    """AWS 6-field cron, in `timezone`."""
    timezone: str
    vault_arns: Sequence[pulumi.Input[str]]
    """IncludeVaults: the vaults whose recovery points are restored."""
    key_arns: Sequence[pulumi.Input[str]]
    """The vaults' keys: restores decrypt with them."""
    selections: Sequence[RestoreSelection]
    role_name: str
    account_id: str
    partition: str
    start_window_hours: int = 24
    selection_window_days: int = 7
    """LATEST_WITHIN_WINDOW looks this far back; a daily plan always has a point in it."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = aws_rules.restore_testing_name_problems("plan", self.plan_name)
        try:
            aws_rules.parse_backup_schedule(self.schedule)
        except aws_rules.ScheduleError as error:
            found.append(f"schedule {self.schedule!r} {error}")
        found += [
            f"timezone {self.timezone!r} {p}" for p in aws_rules.timezone_problems(self.timezone)
        ]
        if not 1 <= self.start_window_hours <= aws_rules.MAX_START_WINDOW_HOURS:
            found.append(f"start_window_hours must be 1..{aws_rules.MAX_START_WINDOW_HOURS}")
        if not 1 <= self.selection_window_days <= aws_rules.MAX_SELECTION_WINDOW_DAYS:
            found.append(f"selection_window_days must be 1..{aws_rules.MAX_SELECTION_WINDOW_DAYS}")
        if not self.vault_arns:
            found.append("vault_arns: give the vaults whose recovery points are restored")
        if not 1 <= len(self.selections) <= aws_rules.MAX_RESTORE_TESTING_SELECTIONS:
            found.append(f"1..{aws_rules.MAX_RESTORE_TESTING_SELECTIONS} selections per plan")
        names = [selection.name for selection in self.selections]
        found += [f"selection {n} is given twice" for n in sorted(set(names)) if names.count(n) > 1]
        for selection in self.selections:
            found += selection.problems()
        found += aws_rules.resource_name_problems("iam role", self.role_name)
        return found


class RestoreTesting(pulumi.ComponentResource):
    """The plan, one selection per resource type, and the role the restores run as."""

    plan_name: pulumi.Output[str]
    plan_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: RestoreTestingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"RestoreTesting {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:RestoreTesting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role, permissions = self._role(name, args)
        plan = aws.backup.RestoreTestingPlan(
            f"{name}-plan",
            name=args.plan_name,
            schedule_expression=args.schedule,
            schedule_expression_timezone=args.timezone,
            start_window_hours=args.start_window_hours,
            recovery_point_selection={
                "algorithm": "LATEST_WITHIN_WINDOW",
                "include_vaults": list(args.vault_arns),
                # The plans make snapshots: a daily and a monthly point, no continuous backup.
                "recovery_point_types": ["SNAPSHOT"],
                "selection_window_days": args.selection_window_days,
            },
            tags=dict(args.tags),
            region=args.region,
            opts=child,
        )
        for selection in args.selections:
            aws.backup.RestoreTestingSelection(
                f"{name}-{selection.name.replace('_', '-')}",
                name=selection.name,
                restore_testing_plan_name=plan.name,
                protected_resource_type=selection.resource_type,
                protected_resource_arns=list(selection.resource_arns),
                iam_role_arn=role.arn,
                validation_window_hours=selection.validation_window_hours,
                restore_metadata_overrides=dict(selection.metadata_overrides) or None,
                region=args.region,
                # A test that starts before its role may restore would fail: wait for it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=permissions),
            )
        self.plan_name = plan.name
        self.plan_arn = plan.arn
        self.role_arn = role.arn
        self.register_outputs({"planArn": plan.arn, "roleArn": role.arn})

    def _role(
        self, name: str, args: RestoreTestingArgs
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        """The restore role: the managed restore policies, test buckets, the vault keys."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"AWS Backup restore testing of {args.plan_name}",
            assume_role_policy=service_trust_policy("backup.amazonaws.com", args.account_id),
            tags=dict(args.tags),
            opts=child,
        )
        permissions: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{suffix}",
                role=role.name,
                policy_arn=managed_policy_arn(args.partition, policy),
                opts=child,
            )
            for suffix, policy in RESTORE_ROLE_POLICIES.items()
        ]
        statements: list[dict[str, object]] = [
            {
                "Sid": "CreateTestBuckets",
                "Effect": "Allow",
                "Action": "s3:CreateBucket",
                "Resource": f"arn:{args.partition}:s3:::{RESTORED_PREFIX}*",
            },
            {
                # "The restore role has access to the AWS KMS key used to encrypt your backups"
                # (restore-testing.html, troubleshooting: Access denied to KMS key).
                "Sid": "DecryptRecoveryPoints",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"],
                "Resource": list(args.key_arns),
            },
            {
                "Sid": "GrantForRestoredResources",
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": list(args.key_arns),
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ]
        permissions.append(
            aws.iam.RolePolicy(
                f"{name}-role-permissions",
                role=role.id,
                policy=policy_document(statements),
                opts=child,
            )
        )
        return role, permissions
