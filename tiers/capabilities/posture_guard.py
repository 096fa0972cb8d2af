"""Basic's guard: PITR and versioning checked on a schedule, one alarm per check."""

from collections.abc import Mapping
from typing import ClassVar

from components import PostureGuard, PostureGuardArgs
from tiers.capabilities.base import Alarm, BuildContext, Contribution, Product
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
                remediate=context.settings.remediate_posture,
                region=scope.region,
                tags=context.tags,
            ),
        )
        return Contribution(alarms=[Alarm(ScopeRole.PRIMARY, name) for name in guard.alarm_names])
