"""The tier components' contract with every other Pulumi language: the schema Pulumi infers.

The schema is built offline with the analyzer Pulumi's component provider host runs, and
schema.json is its committed snapshot: a change to an argument or an output changes it, on
purpose or not at all. Inputs are the settings (formkiq_backup/config.py), outputs the
declared stack outputs (tiers/outputs.py), each with its type and description.
"""

import ast
import json
import subprocess
import sys
import threading
from collections.abc import Mapping
from contextvars import copy_context
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import grpc
import pulumi
import pytest
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.util import camel_case
from pulumi.provider.server import ComponentInitError
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

import tiers.component_base
import tiers.components
from formkiq_backup.config import (
    FIELD_NAMES,
    SETTINGS,
    Setting,
    Spelling,
    argument_settings,
    parse_arguments,
    parse_settings,
)
from formkiq_backup.discovery import PulumiInvokeReader, discover
from formkiq_backup.offline.program import run_offline
from formkiq_backup.offline.samples import sample_formkiq
from tests.component_support import wire
from tiers import codegen
from tiers.builder import build_tier
from tiers.capabilities import (
    BUILDABLE,
    REGISTRY,
    BuildContext,
    CapabilityBuilder,
    Contribution,
    Product,
)
from tiers.component_base import (
    PACKAGE,
    VERSION,
    ArgumentNaming,
    TierComponent,
    UndeclaredOutputError,
    argument_naming,
    component_name,
    naming_arguments,
    type_token,
)
from tiers.components import COMPONENTS, BasicBackup
from tiers.definitions import TIERS, Capability, Tier
from tiers.outputs import OUTPUTS, tier_outputs
from tiers.scope import ScopeRole

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCHEMA: dict[str, Any] = json.loads((PROJECT_DIR / "schema.json").read_text())
SETTING_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    # Items are plain: an argument's values must be known before anything is registered.
    "array": {"type": "array", "items": {"type": "string", "plain": True}},
}
OUTPUT_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "str | None": {"type": "string"},
    "list[str]": {"type": "array", "items": {"type": "string"}},
    "dict[str, list[str]]": {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    "dict[str, RecoveryTarget]": {
        "type": "object",
        "additionalProperties": {"$ref": "#/types/formkiq-backup:index:RecoveryTarget"},
    },
    "dict[str, Any]": {"type": "object", "additionalProperties": {"$ref": "pulumi.json#/Any"}},
}


def resource(tier: Tier) -> dict[str, Any]:
    found: dict[str, Any] = SCHEMA["resources"][type_token(tier)]
    return found


def without_descriptions(value: Mapping[str, Any]) -> dict[str, Any]:
    """A schema type as the analyzer writes it, less the descriptions it copies inward."""
    kept = {key: item for key, item in value.items() if key != "description"}
    for key in ("items", "additionalProperties"):
        if key in kept:
            kept[key] = without_descriptions(kept[key])
    return kept


def test_components_and_schema_are_what_make_schema_writes() -> None:
    assert codegen.components_source() == (PROJECT_DIR / "tiers/components.py").read_text(), (
        "tiers/components.py is stale: run `make schema`"
    )
    assert codegen.schema_text() == (PROJECT_DIR / "schema.json").read_text(), (
        "schema.json is stale: run `make schema`"
    )


