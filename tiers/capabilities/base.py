"""What a capability builder is: what it needs, what it builds, what it contributes.

A builder turns one `Capability` of a tier into components. It declares, as plain data, the
services that must publish to each scope's alert topic (the topic policy is written before any
builder runs) and the products it needs from builders before it (the vault, say). Its `build`
returns a `Contribution`: stack outputs, the alarms it created and the dashboard widgets of the
metrics it watches (the dashboard shows both), the audit controls that evidence what it built
(the audit framework gathers them), what `formkiq-dr verify` should expect of it, and products
for the builders after it.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeVar

import pulumi

from components import NotificationTopic
from components.audit_controls import AuditControl
from components.dashboard import Widget
from formkiq_backup.config import BackupSettings
from formkiq_backup.formkiq import FormKiQEnvironment
from tiers.definitions import Capability, TierSpec
from tiers.scope import Naming, RegionScope, ScopeRole

# The tag every resource of a stack carries, valued with its FormKiQ environment: audit control
# scopes name the stack's own plans and vaults by it.
STACK_TAG = "FormKiQAppEnvironment"


class Product(StrEnum):
    """Something one builder makes that another builder needs."""

    PRIMARY_VAULT = "the primary backup vault"
    COPY_DESTINATION = "the vault the primary plan's rules copy to, still to be built"
    DR_VAULT = "the DR region's backup vault"
    EXPORTS_BUCKET = "the system exports bucket"
    AIR_GAPPED_DESTINATION = "the logically air-gapped vault the rules copy to, still to be built"
    AIR_GAPPED_VAULT = "the logically air-gapped vault"


# Products handed over as deferred outputs: in a tier with the capability, a builder registers
# resources that wait for a value the capability's builder must give later. Unresolved, the
# deployment would wait for ever, so that builder must declare the product in `needs`
# (tiers.builder.ensure_buildable refuses the tier before anything is registered otherwise).
DEFERRED_PRODUCTS: Mapping[Product, Capability] = {
    Product.COPY_DESTINATION: Capability.CROSS_REGION_COPIES,
    Product.AIR_GAPPED_DESTINATION: Capability.AIR_GAPPED_VAULT,
}


class BuildAbandonedError(RuntimeError):
    """A capability failed to build: what waited for a value it was to give fails too."""


class DeferredArn:
    """An ARN resources are registered with before the resource it names exists.

    One builder registers resources that wait for it (the plan's copy actions wait for the
    vault they copy into); a later builder gives its value (pulumi.deferred_output). If any
    builder fails first, `abandon` fails what waits with the reason, so `pulumi up` stops on
    the error instead of waiting for ever for a value no builder will give.
    """

    def __init__(self) -> None:
        self.output: pulumi.Output[str]
        self._resolve: Callable[[pulumi.Output[str]], None]
        self.output, self._resolve = pulumi.deferred_output()
        self.resolved = False

    def resolve(self, value: pulumi.Output[str]) -> None:
        self.resolved = True
        self._resolve(value)

    def abandon(self, reason: BaseException) -> None:
        """Fail every resource waiting for this ARN (nothing happens once it is resolved)."""
        if self.resolved:
            return

        def fail(_: object) -> str:
            raise BuildAbandonedError(f"not built: {reason}") from reason

        self.resolve(pulumi.Output.from_input("").apply(fail))


@dataclass(frozen=True)
class Alarm:
    """An alarm a capability created, and the region it lives (and notifies) in."""

    scope: ScopeRole
    name: pulumi.Output[str]


@dataclass(frozen=True)
class Contribution:
    """What one capability adds to the stack beyond its resources."""

    outputs: Mapping[str, object] = field(default_factory=dict)
    """Stack outputs; names are a contract for scripts and StackReferences."""
    alarms: Sequence[Alarm] = ()
    """Every alarm it created: the dashboard shows each with its state."""
    widgets: Sequence[Widget] = ()
    """Dashboard widgets of the metrics it publishes or watches (a widget in another region
    names it: `Widget(region=context.dr.region, ...)`)."""
    audit_controls: Sequence[AuditControl] = ()
    """Backup Audit Manager controls evidencing what it built, parameters from the settings
    (components/audit_controls.py makes each); the audit framework holds them all."""
    verify: Mapping[str, object] = field(default_factory=dict)
    """Entries of the `verifyExpectations` output; lists from several builders are joined."""
    products: Mapping[Product, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    """A region scope as builders see it: where, what names, and the topic alerts go to."""

    where: RegionScope
    alerts: NotificationTopic

    @property
    def region(self) -> str | None:
        """The `region` argument for this scope's components (None: the provider's region)."""
        return self.where.region

    @property
    def naming(self) -> Naming:
        return self.where.naming


_T = TypeVar("_T")


def tier_child_opts(parent: pulumi.Resource | None, **options: Any) -> pulumi.ResourceOptions:
    """Options for a component registered right under the tier's component resource.

    Before tiers were components, these components sat at the root of the stack. The alias
    says the one at the root is this one, so moving under the tier replaces nothing (a vault
    or key replaced would lose its recovery points' protection, and `protect` would stop the
    update); their own children inherit it (Pulumi's resource options, "aliases").
    """
    if parent is None:
        return pulumi.ResourceOptions(**options)
    given = options.pop("aliases", None) or []
    aliases = [*given, pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
    return pulumi.ResourceOptions(parent=parent, aliases=aliases, **options)


@dataclass
class BuildContext:
    """Everything a builder may read: the tier, settings, FormKiQ, scopes and earlier products."""

    spec: TierSpec
    settings: BackupSettings
    environment: FormKiQEnvironment
    scopes: Mapping[ScopeRole, Scope]
    tags: Mapping[str, str]
    products: dict[Product, object] = field(default_factory=dict)
    parent: pulumi.Resource | None = None
    """The resource every component a builder registers goes under (the tier's component)."""
    contributions: list[Contribution] = field(default_factory=list)
    """What the builders before this one contributed: the audit framework and the dashboard,
    registered last, gather their controls, widgets and alarms from it."""
    deferred: list[DeferredArn] = field(default_factory=list)
    """Every ARN a builder handed out for a later builder to give (`defer`)."""

    def defer(self) -> DeferredArn:
        """An ARN a later builder gives; abandoned if the build fails before it does."""
        deferred = DeferredArn()
        self.deferred.append(deferred)
        return deferred

    def abandon_deferred(self, reason: BaseException) -> None:
        """Fail whatever still waits for an ARN no builder will now give."""
        for deferred in self.deferred:
            deferred.abandon(reason)

    def child_opts(self, **options: Any) -> pulumi.ResourceOptions:
        """Options for a component a builder registers: parented where the tier says."""
        return tier_child_opts(self.parent, **options)

    @property
    def primary(self) -> Scope:
        return self.scopes[ScopeRole.PRIMARY]

    @property
    def dr(self) -> Scope:
        """The DR scope; it exists when a selected builder declares `ScopeRole.DR` in `scopes`."""
        if ScopeRole.DR not in self.scopes:
            raise LookupError("no DR scope: declare ScopeRole.DR in the builder's scopes")
        return self.scopes[ScopeRole.DR]

    def product(self, product: Product, kind: type[_T]) -> _T:
        """A product an earlier builder made; its builder declared it in `needs`."""
        value = self.products[product]
        if not isinstance(value, kind):
            raise TypeError(f"{product.value} is a {type(value).__name__}, not {kind.__name__}")
        return value


class CapabilityBuilder(Protocol):
    """Builds one capability. Register it in `tiers.capabilities.REGISTRY`."""

    capability: ClassVar[Capability]
    scopes: ClassVar[frozenset[ScopeRole]]
    """The regions it builds in; a DR scope exists only when a builder asks for one."""
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]]
    """Service principals that publish to each scope's alert topic."""
    needs: ClassVar[frozenset[Product]]
    makes: ClassVar[frozenset[Product]]

    def build(self, context: BuildContext) -> Contribution: ...
