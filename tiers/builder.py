"""Turns a tier spec, validated settings and a discovered FormKiQ environment into components.

The only place that knows both tiers and components: it opens a region scope per region the tier
builds in (each with its own alert topic), runs the registered builder of every capability the
tier has, in registry order, and merges what they contribute into the stack outputs.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components import NotificationTopic, NotificationTopicArgs
from formkiq_backup.config import BackupSettings
from formkiq_backup.formkiq import FormKiQEnvironment
from tiers.capabilities import (
    REALISED_BY_RULES,
    REGISTRY,
    Alarm,
    BuildContext,
    CapabilityBuilder,
    Contribution,
    Scope,
)
from tiers.capabilities.base import DEFERRED_PRODUCTS, STACK_TAG, tier_child_opts
from tiers.definitions import (
    EXPORT_SCHEDULE,
    Capability,
    DataClass,
    RecoveryObjective,
    TierSpec,
)
from tiers.scope import RegionScope, ScopeRole


class TierNotBuildableError(RuntimeError):
    """The tier needs capabilities a later release adds."""


def missing_capabilities(
    spec: TierSpec, registry: Mapping[Capability, CapabilityBuilder] = REGISTRY
) -> list[Capability]:
    """Capabilities `spec` needs that this release cannot build yet (a rule's capability is
    built by the AWS Backup builder, from the tier's rules)."""
    return sorted(spec.capabilities - set(registry) - REALISED_BY_RULES)


def ensure_buildable(
    spec: TierSpec, registry: Mapping[Capability, CapabilityBuilder] = REGISTRY
) -> None:
    """Fail early, with the reason, for tiers whose components are not implemented yet."""
    missing = missing_capabilities(spec, registry)
    if missing:
        raise TierNotBuildableError(
            f"tier {spec.tier.value!r} is not implemented yet: it needs "
            + "; ".join(capability.value for capability in missing)
            + ". Use tier 'standard' until they land."
        )
    built: set[object] = set()
    for builder in selected_builders(spec, registry):
        lacking = builder.needs - built
        if lacking:
            raise TierNotBuildableError(
                f"capability {builder.capability.value!r} needs "
                + ", ".join(sorted(product.value for product in lacking))
                + ", which no capability before it in the registry makes"
            )
        built |= builder.makes
    for product, capability in DEFERRED_PRODUCTS.items():
        completer = registry.get(capability)
        if capability in spec.capabilities and completer and product not in completer.needs:
            raise TierNotBuildableError(
                f"capability {capability.value!r} must complete {product.value}: other "
                "resources wait for it, so its builder must declare it in `needs`"
            )


def selected_builders(
    spec: TierSpec, registry: Mapping[Capability, CapabilityBuilder] = REGISTRY
) -> list[CapabilityBuilder]:
    """The builders of `spec`'s capabilities, in registry (build) order."""
    return [builder for capability, builder in registry.items() if capability in spec.capabilities]


@dataclass(frozen=True)
class Deployment:
    """The built tier: its scopes and what each capability contributed."""

    spec: TierSpec
    environment: FormKiQEnvironment
    scopes: Mapping[ScopeRole, Scope]
    contributions: Sequence[Contribution]
    recovery_objectives: Mapping[DataClass, RecoveryObjective]
    """The tier's objectives, with RPOs that follow a schedule setting derived from it."""

    @property
    def alarms(self) -> list[Alarm]:
        """Every alarm the capabilities created, by scope (for a dashboard)."""
        return [alarm for contribution in self.contributions for alarm in contribution.alarms]

    def outputs(self) -> dict[str, object]:
        """Stack outputs: the tier's own, then each capability's; a name is never given twice."""
        primary = self.scopes[ScopeRole.PRIMARY]
        dr = self.scopes.get(ScopeRole.DR)
        tables = [t.name for t in self.environment.protected_tables]
        buckets = [b.name for b in self.environment.protected_buckets]
        outputs: dict[str, object] = {
            "tier": self.spec.tier.value,
            "appEnvironment": self.environment.app_environment,
            "primaryRegion": primary.where.region_name,
            "drRegion": dr.where.region_name if dr else None,
            "alarmTopicArn": primary.alerts.topic_arn,
            "protectedTables": tables,
            "protectedBuckets": buckets,
            "recoveryObjectives": {
                data_class.value: objective.as_output()
                for data_class, objective in self.recovery_objectives.items()
            },
        }
        if dr is not None:
            outputs["drAlarmTopicArn"] = dr.alerts.topic_arn
        verify: dict[str, object] = {
            "tier": self.spec.tier.value,
            "appEnvironment": self.environment.app_environment,
            "primaryRegion": primary.where.region_name,
            "drRegion": dr.where.region_name if dr else None,
            "tables": tables,
            "buckets": buckets,
            "vaults": [],
            "globalTableReplicaRegions": [],
        }
        for contribution in self.contributions:
            _merge_into(outputs, contribution.outputs, "stack output")
            for key, value in contribution.verify.items():
                existing = verify.get(key)
                if isinstance(existing, list) and isinstance(value, list):
                    verify[key] = existing + value
                else:
                    _merge_into(verify, {key: value}, "verifyExpectations entry")
        outputs["verifyExpectations"] = verify
        return outputs


def build_tier(
    spec: TierSpec,
    settings: BackupSettings,
    environment: FormKiQEnvironment,
    registry: Mapping[Capability, CapabilityBuilder] = REGISTRY,
    parent: pulumi.Resource | None = None,
) -> Deployment:
    """Register every component `spec` asks for, scope by scope, capability by capability.

    The stack's settings switch optional capabilities on or off first (`audit.enabled`,
    `restoreTesting.enabled`; TierSpec.switched).

    With `parent`, every component goes under it (the tier's own component resource), aliased
    to where it was before tiers were components (`tier_child_opts`).
    """
    spec = spec.switched(settings.switched_on, settings.switched_off)
    ensure_buildable(spec, registry)
    builders = selected_builders(spec, registry)
    tags = {"ManagedBy": "formkiq-backup", STACK_TAG: environment.app_environment}

    regions = {
        ScopeRole.PRIMARY: RegionScope.primary(
            environment.app_environment, _primary(settings, environment)
        )
    }
    if any(ScopeRole.DR in builder.scopes for builder in builders):
        if not settings.dr_region:
            raise TierNotBuildableError(
                f"tier {spec.tier.value!r} builds in a second region: set drRegion"
            )
        regions[ScopeRole.DR] = RegionScope.disaster_recovery(
            environment.app_environment, settings.dr_region
        )

    scopes = {
        role: Scope(
            where, _alert_topic(where, builders, settings, environment, tags, parent=parent)
        )
        for role, where in regions.items()
    }
    context = BuildContext(spec, settings, environment, scopes, tags, parent=parent)
    try:
        for builder in builders:
            contribution = builder.build(context)
            context.products.update(contribution.products)
            context.contributions.append(contribution)
    except Exception as error:
        # Resources already registered may wait for an ARN a later builder was to give.
        context.abandon_deferred(error)
        raise
    return Deployment(
        spec,
        environment,
        scopes,
        list(context.contributions),
        recovery_objectives(spec, settings),
    )


def recovery_objectives(
    spec: TierSpec, settings: BackupSettings
) -> dict[DataClass, RecoveryObjective]:
    """The tier's objectives for this stack: an exported data class loses up to one gap of
    exportSchedule, whatever the schedule is."""
    gaps = {EXPORT_SCHEDULE: settings.export_schedule.longest_gap}
    return {
        data_class: objective.following(gaps)
        for data_class, objective in spec.recovery_objectives.items()
    }


def _primary(settings: BackupSettings, environment: FormKiQEnvironment) -> str:
    """`aws:region` when set; else the region the provider (and discovery) ran in."""
    return settings.primary_region or environment.region


def _alert_topic(
    where: RegionScope,
    builders: Sequence[CapabilityBuilder],
    settings: BackupSettings,
    environment: FormKiQEnvironment,
    tags: Mapping[str, str],
    *,
    parent: pulumi.Resource | None,
) -> NotificationTopic:
    """The scope's topic, publishable by exactly the services its capabilities declared."""
    publishers = sorted(
        {service for builder in builders for service in builder.publishers.get(where.role, ())}
    )
    label = "" if where.role is ScopeRole.PRIMARY else f" ({where.region_name})"
    return NotificationTopic(
        where.naming.resource("alerts"),
        NotificationTopicArgs(
            account_id=environment.account_id,
            partition=environment.partition,
            key_alias=where.naming.key_alias("alerts"),
            publishing_services=publishers or ["cloudwatch.amazonaws.com"],
            email_addresses=settings.notification_emails,
            display_name=f"FormKiQ {environment.app_environment} backup alerts{label}",
            region=where.region,
            tags=tags,
        ),
        tier_child_opts(parent),
    )


def _merge_into(target: dict[str, object], new: Mapping[str, object], what: str) -> None:
    for key, value in new.items():
        if key in target:
            raise ValueError(f"{what} {key!r} is contributed twice")
        target[key] = value
