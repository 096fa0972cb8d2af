"""One tier as one Pulumi component resource: what the four tier components share.

`BasicBackup`, `StandardBackup`, `EnhancedBackup` and `EnterpriseBackup` (tiers/components.py)
each take their tier's settings as typed arguments and build the tier under themselves, so a
preview reads `StandardBackup prod` -> capabilities -> AWS resources. In order:

1. a tier a later release builds fails as the stack does (TierNotBuildableError), before any
   AWS call;
2. the primary region is the region of the component's AWS provider (an invoke through the
   provider its options name, or its parent's: a host program's explicit provider counts);
3. the arguments are checked by the rules of the stack's keys (formkiq_backup.config), every
   problem at once, named as the caller spells them; an Output is refused, naming the argument,
   because its value is unknown until the deployment runs;
4. FormKiQ is discovered through the invokes the stack program used, through that provider;
5. only then does the component register, with aliases for the other tiers' types, so moving a
   stack to another tier keeps every resource under it; `build_tier` builds the tier with the
   component as parent; what the capabilities contribute becomes typed attributes.

The public classes are generated (tiers/codegen.py) rather than inherited from one another:
Pulumi's schema analyzer takes each description from the docstring under a field in the class's
own source, so an inherited field would lose its description. They are flat and say so.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any

import pulumi

from formkiq_backup.config import (
    DEFERRED,
    FIELD_NAMES,
    STACK_KEYS,
    Spelling,
    parse_arguments,
)
from formkiq_backup.discovery import PulumiInvokeReader, discover
from tiers.builder import Deployment, build_tier, ensure_buildable
from tiers.definitions import TIERS, Tier
from tiers.outputs import tier_outputs

PACKAGE = "formkiq-backup"
# The package's version, as pyproject.toml declares it (tests/test_packaging.py keeps the two
# equal); the schema and the provider host announce it.
VERSION = "0.1.0"


def component_name(tier: Tier) -> str:
    """`StandardBackup`: the class, and the last part of its type token."""
    return f"{tier.value.capitalize()}Backup"


def type_token(tier: Tier) -> str:
    """`formkiq-backup:index:StandardBackup`: the component's identity in every Pulumi language."""
    return f"{PACKAGE}:index:{component_name(tier)}"


class ArgumentNaming(Enum):
    """How a component's caller spells its arguments; errors name them the same way."""

    PYTHON = "python"
    """snake_case, as a Python program passes them."""
    SCHEMA = "schema"
    """camelCase, as YAML and the generated SDKs pass them (through the provider host)."""
    STACK = "stack"
    """The stack's own keys: the stack program read and checked them, and warned, before."""


_NAMING: ContextVar[ArgumentNaming] = ContextVar(
    "formkiq_backup_argument_naming", default=ArgumentNaming.PYTHON
)


def argument_naming() -> ArgumentNaming:
    """How the components built now spell their arguments in errors and warnings."""
    return _NAMING.get()


def name_arguments(naming: ArgumentNaming) -> None:
    """Spell the arguments of every component built from here on so (the provider: SCHEMA)."""
    _NAMING.set(naming)


@contextmanager
def naming_arguments(naming: ArgumentNaming) -> Iterator[None]:
    """Spell the arguments of the components built inside the block so (the stack: STACK)."""
    token = _NAMING.set(naming)
    try:
        yield
    finally:
        _NAMING.reset(token)


class UndeclaredOutputError(RuntimeError):
    """A tier produced outputs its component does not declare (or lacks ones it declares)."""


