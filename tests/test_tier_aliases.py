"""Existing stacks keep every resource: when it moves under the tier's component, and when the
stack moves to another tier.

What the mocks can show and what they cannot: Pulumi's mock monitor records the aliases each
resource is registered with (RecordingMonitor keeps them) but resolves none, and its URNs carry
only the immediate parent's type. formkiq_backup.offline.urns computes the URNs the engine would
give, and applies the engine's alias rules (its step generator's) to them; so these tests prove
that every resource of the previous state is found again by those rules, under the URN it had.
They cannot prove the engine agrees: only `pulumi preview` against a deployed stack shows that
(every resource `same`, none `replace`).
"""

from dataclasses import replace
from typing import cast

import pytest

from formkiq_backup.config import parse_settings
from formkiq_backup.discovery import PulumiInvokeReader, discover
from formkiq_backup.offline.mocks import AliasSpec, RegisteredResource
from formkiq_backup.offline.program import ProgramRun, StackConfig, run_offline, run_program
from formkiq_backup.offline.samples import sample_formkiq
from formkiq_backup.offline.urns import engine_urns, matches
from tiers.builder import build_tier
from tiers.component_base import tier_aliases, type_token
from tiers.definitions import TIERS, Tier

TIER_TYPES = {type_token(tier) for tier in Tier}


def before_tier_components() -> ProgramRun:
    """The prod stack as the program built it before tiers were components: the same builders,
    every capability's components at the root of the stack."""
    settings = parse_settings(StackConfig.load("prod").project_values(), "us-east-1")

    def program() -> None:
        environment = discover(PulumiInvokeReader(), settings.app_environment)
        build_tier(TIERS[settings.tier], settings, environment)

    return run_offline(program, sample=sample_formkiq(), stack="prod")


@pytest.fixture(scope="module")
def before() -> ProgramRun:
    return before_tier_components()


@pytest.fixture(scope="module")
def standard() -> ProgramRun:
    return run_program("prod")


@pytest.fixture(scope="module")
def basic() -> ProgramRun:
    return run_program("prod", overrides={"tier": "basic"})


def identity(run: ProgramRun) -> dict[tuple[str, str], str]:
    """(type, name) -> the URN the engine gives the resource."""
    urns = engine_urns(run.resources)
    return {(r.type, r.name): urns[r.urn] for r in run.resources}


def test_every_resource_keeps_the_urn_it_had_before_tiers_were_components(
    before: ProgramRun, standard: ProgramRun
) -> None:
    old = identity(before)
    found = matches(set(old.values()), standard.resources)
    new = identity(standard)

    moved = {key: urn for key, urn in new.items() if key[0] not in TIER_TYPES}
    assert moved.keys() == old.keys()
    for key, urn in moved.items():
        assert urn != old[key], key  # the URN did change: the type chain starts with the tier
        assert found[urn] == old[key], key  # and the alias leads back to the old one
    # The vault's URN before and now, as the engine spells them.
    vault = ("aws:backup/vault:Vault", "formkiq-prod-backup-vault-vault")
    assert old[vault] == (
        "urn:pulumi:prod::formkiq-backup::formkiq-backup:index:BackupVault$"
        "aws:backup/vault:Vault::formkiq-prod-backup-vault-vault"
    )
    assert new[vault] == (
        "urn:pulumi:prod::formkiq-backup::formkiq-backup:index:StandardBackup$"
        "formkiq-backup:index:BackupVault$aws:backup/vault:Vault::formkiq-prod-backup-vault-vault"
    )
    (component,) = [urn for key, urn in new.items() if key[0] in TIER_TYPES]
    assert found[component] is None  # the tier component is new: a component, nothing in AWS


def test_only_what_sat_at_the_root_carries_the_alias_and_its_children_inherit_it(
    standard: ProgramRun,
) -> None:
    by_urn = {resource.urn: resource for resource in standard.resources}
    (component,) = [r for r in standard.resources if r.type in TIER_TYPES]
    for resource in standard.resources:
        parent = by_urn.get(resource.parent_urn)
        if resource is component:
            assert {alias.type for alias in resource.aliases} == TIER_TYPES - {component.type}
        elif parent is component:
            assert resource.aliases == (AliasSpec(no_parent=True),), resource.name
        else:
            # Only aliases of their own (pulumi-aws renames some types, with aliases for the
            # old ones): the move is inherited from their parent.
            assert AliasSpec(no_parent=True) not in resource.aliases, resource.name


def without_aliases(resource: RegisteredResource) -> RegisteredResource:
    return replace(resource, aliases=())


def test_without_the_root_alias_the_vault_and_its_key_would_be_new_resources(
    before: ProgramRun, standard: ProgramRun
) -> None:
    """The check has teeth: the same registrations without their aliases find nothing."""
    old = identity(before)
    stripped = [without_aliases(resource) for resource in standard.resources]
    found = matches(set(old.values()), stripped)
    assert set(found.values()) == {None}


@pytest.mark.parametrize(("source", "target"), [("basic", "standard"), ("standard", "basic")])
def test_a_tier_change_keeps_every_resource_both_tiers_build(
    source: str, target: str, request: pytest.FixtureRequest
) -> None:
    before_change: ProgramRun = request.getfixturevalue(source)
    after_change: ProgramRun = request.getfixturevalue(target)
    old = identity(before_change)
    new = identity(after_change)
    found = matches(set(old.values()), after_change.resources)

    common = old.keys() & new.keys()
    assert ("aws:sns/topic:Topic", "formkiq-prod-alerts-topic") in common
    assert len(common) > 15
    for key in common:
        assert new[key] != old[key], key  # under the other tier's type now
        assert found[new[key]] == old[key], key


def test_a_tier_change_without_the_tier_aliases_would_replace_the_topic(
    basic: ProgramRun, standard: ProgramRun
) -> None:
    old = identity(basic)
    stripped = [without_aliases(r) if r.type in TIER_TYPES else r for r in standard.resources]
    found = matches(set(old.values()), stripped)
    topic = identity(standard)[("aws:sns/topic:Topic", "formkiq-prod-alerts-topic")]
    assert found[topic] is None


@pytest.mark.parametrize("tier", list(Tier))
def test_each_tier_component_may_have_been_any_other_tier_of_the_same_name(tier: Tier) -> None:
    aliases = tier_aliases(tier)
    assert {alias.type_ for alias in aliases} == TIER_TYPES - {type_token(tier)}
    # Same name and same parent: `...` is Pulumi's "unchanged" (None would mean "no parent").
    assert all(cast(object, alias.name) is ... for alias in aliases)
    assert all(cast(object, alias.parent) is ... for alias in aliases)


def test_the_component_is_named_after_the_formkiq_environment_whatever_the_tier(
    basic: ProgramRun, standard: ProgramRun
) -> None:
    names = {
        run.one(type_token(tier)).name
        for run, tier in ((basic, Tier.BASIC), (standard, Tier.STANDARD))
    }
    assert names == {"prod"}
