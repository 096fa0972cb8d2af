"""Turns a tier spec, validated settings and a discovered FormKiQ environment into components.

The only place that knows both tiers and components: components know nothing about tiers,
and tier specs know nothing about Pulumi.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

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
    NotificationTopic,
    NotificationTopicArgs,
    PostureGuard,
    PostureGuardArgs,
)
from formkiq_backup import aws_rules
from formkiq_backup.config import BackupSettings
from formkiq_backup.formkiq import FormKiQEnvironment
from tiers.definitions import Capability, RuleKind, TierSpec

# What this release can build; a tier needing more fails before anything is registered.
BUILDABLE = frozenset({Capability.POSTURE_GUARD, Capability.AWS_BACKUP})

# The guide's example plan tags every recovery point so; kept exactly (backup_and_recovery).
RECOVERY_POINT_TAGS: Mapping[str, str] = {"Application": "FormKiQ"}
# The guide's example plan windows.
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 180


class TierNotBuildableError(RuntimeError):
    """The tier needs capabilities a later release adds."""


def missing_capabilities(spec: TierSpec) -> list[Capability]:
    """Capabilities `spec` needs that this release cannot build yet."""
    return sorted(spec.capabilities - BUILDABLE)


def ensure_buildable(spec: TierSpec) -> None:
    """Fail early, with the reason, for tiers whose components are not implemented yet."""
    missing = missing_capabilities(spec)
    if missing:
        raise TierNotBuildableError(
            f"tier {spec.tier.value!r} is not implemented yet: it needs "
            + "; ".join(capability.value for capability in missing)
            + ". Use tier 'standard' until they land."
        )


@dataclass(frozen=True)
class Naming:
    """AWS names for one FormKiQ environment's backup resources."""

    prefix: str

    @classmethod
    def for_environment(cls, app_environment: str) -> "Naming":
        """`formkiq-<env>`, made safe for vault names (letters, digits, '-', '_'; <= 50)."""
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", app_environment).strip("-") or "env"
        if len(slug) > 27:  # keep '<prefix>-protected-data' within AWS's 50 characters
            digest = hashlib.sha256(app_environment.encode()).hexdigest()[:6]
            slug = f"{slug[:20]}-{digest}"
        return cls(prefix=f"formkiq-{slug}")

    def key_alias(self, purpose: str) -> str:
        return f"alias/{self.prefix}-backup-{purpose}"

    def backup_vault(self) -> str:
        """The vault's name; also what the posture guard looks for recovery points in."""
        return f"{self.prefix}-backup-vault"

    def function(self, purpose: str) -> str:
        """A Lambda function name (64 characters at most)."""
        return self._checked("lambda function", f"{self.prefix}-{purpose}")

    def role(self, purpose: str) -> str:
        """An IAM role name (64 characters at most)."""
        return self._checked("iam role", f"{self.prefix}-{purpose}")

    def event_rule(self, purpose: str) -> str:
        """An EventBridge rule name (64 characters at most)."""
        return self._checked("event rule", f"{self.prefix}-{purpose}")

    @staticmethod
    def _checked(kind: str, name: str) -> str:
        """`name`, or an error naming AWS's rule it breaks, before anything is registered.

        With the prefix capped at 35 characters ('formkiq-' and 27) the names built here fit;
        the check keeps a longer purpose from slipping through.
        """
        problems = aws_rules.resource_name_problems(kind, name)
        if problems:
            raise ValueError("; ".join(problems))
        return name


@dataclass(frozen=True)
class Deployment:
    """The built tier, as its stack outputs describe it."""

    spec: TierSpec
    environment: FormKiQEnvironment
    alarm_topic_arn: pulumi.Output[str]
    backup_vault_arn: pulumi.Output[str] | None = None
    backup_plan_id: pulumi.Output[str] | None = None

    def outputs(self) -> dict[str, object]:
        """Stack outputs; names are a contract for scripts and StackReferences."""
        outputs: dict[str, object] = {
            "tier": self.spec.tier.value,
            "alarmTopicArn": self.alarm_topic_arn,
            "protectedTables": [t.name for t in self.environment.protected_tables],
            "protectedBuckets": [b.name for b in self.environment.protected_buckets],
            "recoveryObjectives": {
                data_class.value: objective.as_output()
                for data_class, objective in self.spec.recovery_objectives.items()
            },
        }
        if self.backup_vault_arn is not None:
            outputs["backupVaultArn"] = self.backup_vault_arn
        if self.backup_plan_id is not None:
            outputs["backupPlanId"] = self.backup_plan_id
        return outputs