class TierComponent(pulumi.ComponentResource):
    """A tier of FormKiQ's backup guide, built as one component resource.

    Holds no public annotations of its own: Pulumi's analyzer would read them as outputs of
    every tier, without their descriptions.
    """

    def __init__(
        self,
        tier: Tier,
        name: str,
        args: Mapping[str, object],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        spec = TIERS[tier]
        naming = argument_naming()
        spelling = _spelling(naming, tier, name)
        ensure_buildable(spec)
        # Every read goes through the AWS provider the component's resources will inherit.
        reads = _invoke_options(opts)
        arguments = {key: _plain(value) for key, value in args.items()}
        settings = parse_arguments(tier, arguments, _region(reads), spelling)
        environment = discover(PulumiInvokeReader(reads), settings.app_environment)
        super().__init__(type_token(tier), name, None, _with_tier_aliases(tier, opts))
        if naming is not ArgumentNaming.STACK:
            for warning in settings.warnings:
                pulumi.log.warn(f"{spelling.subject}: {warning}", resource=self)
        deployment = build_tier(spec, settings, environment, parent=self)
        self._exports = self._publish(tier, deployment)
        self.register_outputs(self._exports)

    def stack_outputs(self) -> dict[str, pulumi.Output[Any]]:
        """The outputs by stack output name, in the order the stack exports them."""
        return dict(self._exports)

    def _publish(self, tier: Tier, deployment: Deployment) -> dict[str, pulumi.Output[Any]]:
        """Each declared output as an attribute. An output the capabilities contribute that the
        component does not declare, or the reverse, is an error: the schema must not drift."""
        outputs = deployment.outputs()
        attributes = {spec.name: spec.attribute for spec in tier_outputs(tier)}
        disagreements = [
            f"{name} is contributed but not declared" for name in outputs if name not in attributes
        ] + [
            f"{spec.name} is declared but not contributed"
            for spec in tier_outputs(tier)
            if spec.name not in outputs and not spec.optional
        ]
        if disagreements:
            raise UndeclaredOutputError(
                f"{component_name(tier)}'s outputs disagree with its capabilities: "
                + "; ".join(disagreements)
                + ". Declare each stack output in tiers/outputs.py and run `make schema`."
            )
        for name, attribute in attributes.items():
            setattr(self, attribute, pulumi.Output.from_input(outputs.get(name)))
        return {name: getattr(self, attributes[name]) for name in outputs}


def _spelling(naming: ArgumentNaming, tier: Tier, name: str) -> Spelling:
    """How problems name the arguments, and whose arguments they are."""
    if naming is ArgumentNaming.STACK:
        return STACK_KEYS
    if naming is ArgumentNaming.SCHEMA:
        return Spelling(f"{component_name(tier)} {name!r}", region="provider region")
    return Spelling(f"{component_name(tier)}({name!r})", FIELD_NAMES, region="provider region")


def _plain(value: object) -> object:
    """The value, or DEFERRED where it is (or holds) an Output or another awaitable."""
    if isinstance(value, list | tuple):
        return DEFERRED if any(_plain(item) is DEFERRED for item in value) else value
    if isinstance(value, Mapping):  # an object setting's keys
        return DEFERRED if any(_plain(item) is DEFERRED for item in value.values()) else value
    if isinstance(value, pulumi.Output) or hasattr(value, "__await__"):
        return DEFERRED
    return value


def _invoke_options(opts: pulumi.ResourceOptions | None) -> pulumi.InvokeOptions:
    """Invoke options naming the AWS provider the component's children will use: the one its
    options give, else its parent's, else the program's default provider."""
    opts = opts or pulumi.ResourceOptions()
    return pulumi.InvokeOptions(parent=opts.parent, provider=_aws_provider(opts))


def _region(reads: pulumi.InvokeOptions) -> str:
    """The region of the component's AWS provider: its primary region."""
    import pulumi_aws as aws

    return aws.get_region(opts=reads).region


def _aws_provider(opts: pulumi.ResourceOptions) -> pulumi.ProviderResource | None:
    if isinstance(opts.provider, pulumi.ProviderResource) and opts.provider.package == "aws":
        return opts.provider
    providers = opts.providers
    if isinstance(providers, Mapping):
        return providers.get("aws")
    return next((p for p in providers or () if p.package == "aws"), None)


def tier_aliases(tier: Tier) -> list[pulumi.Alias]:
    """The other tiers' components, same name and parent: what this one may have been.

    A stack moving from standard to enhanced (or back) changes the component's type token, and
    so the URN of everything under it. With these aliases the engine finds the component under
    the previous tier's type, and each child under it (a child inherits the alias its parent was
    found by), so a tier change replaces no vault or key.
    """
    return [pulumi.Alias(type_=type_token(other)) for other in Tier if other is not tier]


def _with_tier_aliases(tier: Tier, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """The caller's options (their own aliases kept), plus `tier_aliases`."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(aliases=list(tier_aliases(tier)))
    )
