"""The README's examples run: the YAML program through Pulumi's provider host, the Python
program as Pulumi runs a program, both under the mocks against a sample FormKiQ."""

import re
import runpy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.provider.experimental.component import ComponentProvider

from formkiq_backup.offline.program import ProgramRun, read_yaml, run_offline
from formkiq_backup.offline.samples import sample_formkiq
from tests.component_support import fingerprint, wire
from tiers.component_base import PACKAGE, VERSION, ArgumentNaming, naming_arguments
from tiers.components import COMPONENTS, StandardBackup

PROJECT_DIR = Path(__file__).resolve().parent.parent
YAML_EXAMPLE = PROJECT_DIR / "examples" / "yaml" / "Pulumi.yaml"
PYTHON_EXAMPLE = PROJECT_DIR / "examples" / "python" / "__main__.py"
README = (PROJECT_DIR / "README.md").read_text()
SECTION = README.split("## Using the tiers from another program", 1)[1].split("\n## ", 1)[0]


def yaml_program() -> dict[str, Any]:
    program = read_yaml(YAML_EXAMPLE)
    assert isinstance(program, dict)
    return program


@pytest.fixture(scope="module")
def from_yaml() -> ProgramRun:
    """The YAML program's resources constructed as the provider host constructs them: the
    properties over the wire, camelCase mapped to Python names, then the component's class."""
    program = yaml_program()
    provider = ComponentProvider(list(COMPONENTS), PACKAGE, version=VERSION)

    def run() -> None:
        states: dict[str, Mapping[str, Any]] = {}
        with naming_arguments(ArgumentNaming.SCHEMA):
            for name, declared in program["resources"].items():
                built = provider.construct(
                    name, declared["type"], wire(declared["properties"]), pulumi.ResourceOptions()
                )
                states[name] = built.state
        for output, expression in program["outputs"].items():
            match = re.fullmatch(r"\$\{(\w+)\.(\w+)\}", expression)
            assert match, expression
            pulumi.export(output, states[match[1]][match[2]])

    return run_offline(run, sample=sample_formkiq())


@pytest.fixture(scope="module")
def from_python_example() -> ProgramRun:
    return run_offline(
        lambda: runpy.run_path(str(PYTHON_EXAMPLE), run_name="__main__"),
        sample=sample_formkiq(),
    )


def test_the_yaml_example_uses_the_standard_component_by_its_type_token() -> None:
    program = yaml_program()
    assert program["runtime"] == "yaml"
    assert program["packages"] == {"formkiq-backup": "../.."}
    assert {r["type"] for r in program["resources"].values()} == {
        "formkiq-backup:index:StandardBackup"
    }


def test_the_yaml_example_builds_what_a_python_program_builds_for_the_same_settings(
    from_yaml: ProgramRun,
) -> None:
    def python() -> None:
        StandardBackup(
            "backup",
            {
                "app_environment": "prod",
                "notification_emails": ["platform-oncall@example.com"],
                "break_glass_role_arns": ["arn:aws:iam::111122223333:role/BackupBreakGlass"],
                "monthly_retention_days": 400,
                "cold_storage_after_days": 90,
            },
        )

    assert fingerprint(from_yaml) == fingerprint(run_offline(python, sample=sample_formkiq()))
    rules = from_yaml.one("aws:backup/plan:Plan").inputs["rules"]
    assert {rule["ruleName"] for rule in rules} == {"daily_kept_35_days", "monthly_kept_400_days"}


def test_the_yaml_examples_outputs_resolve_to_the_components_outputs(
    from_yaml: ProgramRun,
) -> None:
    outputs = from_yaml.outputs
    assert set(outputs) == set(yaml_program()["outputs"])
    assert outputs["backupVaultArn"] == from_yaml.one("aws:backup/vault:Vault").state["arn"]
    assert outputs["alarmTopicArn"] == from_yaml.one("aws:sns/topic:Topic").state["arn"]
    assert outputs["recoveryObjectives"]["documentMetadata"]["rpoMinutes"] == 5
    assert outputs["verifyExpectations"]["tier"] == "standard"


def test_the_python_example_feeds_the_components_outputs_to_its_own_resources(
    from_python_example: ProgramRun,
) -> None:
    run = from_python_example
    vault_arn = run.one("aws:backup/vault:Vault").state["arn"]
    topic_arn = run.one("aws:sns/topic:Topic").state["arn"]
    pager = run.named("formkiq-backup-alerts-to-pager")
    assert (pager.inputs["topic"], pager.inputs["protocol"]) == (topic_arn, "https")
    assert vault_arn in run.named("oncall-reads-formkiq-recovery-points").inputs["policy"]
    assert run.outputs["backupVaultArn"] == vault_arn
    assert run.one("formkiq-backup:index:StandardBackup").name == "prod"
    # Its own resources sit beside the component, not in it.
    assert pager.parent_urn.split("::")[2] == "pulumi:pulumi:Stack"


def test_the_readme_shows_the_examples_as_they_are_tested() -> None:
    blocks = re.findall(r"```(yaml|python)\n(.*?)```", SECTION, re.DOTALL)
    assert {language for language, _ in blocks} == {"yaml", "python"}
    sources = {"yaml": YAML_EXAMPLE.read_text(), "python": PYTHON_EXAMPLE.read_text()}
    for language, block in blocks:
        assert block in sources[language], block