@pytest.mark.parametrize("module", ["tiers/components.py", "tiers/outputs.py"])
def test_modules_the_analyzer_reads_keep_their_annotations_as_types(module: str) -> None:
    """`from __future__ import annotations` would turn them into strings the analyzer cannot
    follow (it fails on `'str' object has no attribute '__mro__'`)."""
    tree = ast.parse((PROJECT_DIR / module).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert "__future__" not in imported


def test_the_schema_names_the_package_and_its_four_components() -> None:
    assert (SCHEMA["name"], SCHEMA["version"]) == (PACKAGE, VERSION)
    assert list(SCHEMA["resources"]) == [type_token(tier) for tier in Tier]
    for tier in Tier:
        assert resource(tier)["isComponent"] is True
        assert resource(tier)["description"] == codegen.component_description(tier)
    # Every tier is built by this release: none says otherwise.
    assert not [t for t in Tier if "Not built by this release" in resource(t)["description"]]
    assert "Not built by this release yet" not in resource(Tier.STANDARD)["description"]


@pytest.mark.parametrize("tier", list(Tier))
def test_each_tier_takes_exactly_the_settings_it_uses(tier: Tier) -> None:
    """A key added to config.py without its argument (or the reverse) fails here."""
    arguments = getattr(tiers.components, f"{component_name(tier)}Args")
    expected = [spec for spec in SETTINGS if spec.key != "tier" and spec.used_in(tier)]
    assert list(arguments.__annotations__) == [FIELD_NAMES[spec.key] for spec in expected]
    assert arguments.__required_keys__ == {
        FIELD_NAMES[spec.key] for spec in expected if spec.required_in(tier)
    }
    assert [spec.key for spec in argument_settings(tier)] == [spec.key for spec in expected]


@pytest.mark.parametrize("tier", list(Tier))
def test_schema_inputs_are_the_settings_with_their_types_and_descriptions(tier: Tier) -> None:
    inputs = resource(tier)["inputProperties"]
    settings = argument_settings(tier)
    # The schema's camelCase names are the stack's keys: one spelling for YAML and stacks.
    assert list(inputs) == [spec.key for spec in settings]
    for spec in settings:
        expected = (
            {"$ref": f"#/types/{PACKAGE}:index:{codegen.object_class_name(spec)}"}
            if spec.kind == "object"
            else SETTING_TYPES[spec.kind]
        )
        assert without_descriptions(inputs[spec.key]) == expected, spec.key
        assert inputs[spec.key]["description"] == codegen.argument_description(spec, tier)
        assert spec.description in inputs[spec.key]["description"]
    required = {spec.key for spec in settings if spec.required_in(tier)}
    assert set(resource(tier)["requiredInputs"]) == required
    assert ("drRegion" in required) is TIERS[tier].needs_dr_region


@pytest.mark.parametrize("tier", list(Tier))
def test_schema_outputs_are_the_declared_outputs_with_their_types_and_descriptions(
    tier: Tier,
) -> None:
    properties = resource(tier)["properties"]
    declared = tier_outputs(tier)
    assert list(properties) == [spec.name for spec in declared]
    for spec in declared:
        assert without_descriptions(properties[spec.name]) == OUTPUT_TYPES[spec.type], spec.name
        assert properties[spec.name]["description"] == spec.description
    assert set(resource(tier)["required"]) == {s.name for s in declared if not s.optional}


@pytest.mark.parametrize("spec", [s for s in SETTINGS if s.kind == "object"], ids=lambda s: s.key)
def test_object_settings_are_nested_types_with_each_key_typed_and_described(
    spec: Setting,
) -> None:
    """`restoreTesting: {validationWindowHours: 48}` in YAML, RestoreTestingOptionsArgs in the
    generated SDKs: every key optional, typed and documented with its default."""
    nested = SCHEMA["types"][f"{PACKAGE}:index:{codegen.object_class_name(spec)}"]
    assert nested["type"] == "object"
    assert list(nested["properties"]) == [sub.key for sub in spec.fields]
    for sub in spec.fields:
        described = nested["properties"][sub.key]
        assert without_descriptions(described) == SETTING_TYPES[sub.kind], sub.key
        assert described["description"] == codegen.sub_key_description(sub)
    assert "required" not in nested


def test_recovery_objectives_are_typed_down_to_each_field() -> None:
    target = SCHEMA["types"]["formkiq-backup:index:RecoveryTarget"]
    assert {name: without_descriptions(p) for name, p in target["properties"].items()} == {
        "rpo": {"type": "string"},
        "rpoMinutes": {"type": "integer"},
        "rto": {"type": "string"},
        "rtoMinutes": {"$ref": "#/types/formkiq-backup:index:RtoRange"},
        "protectedBy": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string"},
    }
    assert all(p["description"] for p in target["properties"].values())
    assert set(SCHEMA["types"]["formkiq-backup:index:RtoRange"]["properties"]) == {"min", "max"}


def test_output_attributes_are_spelled_as_the_stack_outputs_in_the_schema() -> None:
    for spec in OUTPUTS:
        assert camel_case(spec.attribute) == spec.name


def restricted_builds() -> dict[str, frozenset[Capability]]:
    """Each distinct set of capabilities a tier has that this release can build."""
    found: dict[frozenset[Capability], str] = {}
    for tier, spec in TIERS.items():
        found.setdefault(spec.capabilities & BUILDABLE, tier.value)
    return {tier: capabilities for capabilities, tier in found.items()}


@pytest.mark.parametrize("tier", list(restricted_builds()))
def test_every_output_a_tiers_capabilities_contribute_is_declared_by_its_component(
    tier: str,
) -> None:
    """Tiers whose capabilities are only partly built yet are built with what exists, so an
    output a new capability contributes fails here as soon as its builder is registered."""
    settings = parse_settings(
        {"tier": tier, "appEnvironment": "prod", "drRegion": "us-west-2"}, "us-east-1"
    )
    spec = replace(TIERS[settings.tier], capabilities=restricted_builds()[tier])
    contributed: list[str] = []

    def program() -> None:
        environment = discover(PulumiInvokeReader(), "prod")
        contributed.extend(build_tier(spec, settings, environment).outputs())

    run_offline(program, sample=sample_formkiq())
    for later in [t for t in Tier if TIERS[t].capabilities >= TIERS[settings.tier].capabilities]:
        declared = {output.name for output in tier_outputs(later)}
        assert set(contributed) <= declared, (later, set(contributed) - declared)


class _GuardWithAnExtraOutput:
    """The posture guard's builder, contributing one stack output nobody declared."""

    wrapped: ClassVar[CapabilityBuilder] = REGISTRY[Capability.POSTURE_GUARD]
    capability: ClassVar[Capability] = wrapped.capability
    scopes: ClassVar[frozenset[ScopeRole]] = wrapped.scopes
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = wrapped.publishers
    needs: ClassVar[frozenset[Product]] = wrapped.needs
    makes: ClassVar[frozenset[Product]] = wrapped.makes

    def build(self, context: BuildContext) -> Contribution:
        made = self.wrapped.build(context)
        return replace(made, outputs={**made.outputs, "guardSchedule": "rate(15 minutes)"})


def test_an_output_a_capability_adds_without_declaring_it_stops_the_component(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry: dict[Capability, CapabilityBuilder] = {
        **REGISTRY,
        Capability.POSTURE_GUARD: _GuardWithAnExtraOutput(),
    }
    monkeypatch.setattr(tiers.component_base, "build_tier", partial(build_tier, registry=registry))

    def program() -> None:
        BasicBackup("prod", {"app_environment": "prod"})

    run = run_offline(program, sample=sample_formkiq(), raise_errors=False)

    assert isinstance(run.error, UndeclaredOutputError)
    assert "guardSchedule is contributed but not declared" in str(run.error)
    assert "tiers/outputs.py" in str(run.error)
    assert "make schema" in str(run.error)


# --- through the provider host, as other languages reach the components ---------------------


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return ComponentProvider(list(COMPONENTS), PACKAGE, version=VERSION)


def test_the_provider_host_hands_camel_case_inputs_over_under_python_names(
    provider: ComponentProvider,
) -> None:
    definition = provider._component_defs["StandardBackup"]
    inputs = wire(
        {
            "appEnvironment": "prod",
            "dailyRetentionDays": 35,
            "notificationEmails": ["oncall@example.com"],
            "protectBackups": False,
        }
    )

    mapped = provider.map_inputs(inputs, definition)

    assert mapped == {
        "app_environment": "prod",
        "daily_retention_days": 35.0,
        "notification_emails": ["oncall@example.com"],
        "protect_backups": False,
    }
    # The host does not turn the double back into an integer: the component accepts 35.0.
    assert isinstance(mapped["daily_retention_days"], float)
    with pytest.raises(InputPropertyError) as missing:
        provider.map_inputs(wire({"dailyRetentionDays": 35}), definition)
    assert missing.value.reason == "Missing required input 'appEnvironment' on 'StandardBackup'"


def test_the_provider_host_hands_an_objects_keys_over_under_python_names(
    provider: ComponentProvider,
) -> None:
    """YAML writes `restoreTesting: {validationWindowHours: 48}`; the component receives
    restore_testing={validation_window_hours: 48.0} and checks it by the stack key's rules."""
    definition = provider._component_defs["EnhancedBackup"]
    inputs = wire(
        {
            "appEnvironment": "prod",
            "drRegion": "us-west-2",
            "restoreTesting": {"validationWindowHours": 48, "enabled": True},
        }
    )

    mapped = provider.map_inputs(inputs, definition)
    settings = parse_arguments(Tier.ENHANCED, mapped, "us-east-1", Spelling("EnhancedBackup"))

    assert mapped["restore_testing"] == {"validation_window_hours": 48.0, "enabled": True}
    assert settings.restore_testing.validation_window_hours == 48


def test_errors_through_the_provider_name_the_inputs_as_the_program_wrote_them(
    provider: ComponentProvider,
) -> None:
    def program() -> None:
        with naming_arguments(ArgumentNaming.SCHEMA):
            provider.construct(
                "prod",
                type_token(Tier.STANDARD),
                wire(
                    {
                        "appEnvironment": "prod",
                        "dailyRetentionDays": 35.5,
                        "coldStorageAfterDays": 300,
                    }
                ),
                pulumi.ResourceOptions(),
            )

    run = run_offline(program, sample=sample_formkiq(), raise_errors=False)

    assert isinstance(run.error, ComponentInitError)
    assert str(run.error) == (
        "StandardBackup 'prod' has 2 problems:\n"
        "  - dailyRetentionDays=35.5: must be a whole number\n"
        "  - coldStorageAfterDays=300 and monthlyRetentionDays=365: AWS Backup keeps cold "
        "recovery points at least 90 days, so retention must be >= 390"
    )
    assert run.resources == []


def test_serving_hosts_the_four_components_and_names_arguments_as_the_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosted: list[tuple[list[type[TierComponent]], str, str | None]] = []

    def host(components: list[type[TierComponent]], name: str, version: str | None = None) -> None:
        hosted.append((components, name, version))

    monkeypatch.setattr("tiers.provider.component_provider_host", host)
    from tiers.provider import serve

    served = copy_context()
    served.run(serve)

    assert hosted == [(list(COMPONENTS), PACKAGE, VERSION)]
    assert served.run(argument_naming) is ArgumentNaming.SCHEMA
    assert argument_naming() is ArgumentNaming.PYTHON  # a Python program's default


class _Plugin:
    """provider/__main__.py started as Pulumi starts a plugin: the engine's address as its
    argument, then it prints the port its gRPC server listens on (127.0.0.1)."""

    TIMEOUT: ClassVar[float] = 60.0

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "provider" / "__main__.py"), "127.0.0.1:1"],
            cwd=PROJECT_DIR / "examples",  # not the root: the entry point must set its path
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(self.TIMEOUT, self.process.kill)
        watchdog.start()
        try:
            assert self.process.stdout is not None
            port = self.process.stdout.readline().strip()
        finally:
            watchdog.cancel()
        if not port.isdigit():
            self.process.kill()
            _, errors = self.process.communicate(timeout=10)
            raise AssertionError(f"the plugin printed no port: {errors[-3000:]}")
        return f"127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


def test_the_plugin_pulumi_runs_serves_the_committed_schema() -> None:
    with _Plugin() as address, grpc.insecure_channel(address) as channel:
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        response = stub.GetSchema(provider_pb2.GetSchemaRequest(), timeout=30)
    assert json.loads(response.schema) == SCHEMA
