"""The capability registry and region scopes: how the tier build grows, tested with a DR builder.

A small builder that puts a vault in the DR scope stands in for a capability still to come
(global table replicas): it proves a second region gets its own topic, names and `region`, and
that contributions merge into the outputs and verify expectations, apart from Enhanced's own
builders (tested in test_enhanced_tier.py).
"""

from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi
import pytest

from components import BackupVault, BackupVaultArgs
from formkiq_backup.config import parse_settings
from formkiq_backup.discovery import PulumiInvokeReader, discover
from formkiq_backup.offline.program import ProgramRun, run_offline, run_program
from formkiq_backup.offline.samples import sample_formkiq
from tiers.builder import TierNotBuildableError, build_tier, ensure_buildable
from tiers.capabilities import (
    BUILDABLE,
    REALISED_BY_RULES,
    REGISTRY,
    BuildContext,
    CapabilityBuilder,
    Contribution,
)
from tiers.capabilities.base import Product
from tiers.definitions import RULE_CAPABILITIES, STANDARD, TIERS, Capability, Tier
from tiers.scope import Naming, ScopeRole

DR_REGION = "us-west-2"


class DrVaultBuilder:
    """Stands in for a DR capability still to come: one vault in the DR region."""

    capability: ClassVar[Capability] = Capability.GLOBAL_TABLE_REPLICAS
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.DR})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {
        ScopeRole.DR: frozenset({"backup.amazonaws.com"})
    }
    needs: ClassVar[frozenset[Product]] = frozenset({Product.PRIMARY_VAULT})
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        scope = context.dr
        context.product(Product.PRIMARY_VAULT, BackupVault)  # what it would copy from
        vault = BackupVault(
            scope.naming.resource("backup-vault"),
            BackupVaultArgs(
                vault_name=scope.naming.resource("backup-vault"),
                key_alias=scope.naming.key_alias("vault"),
                account_id=context.environment.account_id,
                partition=context.environment.partition,
                notification_topic_arn=scope.alerts.topic_arn,
                region=scope.region,
            ),
        )
        return Contribution(
            outputs={"drBackupVaultArn": vault.vault_arn},
            verify={"vaults": [{"role": "dr", "name": vault.vault_name, "region": DR_REGION}]},
        )


def _registry(*extra: CapabilityBuilder) -> dict[Capability, CapabilityBuilder]:
    return {**REGISTRY, **{builder.capability: builder for builder in extra}}


DR_SPEC = STANDARD.extended(
    STANDARD.tier,
    summary="standard with one DR vault",
    rto_target="-",
    adds=frozenset({Capability.GLOBAL_TABLE_REPLICAS}),
    objectives={},
)


def _run(registry: Mapping[Capability, CapabilityBuilder], **raw: str) -> ProgramRun:
    settings = parse_settings(
        {"tier": "enhanced", "appEnvironment": "prod", "drRegion": DR_REGION, **raw}, "us-east-1"
    )

    def body() -> None:
        environment = discover(PulumiInvokeReader(), "prod")
        deployment = build_tier(DR_SPEC, settings, environment, registry)
        for key, value in deployment.outputs().items():
            pulumi.export(key, value)

    return run_offline(body, sample=sample_formkiq())


def _topic_policy_services(run: ProgramRun, topic_name: str) -> Any:
    import json

    policy = json.loads(run.named(f"{topic_name}-topic-policy").inputs["policy"])
    services: set[str] = set()
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            named = statement["Principal"]["Service"]
            services |= {named} if isinstance(named, str) else set(named)
    return sorted(services)


def test_buildable_capabilities_are_the_registry_and_the_rules_the_plan_builder_realises() -> None:
    assert frozenset(REGISTRY) | REALISED_BY_RULES == BUILDABLE
    # A rule's capability (the yearly rule) has no builder: each is a rule kind of the tiers
    # that have it, which the AWS Backup builder turns into a rule of the plan.
    assert not REALISED_BY_RULES & frozenset(REGISTRY)
    for kind, capability in RULE_CAPABILITIES.items():
        for spec in TIERS.values():
            assert (capability in spec.capabilities) == (kind in spec.backup_rules), spec.tier
    assert all(builder.capability is capability for capability, builder in REGISTRY.items())
    for spec in TIERS.values():
        if spec.capabilities <= BUILDABLE:
            ensure_buildable(spec)


