"""Standard's AWS Backup: a deny-delete vault with its own key, daily and monthly rules, alerts.

Enterprise adds the yearly rule (tier data, RuleKind.YEARLY) and copies into a logically
air-gapped vault. Copy actions belong to a rule and copy every resource the plan selects, so
where the air-gapped vault receives the bucket's copies only (`airGappedVault.copyTables`
false), the bucket gets a plan of its own, with the same rules, beside the tables' plan.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
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
from tiers.capabilities.base import (
    STACK_TAG,
    Alarm,
    BuildContext,
    Contribution,
    DeferredArn,
    Product,
)
from tiers.definitions import Capability, RuleKind, rule_name
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


@dataclass(frozen=True)
class AirGappedDestination:
    """Where the plans' rules copy to in a logically air-gapped vault, given later by its
    builder (as CopyDestination). `copies_tables`: whether the tables' recovery points are
    copied there too, or the bucket's only."""

    resolve: Callable[[pulumi.Output[str]], None]
    copies_tables: bool


@dataclass(frozen=True)
class _CopyTargets:
    """The vaults the rules copy into, each an ARN the builder of that vault gives later."""

    dr: DeferredArn | None = None
    air_gapped: DeferredArn | None = None
    air_gapped_tables: bool = False

    def products(self, backup_role_arn: pulumi.Output[str]) -> dict[Product, object]:
        """What the builders of those vaults complete: each ARN to give, and the role copying."""
        found: dict[Product, object] = {}
        if self.dr is not None:
            found[Product.COPY_DESTINATION] = CopyDestination(self.dr.resolve, backup_role_arn)
        if self.air_gapped is not None:
            found[Product.AIR_GAPPED_DESTINATION] = AirGappedDestination(
                self.air_gapped.resolve, self.air_gapped_tables
            )
        return found


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
        {Product.PRIMARY_VAULT, Product.COPY_DESTINATION, Product.AIR_GAPPED_DESTINATION}
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
        targets = _copy_targets(context)
        plans = self._plans(context, vault, targets)
        # Every plan's arguments are checked before the first is registered: a registered plan
        # waits for the vaults it copies into, which a failure here would never build.
        problems = [problem for _, args in plans for problem in args.problems()]
        if problems:
            raise ValueError("AWS Backup plans: " + "; ".join(problems))
        (name, args), *others = plans
        plan = BackupPlan(name, args, context.child_opts())
        for other_name, other_args in others:
            # One service role for every plan: the DR key grants it, and restores reuse it.
            BackupPlan(
                other_name, replace(other_args, role_arn=plan.role_arn), context.child_opts()
            )
        max_age_hours = (
            context.spec.recovery_point_max_age_hours or DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS
        )
        resource_types = (["DynamoDB"] if environment.protected_tables else []) + (
            ["S3"] if environment.protected_buckets else []
        )
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
                        "locked": Capability.VAULT_LOCK in context.spec.capabilities,
                    }
                ]
            },
            products={Product.PRIMARY_VAULT: vault, **targets.products(plan.role_arn)},
        )

    @classmethod
    def _plans(
        cls, context: BuildContext, vault: BackupVault, targets: _CopyTargets
    ) -> list[tuple[str, BackupPlanArgs]]:
        """The plan of every protected resource; where only the bucket's recovery points go to
        the air-gapped vault, the tables' plan and the bucket's (a copy action copies every
        resource its plan selects). Names fit AWS's 50 characters for the longest prefix."""
        rules = [backup_rule(kind, context.settings) for kind in context.spec.backup_rules]
        tables = [t.arn for t in context.environment.protected_tables]
        buckets = [b.arn for b in context.environment.protected_buckets]
        if targets.air_gapped is None or targets.air_gapped_tables or not buckets:
            every = [_copied(rule, targets, air_gapped=targets.air_gapped_tables) for rule in rules]
            return [
                cls._plan(context, vault, "backup-plan", "protected-data", every, tables + buckets)
            ]
        return [
            cls._plan(
                context,
                vault,
                "backup-plan",
                "protected-data",
                [_copied(rule, targets, air_gapped=False) for rule in rules],
                tables,
            ),
            # S3 has no cold tier in a plan's lifecycle (AWS Backup would ignore the setting:
            # API_Lifecycle), so the bucket's rules say none.
            cls._plan(
                context,
                vault,
                "documents-plan",
                "documents",
                [_copied(rule.warm(), targets, air_gapped=True) for rule in rules],
                buckets,
            ),
        ]

    @staticmethod
    def _plan(  # noqa: PLR0917  # one plan's own values beside the shared context
        context: BuildContext,
        vault: BackupVault,
        plan: str,
        selection: str,
        rules: Sequence[BackupRule],
        resource_arns: Sequence[str],
    ) -> tuple[str, BackupPlanArgs]:
        naming, environment = context.primary.naming, context.environment
        return naming.resource(plan), BackupPlanArgs(
            plan_name=naming.resource(plan),
            selection_name=naming.resource(selection),
            vault_name=vault.vault_name,
            rules=rules,
            resource_arns=resource_arns,
            account_id=environment.account_id,
            partition=environment.partition,
            protect=context.settings.protect_backups,
            region=context.primary.region,
            tags=context.tags,
        )


def _copy_targets(context: BuildContext) -> _CopyTargets:
    """ARNs of the vaults the tier copies into, each given later by its builder."""
    capabilities = context.spec.capabilities
    return _CopyTargets(
        dr=context.defer() if Capability.CROSS_REGION_COPIES in capabilities else None,
        air_gapped=context.defer() if Capability.AIR_GAPPED_VAULT in capabilities else None,
        air_gapped_tables=context.settings.air_gapped_vault.copy_tables,
    )


def _copied(rule: BackupRule, targets: _CopyTargets, *, air_gapped: bool) -> BackupRule:
    """The rule with its copy actions: to the DR vault (its own lifecycle), and, where
    `air_gapped`, to the air-gapped vault, kept as long and always warm: whether an air-gapped
    vault tiers copies to cold storage is not documented, and a warm copy is valid either way."""
    if targets.dr is not None:
        rule = rule.copied_to(targets.dr.output)
    if air_gapped and targets.air_gapped is not None:
        rule = rule.copied_to(targets.air_gapped.output, warm=True)
    return rule


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
    elif kind is RuleKind.MONTHLY:
        days, schedule, cold = (
            settings.monthly_retention_days,
            settings.backup_schedule.monthly_on_first_day(),
            settings.cold_storage_after_days,
        )
    else:
        # The guide's seven years. Cold storage applies to DynamoDB with advanced backup only
        # (AWS Backup developer guide, "Feature availability by resource"; advanced-ddb-backup);
        # "AWS Backup ignores the cold storage setting for resource types that do not support
        # it" (API_Lifecycle), so the bucket's yearly points stay warm.
        days, schedule, cold = (
            settings.yearly_retention_days,
            settings.backup_schedule.yearly_on_first_day(),
            settings.yearly_cold_storage_after_days,
        )
    return BackupRule(
        name=rule_name(kind, days),
        schedule=schedule,
        timezone=settings.schedule_timezone,
        start_window_minutes=START_WINDOW_MINUTES,
        completion_window_minutes=COMPLETION_WINDOW_MINUTES,
        delete_after_days=days,
        cold_storage_after_days=cold,
        recovery_point_tags=RECOVERY_POINT_TAGS,
    )