def build_tier(
    spec: TierSpec, settings: BackupSettings, environment: FormKiQEnvironment
) -> Deployment:
    """Register every component `spec` asks for."""
    ensure_buildable(spec)
    naming = Naming.for_environment(environment.app_environment)
    tags = {"ManagedBy": "formkiq-backup", "FormKiQAppEnvironment": environment.app_environment}
    uses_backup = Capability.AWS_BACKUP in spec.capabilities

    publishers = ["cloudwatch.amazonaws.com"]
    if uses_backup:
        publishers += ["events.amazonaws.com", "backup.amazonaws.com"]
    alerts = NotificationTopic(
        f"{naming.prefix}-alerts",
        NotificationTopicArgs(
            account_id=environment.account_id,
            partition=environment.partition,
            key_alias=naming.key_alias("alerts"),
            publishing_services=publishers,
            email_addresses=settings.notification_emails,
            display_name=f"FormKiQ {environment.app_environment} backup alerts",
            tags=tags,
        ),
    )

    if Capability.POSTURE_GUARD in spec.capabilities:
        PostureGuard(
            f"{naming.prefix}-posture-guard",
            PostureGuardArgs(
                app_environment=environment.app_environment,
                account_id=environment.account_id,
                tables=environment.protected_tables,
                buckets=environment.protected_buckets,
                alarm_topic_arn=alerts.topic_arn,
                alarm_topic_key_arn=alerts.key_arn,
                alarm_name_prefix=naming.prefix,
                function_name=naming.function("posture-guard"),
                role_name=naming.role("posture-guard"),
                schedule_name=naming.event_rule("posture-guard"),
                backup_vault_name=naming.backup_vault() if uses_backup else None,
                backed_up=[*environment.protected_tables, *environment.protected_buckets]
                if uses_backup
                else [],
                recovery_point_max_age_hours=spec.recovery_point_max_age_hours or 26,
                remediate=settings.remediate_posture,
                tags=tags,
            ),
        )

    if not uses_backup:
        return Deployment(spec, environment, alerts.topic_arn)

    BackupRegionSettings(f"{naming.prefix}-backup-region-settings", BackupRegionSettingsArgs())
    vault = BackupVault(
        f"{naming.prefix}-backup-vault",
        BackupVaultArgs(
            vault_name=naming.backup_vault(),
            key_alias=naming.key_alias("vault"),
            account_id=environment.account_id,
            partition=environment.partition,
            break_glass_role_arns=settings.break_glass_role_arns,
            notification_topic_arn=alerts.topic_arn,
            notification_dependencies=[alerts.topic_policy],
            protect=settings.protect_backups,
            tags=tags,
        ),
    )
    plan = BackupPlan(
        f"{naming.prefix}-backup-plan",
        BackupPlanArgs(
            plan_name=f"{naming.prefix}-backup-plan",
            selection_name=f"{naming.prefix}-protected-data",
            vault_name=vault.vault_name,
            rules=[backup_rule(kind, settings) for kind in spec.backup_rules],
            resource_arns=[t.arn for t in environment.protected_tables]
            + [b.arn for b in environment.protected_buckets],
            account_id=environment.account_id,
            partition=environment.partition,
            protect=settings.protect_backups,
            tags=tags,
        ),
    )
    BackupJobAlerts(
        f"{naming.prefix}-backup-alerts",
        BackupJobAlertsArgs(
            topic_arn=alerts.topic_arn,
            vault_name=vault.vault_name,
            name_prefix=naming.prefix,
            resource_types=(["DynamoDB"] if environment.protected_tables else [])
            + (["S3"] if environment.protected_buckets else []),
            hours_without_completed_backup=spec.recovery_point_max_age_hours or 26,
            tags=tags,
        ),
    )
    return Deployment(
        spec,
        environment,
        alerts.topic_arn,
        backup_vault_arn=vault.vault_arn,
        backup_plan_id=plan.plan_id,
    )


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