def test_a_capability_in_the_dr_region_gets_its_own_topic_names_and_region() -> None:
    run = _run(_registry(DrVaultBuilder()))

    primary_topic = run.named("formkiq-prod-alerts-topic")
    dr_topic = run.named("formkiq-prod-dr-alerts-topic")
    assert "region" not in primary_topic.inputs
    assert dr_topic.inputs["region"] == DR_REGION
    dr_vault = run.named("formkiq-prod-dr-backup-vault-vault")
    assert (dr_vault.inputs["name"], dr_vault.inputs["region"]) == (
        "formkiq-prod-dr-backup-vault",
        DR_REGION,
    )
    dr_resources = [r for r in run.resources if r.custom and r.name.startswith("formkiq-prod-dr-")]
    assert dr_resources and all(r.inputs.get("region") == DR_REGION for r in dr_resources)
    assert len({r.urn for r in run.resources}) == len(run.resources)
    # Each topic admits exactly the services its scope's capabilities declared.
    assert _topic_policy_services(run, "formkiq-prod-dr-alerts") == ["backup.amazonaws.com"]
    assert _topic_policy_services(run, "formkiq-prod-alerts") == [
        "backup.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    ]


def test_contributions_merge_into_outputs_and_verify_expectations() -> None:
    run = _run(_registry(DrVaultBuilder()))

    outputs = run.outputs
    assert outputs["drRegion"] == DR_REGION
    assert outputs["drAlarmTopicArn"].startswith(f"arn:aws:sns:{DR_REGION}:")
    assert outputs["drBackupVaultArn"].endswith(":backup-vault:formkiq-prod-dr-backup-vault")
    vaults = outputs["verifyExpectations"]["vaults"]
    assert [(v["role"], v["name"], v["region"]) for v in vaults] == [
        ("primary", "formkiq-prod-backup-vault", "us-east-1"),
        ("dr", "formkiq-prod-dr-backup-vault", DR_REGION),
    ]
    assert vaults[0]["maxRecoveryPointAgeHours"] == 26


def test_single_region_tiers_open_no_dr_scope() -> None:
    run = run_program("prod")

    assert len(run.of_type("formkiq-backup:index:NotificationTopic")) == 1
    assert run.outputs["drRegion"] is None
    assert "drAlarmTopicArn" not in run.outputs
    assert run.outputs["verifyExpectations"]["primaryRegion"] == "us-east-1"


def test_a_builder_whose_needs_come_later_fails_before_anything_is_registered() -> None:
    # The DR vault builder first, where the primary vault it needs is not made yet.
    registry: dict[Capability, CapabilityBuilder] = {
        Capability.GLOBAL_TABLE_REPLICAS: DrVaultBuilder(),
        **{c: b for c, b in REGISTRY.items() if c is not Capability.GLOBAL_TABLE_REPLICAS},
    }

    run = run_offline(
        lambda: ensure_buildable(DR_SPEC, registry), sample=sample_formkiq(), raise_errors=False
    )

    assert isinstance(run.error, TierNotBuildableError)
    assert "needs the primary backup vault" in str(run.error)
    assert run.resources == []


def test_an_output_contributed_twice_is_refused() -> None:
    class Clash(DrVaultBuilder):
        def build(self, context: BuildContext) -> Contribution:
            super().build(context)
            return Contribution(outputs={"backupVaultArn": "again"})

    run = run_offline(
        lambda: build_tier(
            DR_SPEC,
            parse_settings(
                {"tier": "enhanced", "appEnvironment": "prod", "drRegion": DR_REGION}, "us-east-1"
            ),
            discover(PulumiInvokeReader(), "prod"),
            _registry(Clash()),
        ).outputs(),
        sample=sample_formkiq(),
        raise_errors=False,
    )

    assert isinstance(run.error, ValueError)
    assert "'backupVaultArn' is contributed twice" in str(run.error)


@pytest.mark.parametrize("role", list(ScopeRole))
def test_names_fit_aws_limits_for_the_longest_app_environment(role: ScopeRole) -> None:
    # FormKiQ's documents bucket `formkiq-core-<env>-documents-<12 digits>` caps env at 27.
    longest = "a" * 27
    naming = Naming.for_environment(longest, role)

    assert len(naming.resource("backup-vault")) <= 50  # CreateBackupVault name limit
    assert len(naming.resource("protected-data")) <= 50  # selection name limit
    assert naming.prefix != Naming.for_environment("a" * 26, role).prefix


def test_primary_names_are_unchanged_so_existing_stacks_keep_their_resources() -> None:
    assert Naming.for_environment("prod").prefix == "formkiq-prod"
    assert Naming.for_environment("prod", ScopeRole.DR).prefix == "formkiq-prod-dr"


def test_the_preview_marks_what_lives_in_the_dr_region() -> None:
    from io import StringIO

    from rich.console import Console

    from formkiq_backup.offline.preview import render

    out = StringIO()
    render(_run(_registry(DrVaultBuilder())), Console(file=out, width=200, color_system=None))
    lines = out.getvalue().splitlines()

    dr_vault = next(
        line for line in lines if "backup.Vault formkiq-prod-dr-backup-vault-vault" in line
    )
    assert "in us-west-2" in dr_vault
    primary_vault = next(
        line for line in lines if "backup.Vault formkiq-prod-backup-vault-vault" in line
    )
    assert "in us-" not in primary_vault
    assert any("in us-east-1 unless marked 'in <region>'" in line for line in lines)


class CopiesWithoutTheirVault:
    """A copies builder that forgets the vault the plan's rules wait for."""

    capability: ClassVar[Capability] = Capability.CROSS_REGION_COPIES
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.DR})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {}
    needs: ClassVar[frozenset[Product]] = frozenset({Product.PRIMARY_VAULT})
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        return Contribution()


