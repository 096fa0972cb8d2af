"""Standard's AWS Backup: a deny-delete vault with its own key, daily and monthly rules, alerts."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi

from components import (
    BackupJobAlerts,
    BackupJobAlertsArgs,
    BackupPlan,
    BackupPlanArgs,
    BackupRegionSettings,
    BackupRegionSettingsArgs,
    BackupRule,
    BackupVault,
    BackupVaultArgs,
)
from components import audit_controls as controls
from formkiq_backup import aws_rules
from formkiq_backup.config import BackupSettings
from formkiq_backup.formkiq import FormKiQEnvironment
from tiers.capabilities.base import STACK_TAG, Alarm, BuildContext, Contribution, Product
from tiers.definitions import Capability, RuleKind
from tiers.scope import ScopeRole

# The guide's example plan tags every recovery point so; kept exactly (backup_and_recovery).
RECOVERY_POINT_TAGS: Mapping[str, str] = {"Application": "FormKiQ"}
# The guide's example plan windows.
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 180
# A daily schedule, its 3-hour completion window, and slack.
DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS = 26


@dataclass(frozen=True)
class CopyDestination:
    """Where the plan's rules copy every recovery point, given later by the copies builder.

    The plan is registered here, before the vault it copies into exists: its rules carry a
    deferred vault ARN that the builder making that vault resolves (pulumi.deferred_output),
    so the plan still waits for the vault. That vault's key must admit `backup_role_arn`.
    """

    resolve: Callable[[pulumi.Output[str]], None]
    backup_role_arn: pulumi.Output[str]


class AwsBackupBuilder:
    """The primary vault and plan; later capabilities copy from and lock this vault."""

    capability: ClassVar[Capability] = Capability.AWS_BACKUP
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY})
    # Job failures arrive through EventBridge; vault notifications come from AWS Backup itself.
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {
        ScopeRole.PRIMARY: frozenset({"events.amazonaws.com", "backup.amazonaws.com"})
    }
    needs: ClassVar[frozenset[Product]] = frozenset()
    # COPY_DESTINATION only in tiers with cross-region copies, whose builder resolves it.
    makes: ClassVar[frozenset[Product]] = frozenset(
        {Product.PRIMARY_VAULT, Product.COPY_DESTINATION}
    )

    def build(self, context: BuildContext) -> Contribution:
        scope = context.primary
        naming = scope.naming
        settings = context.settings
        environment = context.environment

        BackupRegionSettings(
            naming.resource("backup-region-settings"),
            BackupRegionSettingsArgs(region=scope.region),
            context.child_opts(),
        )
        vault = BackupVault(
            naming.resource("backup-vault"),
            BackupVaultArgs(
                vault_name=naming.backup_vault(),
                key_alias=naming.key_alias("vault"),
                account_id=environment.account_id,
                partition=environment.partition,
                break_glass_role_arns=settings.break_glass_role_arns,
                notification_topic_arn=scope.alerts.topic_arn,
                # AWS Backup must be admitted by the topic policy before notifications are set.
                notification_dependencies=[scope.alerts.topic_policy],
                protect=settings.protect_backups,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        rules = [backup_rule(kind, settings) for kind in context.spec.backup_rules]
        copies_to: pulumi.Output[str] | None = None
        resolve_copies: Callable[[pulumi.Output[str]], None] | None = None
        if Capability.CROSS_REGION_COPIES in context.spec.capabilities:
            copies_to, resolve_copies = pulumi.deferred_output()
            rules = [rule.copied_to(copies_to) for rule in rules]
        plan = BackupPlan(
            naming.resource("backup-plan"),
            BackupPlanArgs(
                plan_name=naming.resource("backup-plan"),
                selection_name=naming.resource("protected-data"),
                vault_name=vault.vault_name,
                rules=rules,
                resource_arns=[t.arn for t in environment.protected_tables]
                + [b.arn for b in environment.protected_buckets],
                account_id=environment.account_id,
                partition=environment.partition,
                protect=settings.protect_backups,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        max_age_hours = (
            context.spec.recovery_point_max_age_hours or DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS
        )
        resource_types = backed_up_types(environment)
        alerts = BackupJobAlerts(
            naming.resource("backup-alerts"),
            BackupJobAlertsArgs(
                topic_arn=scope.alerts.topic_arn,
                vault_name=vault.vault_name,
                name_prefix=naming.prefix,
                resource_types=resource_types,
                hours_without_completed_backup=max_age_hours,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        return Contribution(
            outputs={"backupVaultArn": vault.vault_arn, "backupPlanId": plan.plan_id},
            alarms=[Alarm(ScopeRole.PRIMARY, name) for name in alerts.alarm_names],
            widgets=alerts.widgets,
            audit_controls=backup_controls(context, resource_types),
            verify={
                "vaults": [
                    {
                        "role": ScopeRole.PRIMARY.value,
                        "name": vault.vault_name,
                        "arn": vault.vault_arn,
                        "region": scope.where.region_name,
                        "maxRecoveryPointAgeHours": max_age_hours,
                        "locked": False,
                    }
                ]
            },
            products={Product.PRIMARY_VAULT: vault}
            | (
                {Product.COPY_DESTINATION: CopyDestination(resolve_copies, plan.role_arn)}
                if resolve_copies is not None
                else {}
            ),
        )


def backed_up_types(environment: FormKiQEnvironment) -> list[str]:
    """The AWS Backup resource types the plan selects (and copies): its jobs' and controls'
    `ResourceType`."""
    return (["DynamoDB"] if environment.protected_tables else []) + (
        ["S3"] if environment.protected_buckets else []
    )


def backup_controls(
    context: BuildContext, resource_types: Sequence[str]
) -> list[controls.AuditControl]:
    """What this capability promises, as Backup Audit Manager checks it.

    Every value comes from the stack's settings: the backup schedule's worst gap and the daily
    rule's retention for the plan; the shortest rule's retention for every recovery point; the
    break-glass roles as the only ones allowed to delete; the tier's maximum recovery point age
    (what its alarms and `formkiq-dr verify` hold the newest point to). Plans and vaults are
    scoped by the stack's own tag, resources by the types it protects.
    """
    settings = context.settings
    unit, value = aws_rules.backup_frequency(settings.backup_schedule)
    shortest = min(
        backup_rule(kind, settings).delete_after_days for kind in context.spec.backup_rules
    )
    ours = {STACK_TAG: context.tags[STACK_TAG]}
    return [
        controls.protected_by_backup_plan(resource_types),
        controls.plan_frequency_and_retention(unit, value, settings.daily_retention_days, ours),
        controls.recovery_point_minimum_retention(shortest, resource_types),
        controls.recovery_points_encrypted(resource_types),
        controls.manual_deletion_disabled(settings.break_glass_role_arns, ours),
        controls.last_recovery_point_created(
            context.spec.recovery_point_max_age_hours or DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS,
            resource_types,
        ),
    ]


def backup_rule(kind: RuleKind, settings: BackupSettings) -> BackupRule:
    """A rule kind made concrete by the stack's settings; its name says what it keeps."""
    if kind is RuleKind.DAILY:
        days, schedule, cold = (
            settings.daily_retention_days,
            settings.backup_schedule.expression,
            None,
        )
    else:
        days, schedule, cold = (
            settings.monthly_retention_days,
            settings.backup_schedule.monthly_on_first_day(),
            settings.cold_storage_after_days,
        )
    return BackupRule(
        name=f"{kind.value}_kept_{days}_days",
        schedule=schedule,
        timezone=settings.schedule_timezone,
        start_window_minutes=START_WINDOW_MINUTES,
        completion_window_minutes=COMPLETION_WINDOW_MINUTES,
        delete_after_days=days,
        cold_storage_after_days=cold,
        recovery_point_tags=RECOVERY_POINT_TAGS,
    )
