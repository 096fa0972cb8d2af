"""The stack's dashboard: every alarm with its state, then what each capability watches.

Built last, from the widgets and alarms the capabilities before it contributed
(`Contribution.widgets`, `Contribution.alarms`): no second list of metric names. It lives in
the primary region; widgets whose metrics live in the DR region name it.
"""

from collections.abc import Mapping
from typing import ClassVar

import pulumi

from components.dashboard import Dashboard, DashboardArgs
from tiers.capabilities.base import BuildContext, Contribution, Product
from tiers.definitions import Capability
from tiers.scope import ScopeRole


class DashboardBuilder:
    """One CloudWatch dashboard per stack, in the primary region."""

    capability: ClassVar[Capability] = Capability.DASHBOARD
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {}
    needs: ClassVar[frozenset[Product]] = frozenset()
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        scope = context.primary
        environment = context.environment
        alarms: dict[str, list[pulumi.Input[str]]] = {}
        for contribution in context.contributions:
            for alarm in contribution.alarms:
                region = context.scopes[alarm.scope].where.region_name
                alarms.setdefault(region, []).append(alarm.name)
        dashboard = Dashboard(
            scope.naming.resource("dashboard"),
            DashboardArgs(
                dashboard_name=scope.naming.resource("backup"),
                title=f"FormKiQ {environment.app_environment}: backup ({context.spec.tier.value})",
                description=(
                    "Alarms first, those in ALARM on top: each one's description says what to "
                    "do. Below, the metrics they judge. Recovery steps: docs/runbook.md."
                ),
                region_name=scope.where.region_name,
                account_id=environment.account_id,
                partition=environment.partition,
                widgets=[w for contribution in context.contributions for w in contribution.widgets],
                alarms=alarms,
                region=scope.region,
            ),
            context.child_opts(),
        )
        return Contribution(outputs={"dashboardUrl": dashboard.url})
