"""Basic's guard: PITR and versioning checked on a schedule, one alarm per check."""

from collections.abc import Mapping
from typing import ClassVar

from components import PostureGuard, PostureGuardArgs
from tiers.capabilities.aws_backup import DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS
from tiers.capabilities.base import Alarm, BuildContext, Contribution, Product
from tiers.capabilities.s3_replication import replication_plans
from tiers.definitions import Capability
from tiers.scope import ScopeRole


class PostureGuardBuilder:
    """Watches FormKiQ's own PITR and versioning settings; never changes them unless asked."""

    capability: ClassVar[Capability] = Capability.POSTURE_GUARD
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {
        ScopeRole.PRIMARY: frozenset({"cloudwatch.amazonaws.com"})
    }
    needs: ClassVar[frozenset[Product]] = frozenset()
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        scope = context.primary
        environment = context.environment
        backed_up = Capability.AWS_BACKUP in context.spec.capabilities
        copies = Capability.CROSS_REGION_COPIES in context.spec.capabilities
        # With replication in the tier, the guard also proves our rule is still on each source
        # bucket, complete (one implementation with `formkiq-dr verify`).
        replications = (
            [plan.expected for plan in replication_plans(context)]
            if Capability.S3_REPLICATION in context.spec.capabilities
            else []
        )
        guard = PostureGuard(
            scope.naming.resource("posture-guard"),
            PostureGuardArgs(
                app_environment=environment.app_environment,
                account_id=environment.account_id,
                tables=environment.protected_tables,
                buckets=environment.protected_buckets,
                alarm_topic_arn=scope.alerts.topic_arn,
                alarm_topic_key_arn=scope.alerts.key_arn,
                alarm_name_prefix=scope.naming.prefix,
                function_name=scope.naming.function("posture-guard"),
                role_name=scope.naming.role("posture-guard"),
                schedule_name=scope.naming.event_rule("posture-guard"),
                # With AWS Backup in the tier, the guard also proves each resource's newest
                # recovery point is fresh (one implementation with `formkiq-dr verify`).
                backup_vault_name=scope.naming.backup_vault() if backed_up else None,
                backed_up=[*environment.protected_tables, *environment.protected_buckets]
                if backed_up
                else [],
                recovery_point_max_age_hours=context.spec.recovery_point_max_age_hours
                or DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS,
                # With copies in the tier, the newest copy of each resource in the DR vault too.
                copy_vault_name=context.dr.naming.backup_vault() if copies else None,
                copy_vault_region=context.dr.where.region_name if copies else None,
                replications=replications,
                remediate=context.settings.remediate_posture,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        return Contribution(
            alarms=[Alarm(ScopeRole.PRIMARY, name) for name in guard.alarm_names],
            widgets=guard.widgets,
        )
