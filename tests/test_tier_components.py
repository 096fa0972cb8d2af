"""Each tier as a component resource a program builds: children, outputs and errors, under mocks.

A render costs about two seconds, so each one the module compares is made once (module-scoped
fixtures).
"""

from collections.abc import Callable
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pytest

from formkiq_backup.config import DEFERRED, ConfigError
from formkiq_backup.offline.mocks import RegisteredResource
from formkiq_backup.offline.program import ProgramRun, run_offline, run_program
from formkiq_backup.offline.samples import sample_formkiq
from tests.component_support import fingerprint
from tiers.component_base import TierComponent, _plain, type_token
from tiers.components import (
    BasicBackup,
    BasicBackupArgs,
    EnhancedBackup,
    EnhancedBackupArgs,
    EnterpriseBackup,
    EnterpriseBackupArgs,
    StandardBackup,
    StandardBackupArgs,
)
from tiers.definitions import Tier
from tiers.outputs import tier_outputs

# The settings of Pulumi.prod.yaml and Pulumi.dev.yaml, as a Python program passes them.
PROD: StandardBackupArgs = {
    "app_environment": "prod",
    "notification_emails": ["platform-oncall@example.com", "security@example.com"],
    "backup_schedule": "cron(0 5 * * ? *)",
    "schedule_timezone": "UTC",
    "daily_retention_days": 35,
    "monthly_retention_days": 400,
    "cold_storage_after_days": 90,
    "break_glass_role_arns": ["arn:aws:iam::111122223333:role/BackupBreakGlass"],
    "protect_backups": True,
}
DEV: BasicBackupArgs = {
    "app_environment": "dev",
    "notification_emails": ["platform-team@example.com"],
    "remediate_posture": True,
}


def render(
    component: Callable[..., TierComponent], args: Any, *, environment: str = "prod"
) -> ProgramRun:
    """A program holding only the component, exporting each declared output's attribute."""

    def program() -> None:
        built = component(environment, args)
        for spec in tier_outputs(built_tier(built)):
            pulumi.export(spec.name, getattr(built, spec.attribute))

    return run_offline(program, sample=sample_formkiq(app_environment=environment))


def failing(component: Callable[..., TierComponent], args: Any) -> ProgramRun:
    """A program building the component with `args` (a function of none: made in the run)."""

    def program() -> None:
        component("prod", args() if callable(args) else args)

    return run_offline(program, sample=sample_formkiq(), raise_errors=False)


def built_tier(component: TierComponent) -> Tier:
    return next(tier for tier in Tier if type_token(tier).endswith(f":{type(component).__name__}"))


@pytest.fixture(scope="module")
def standard_stack() -> ProgramRun:
    return run_program("prod")


@pytest.fixture(scope="module")
def standard_python() -> ProgramRun:
    return render(StandardBackup, PROD)


@pytest.fixture(scope="module")
def basic_stack() -> ProgramRun:
    return run_program("dev")


@pytest.fixture(scope="module")
def basic_python() -> ProgramRun:
    return render(BasicBackup, DEV, environment="dev")


def test_the_stack_program_builds_its_tier_as_one_component_over_every_resource(
    standard_stack: ProgramRun,
) -> None:
    tiers = [r for r in standard_stack.resources if r.type == type_token(Tier.STANDARD)]
    assert [(t.name, t.custom) for t in tiers] == [("prod", False)]
    (component,) = tiers
    assert component.parent_urn.split("::")[2] == "pulumi:pulumi:Stack"
    by_urn = {resource.urn: resource for resource in standard_stack.resources}

    def ancestors(resource: RegisteredResource) -> list[str]:
        parent = by_urn.get(resource.parent_urn)
        return [] if parent is None else [parent.urn, *ancestors(parent)]

    others = [r for r in standard_stack.resources if r is not component]
    assert len(others) > 100
    assert all(component.urn in ancestors(resource) for resource in others)


