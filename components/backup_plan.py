"""BackupPlan: an AWS Backup plan, its rules, its selection by ARN and its service role."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_aws as aws

from components.policies import managed_policy_arn, service_trust_policy
from formkiq_backup import aws_rules

# AWS managed policies for the AWS Backup role; the paths differ (service-role/ or none).
# S3 backups fail with AccessDenied without the two S3 policies
# (aws-backup/latest/devguide/s3-backups.html).
BACKUP_ROLE_POLICIES = {
    "backup": "service-role/AWSBackupServiceRolePolicyForBackup",
    "restores": "service-role/AWSBackupServiceRolePolicyForRestores",
    "s3-backup": "AWSBackupServiceRolePolicyForS3Backup",
    "s3-restore": "AWSBackupServiceRolePolicyForS3Restore",
}


@dataclass(frozen=True)
class CopyAction:
    """A copy of each recovery point a rule makes, into another vault (another region's).

    Its lifecycle is given explicitly: "If you don't specify a lifecycle, AWS Backup applies the
    lifecycle policy of the source backup" (API_CopyAction), and a copy kept forever would stay
    out of any later vault lock's bounds. A copy's cold storage obeys the same 90-day rule.
    """

    vault_arn: pulumi.Input[str]
    delete_after_days: int
    cold_storage_after_days: int | None = None

    def problems(self) -> list[str]:
        return aws_rules.copy_lifecycle_problems(
            self.delete_after_days, self.cold_storage_after_days
        )


@dataclass(frozen=True)
class BackupRule:
    """One backup rule; its name should say what it keeps, e.g. daily_kept_35_days."""

    name: str
    schedule: str
    """AWS 6-field cron, at most hourly."""
    delete_after_days: int
    timezone: str = "UTC"
    start_window_minutes: int = 60
    completion_window_minutes: int = 180
    cold_storage_after_days: int | None = None
    """AWS Backup ignores this for resource types that cannot tier (S3 today)."""
    recovery_point_tags: Mapping[str, str] = field(default_factory=dict)
    copies: Sequence[CopyAction] = ()
    """Copies of every recovery point, e.g. into the DR region's vault."""

    def copied_to(self, vault_arn: pulumi.Input[str], *, warm: bool = False) -> "BackupRule":
        """This rule, also copying each recovery point to `vault_arn`, kept as long as here;
        with `warm`, the copies never move to cold storage."""
        cold = None if warm else self.cold_storage_after_days
        copy = CopyAction(vault_arn, self.delete_after_days, cold)
        return replace(self, copies=(*self.copies, copy))

    def warm(self) -> "BackupRule":
        """This rule for resource types without a cold tier (S3): no cold storage said."""
        return replace(self, cold_storage_after_days=None)

    def problems(self) -> list[str]:
        """Every AWS rule this rule breaks (formkiq_backup/aws_rules.py), checked here because no
        emulator does."""
        found = aws_rules.rule_name_problems(self.name)
        try:
            aws_rules.parse_backup_schedule(self.schedule)
        except aws_rules.ScheduleError as error:
            found.append(f"schedule {self.schedule!r} {error}")
        found += [
            f"timezone {self.timezone!r} {problem}"
            for problem in aws_rules.timezone_problems(self.timezone)
        ]
        found += aws_rules.window_problems(
            self.start_window_minutes, self.completion_window_minutes
        )
        found += aws_rules.lifecycle_problems(self.delete_after_days, self.cold_storage_after_days)
        for copy in self.copies:
            found += copy.problems()
        return found


@dataclass(frozen=True)
class BackupPlanArgs:
    """What to back up, when, and into which vault."""

    plan_name: str
    selection_name: str
    vault_name: pulumi.Input[str]
    rules: Sequence[BackupRule]
    resource_arns: Sequence[str]
    """Explicit ARNs: explicit selections back up even where a type is not opted in."""
    account_id: str
    partition: str
    protect: bool = True
    """Protect and retain the service role restores depend on."""
    role_arn: pulumi.Input[str] | None = None
    """Another plan's service role to use (its grants, on the DR key say, then hold here too);
    None: the plan gets a role of its own."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = aws_rules.plan_name_problems(self.plan_name)
        found += aws_rules.selection_name_problems(self.selection_name)
        if not self.rules:
            found.append("a plan needs at least one rule")
        if not self.resource_arns:
            found.append("a selection needs at least one resource ARN")
        names = [rule.name for rule in self.rules]
        found += [
            f"rule name {n!r} is used twice" for n in sorted(set(names)) if names.count(n) > 1
        ]
        for rule in self.rules:
            found += [f"rule {rule.name!r}: {problem}" for problem in rule.problems()]
        return found


class BackupPlan(pulumi.ComponentResource):
    """Scheduled backups of the given resources into one vault.

    Deleting the plan or selection stops new backups but never deletes recovery points: those
    live in the vault until their own lifecycle ends.
    """

    plan_id: pulumi.Output[str]
    plan_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    """The role AWS Backup assumes to back up and restore; restores can reuse it."""

    def __init__(
        self, name: str, args: BackupPlanArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"BackupPlan {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:BackupPlan", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        role_arn = (
            pulumi.Output.from_input(args.role_arn)
            if args.role_arn is not None
            else self._role(name, args, tags)
        )
        plan = aws.backup.Plan(
            f"{name}-plan",
            name=args.plan_name,
            rules=[self._rule(rule, args.vault_name) for rule in args.rules],
            tags=tags,
            region=args.region,
            opts=child,
        )
        aws.backup.Selection(
            f"{name}-selection",
            name=args.selection_name,
            plan_id=plan.id,
            iam_role_arn=role_arn,
            resources=list(args.resource_arns),
            region=args.region,
            opts=child,
        )

        self.plan_id = plan.id
        self.plan_arn = plan.arn
        self.role_arn = role_arn
        self.register_outputs({"planId": plan.id, "roleArn": role_arn})

    def _role(self, name: str, args: BackupPlanArgs, tags: dict[str, str]) -> pulumi.Output[str]:
        """The service role AWS Backup assumes for this plan, with AWS's managed policies."""
        role = aws.iam.Role(
            f"{name}-role",
            description=f"AWS Backup service role for {args.plan_name}",
            assume_role_policy=service_trust_policy("backup.amazonaws.com", args.account_id),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect, retain_on_delete=args.protect
            ),
        )
        for suffix, policy in BACKUP_ROLE_POLICIES.items():
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{suffix}",
                role=role.name,
                policy_arn=managed_policy_arn(args.partition, policy),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return role.arn

    @staticmethod
    def _rule(rule: BackupRule, vault_name: pulumi.Input[str]) -> aws.backup.PlanRuleArgs:
        return aws.backup.PlanRuleArgs(
            rule_name=rule.name,
            target_vault_name=vault_name,
            schedule=rule.schedule,
            schedule_expression_timezone=rule.timezone,
            start_window=rule.start_window_minutes,
            completion_window=rule.completion_window_minutes,
            lifecycle=aws.backup.PlanRuleLifecycleArgs(
                delete_after=rule.delete_after_days,
                cold_storage_after=rule.cold_storage_after_days,
            ),
            recovery_point_tags=dict(rule.recovery_point_tags),
            copy_actions=[
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=copy.vault_arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                        delete_after=copy.delete_after_days,
                        cold_storage_after=copy.cold_storage_after_days,
                    ),
                )
                for copy in rule.copies
            ]
            or None,
        )