def test_a_copies_builder_that_does_not_take_the_copy_destination_is_refused_before_building() -> (
    None
):
    """The plan's rules carry a deferred DR vault ARN: left unresolved, `pulumi up` would wait
    on it for ever, so the tier is refused before anything is registered."""
    with pytest.raises(TierNotBuildableError, match="must complete the vault the primary plan"):
        ensure_buildable(TIERS[Tier.ENHANCED], _registry(CopiesWithoutTheirVault()))


class CopiesThatFail(CopiesWithoutTheirVault):
    """A copies builder that takes the copy destination, then fails before giving it."""

    needs: ClassVar[frozenset[Product]] = frozenset({Product.COPY_DESTINATION})

    def build(self, context: BuildContext) -> Contribution:
        raise ValueError("the DR vault could not be built")


def test_a_builder_that_fails_after_the_plan_waits_for_its_vault_stops_the_program() -> None:
    """The plan is registered with the DR vault's ARN still to come: a failure before that ARN
    is given fails the plan too, with the reason, instead of leaving `pulumi up` waiting."""
    settings = parse_settings(
        {"tier": "enhanced", "appEnvironment": "prod", "drRegion": DR_REGION}, "us-east-1"
    )
    run = run_offline(
        lambda: build_tier(
            TIERS[Tier.ENHANCED],
            settings,
            discover(PulumiInvokeReader(), "prod"),
            _registry(CopiesThatFail()),
        ),
        sample=sample_formkiq(),
        raise_errors=False,
    )

    assert run.error is not None
    assert "the DR vault could not be built" in str(run.error)
    # The plan waited for the vault: it was never sent with a copy action to nowhere.
    registered = {r.type for r in run.resources}
    assert "aws:backup/vault:Vault" in registered
    assert "aws:backup/plan:Plan" not in registered