# The same settings from a Python program and from a stack file: (python run, stack run).
SAME_SETTINGS = pytest.mark.parametrize(
    "runs", [("standard_python", "standard_stack"), ("basic_python", "basic_stack")]
)


def runs_of(names: tuple[str, str], request: pytest.FixtureRequest) -> list[ProgramRun]:
    return [request.getfixturevalue(name) for name in names]


@SAME_SETTINGS
def test_a_python_program_and_the_stack_build_the_same_resources_for_the_same_settings(
    runs: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    from_python, from_stack = runs_of(runs, request)
    assert fingerprint(from_python) == fingerprint(from_stack)


@SAME_SETTINGS
def test_each_output_attribute_holds_what_the_stack_exports_under_its_name(
    runs: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    from_python, from_stack = runs_of(runs, request)
    assert from_python.outputs == from_stack.outputs
    assert list(from_stack.outputs)[-1] == "verifyExpectations"


def test_outputs_have_the_types_their_declarations_give(standard_python: ProgramRun) -> None:
    outputs = standard_python.outputs
    for spec in tier_outputs(Tier.STANDARD):
        value = outputs[spec.name]
        if spec.type == "str":
            assert isinstance(value, str) and value, spec.name
        elif spec.type == "str | None":
            assert value is None, spec.name  # standard keeps nothing in a second region
        elif spec.type == "list[str]":
            assert value and all(isinstance(item, str) for item in value), spec.name
        else:
            assert isinstance(value, dict) and value, spec.name
    assert outputs["backupVaultArn"].startswith("arn:aws:backup:us-east-1:111122223333:")
    objective = outputs["recoveryObjectives"]["documentMetadata"]
    assert set(objective) == {"rpo", "rpoMinutes", "rto", "rtoMinutes", "protectedBy", "note"}
    assert objective["rtoMinutes"] == {"min": 120, "max": 480}


def test_bad_arguments_are_named_as_python_spells_them_before_anything_is_registered() -> None:
    run = failing(
        StandardBackup,
        {
            **PROD,
            "daily_retention_days": 0,
            "backup_schedule": "cron(0/10 * * * ? *)",
            "dr_region": "us-west-2",
            "retention_days": 10,
            "protect_backups": "yes",
        },
    )

    assert isinstance(run.error, ConfigError)
    message = str(run.error)
    assert message.startswith("StandardBackup('prod') has 5 problems:\n"), message
    for fragment in (
        "- retention_days=10: is not an argument of the standard tier; did you mean ",
        '- dr_region="us-west-2": is not an argument of the standard tier '
        "(only tiers enhanced+ use it)",
        '- backup_schedule="cron(0/10 * * * ? *)": ',
        "- daily_retention_days=0: must be 1..36500 days",
        '- protect_backups="yes": must be true or false',
    ):
        assert fragment in message, fragment
    assert "dailyRetentionDays" not in message
    assert run.resources == []
    assert {invoke.token for invoke in run.invokes} == {"aws:index/getRegion:getRegion"}


def test_rules_across_arguments_name_the_providers_region() -> None:
    china_role = "arn:aws-cn:iam::111122223333:role/BackupBreakGlass"
    run = failing(StandardBackup, {**PROD, "break_glass_role_arns": [china_role]})

    assert (
        f'break_glass_role_arns="{china_role}" and provider region="us-east-1": '
        "a role of partition aws-cn can never act in aws"
    ) in str(run.error)
    assert run.resources == []


def test_an_output_argument_is_refused_naming_it_before_anything_is_registered() -> None:
    run = failing(
        StandardBackup,
        lambda: {
            **PROD,
            "app_environment": pulumi.Output.from_input("prod"),
            "notification_emails": [pulumi.Output.from_input("oncall@example.com")],
        },
    )

    message = str(run.error)
    assert "app_environment=(an Output): must be a plain value: arguments are checked" in message
    assert "notification_emails=(an Output): must be a plain value" in message
    assert run.resources == []


def test_a_python_program_is_warned_in_its_own_names() -> None:
    def program() -> None:
        StandardBackup("prod", {**PROD, "daily_retention_days": 500})

    run = run_offline(program, sample=sample_formkiq())

    warnings = [message for severity, message in run.diagnostics if severity == "warning"]
    assert warnings == [
        "StandardBackup('prod'): daily_retention_days=500 and monthly_retention_days=400: "
        "daily recovery points are kept longer than monthly ones, so the monthly rule keeps "
        "nothing the daily rule does not; were the two swapped?"
    ]


def test_the_enterprise_component_builds_its_replicas_locks_and_air_gapped_vault() -> None:
    outputs: dict[str, object] = {}

    def program() -> None:
        args = cast(
            EnterpriseBackupArgs,
            {
                **PROD,
                "dr_region": "us-west-2",
                "replica_regions": ["eu-west-1"],
                "vault_lock": {"min_retention_days": 30},
            },
        )
        backup = EnterpriseBackup("prod", args)
        backup.table_replicas.apply(lambda replicas: outputs.update(replicas=replicas))
        backup.vault_locks.apply(lambda locks: outputs.update(locks=locks))

    run = run_offline(program, sample=sample_formkiq())

    assert run.error is None
    replicas = run.of_type("aws:dynamodb/tableReplica:TableReplica")
    assert sorted(r.inputs["region"] for r in replicas) == [
        "eu-west-1",
        "eu-west-1",
        "us-west-2",
        "us-west-2",
    ]
    assert outputs["replicas"] == {
        "formkiq-core-prod-documents": ["us-west-2", "eu-west-1"],
        "formkiq-core-prod-documentsyncs": ["us-west-2", "eu-west-1"],
    }
    locks = cast(dict[str, dict[str, object]], outputs["locks"])
    assert locks["formkiq-prod-backup-vault"]["minRetentionDays"] == 30
    assert run.one("aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault")


def test_the_enhanced_component_builds_its_dr_side_and_declares_its_outputs() -> None:
    outputs: dict[str, object] = {}

    def program() -> None:
        args = cast(EnhancedBackupArgs, {**PROD, "dr_region": "us-west-2"})
        backup = EnhancedBackup("prod", args)
        backup.dr_backup_vault_arn.apply(lambda arn: outputs.update(vault=arn))
        backup.documents_replica_bucket.apply(lambda name: outputs.update(replica=name))

    run = run_offline(program, sample=sample_formkiq())

    assert run.error is None
    vault = run.named("formkiq-prod-dr-backup-vault-vault")
    assert vault.inputs["region"] == "us-west-2"
    assert outputs["vault"] == vault.state["arn"]
    assert outputs["replica"] == "formkiq-prod-documents-dr-111122223333-us-west-2"


def test_every_read_and_resource_goes_through_the_aws_provider_the_component_is_given() -> None:
    """A host program's explicit provider decides the region the tier is read from and built in
    (the mocks answer every provider alike: what they show is which provider was asked)."""

    def program() -> None:
        provider = aws.Provider("platform-aws", region="us-east-1")
        BasicBackup("dev", DEV, pulumi.ResourceOptions(providers={"aws": provider}))

    run = run_offline(program, sample=sample_formkiq(app_environment="dev"))

    (provider,) = run.of_type("pulumi:providers:aws")
    reference = f"{provider.urn}::{provider.state.get('id', 'platform-aws-id')}"
    assert {invoke.provider for invoke in run.invokes} == {reference}
    built = [r for r in run.resources if r.custom and r is not provider]
    assert built
    assert {resource.provider for resource in built} == {reference}


def test_an_output_inside_an_object_argument_defers_the_whole_object() -> None:
    """restore_testing={"enabled": <Output>} is refused as an Output, naming restore_testing:
    its value is unknown until the deployment, too late to check it."""

    def body() -> None:
        deferred = _plain({"enabled": pulumi.Output.from_input(True), "sample_size": 5})
        assert deferred is DEFERRED
        assert _plain({"enabled": True}) == {"enabled": True}

    run_offline(body, sample=sample_formkiq())
