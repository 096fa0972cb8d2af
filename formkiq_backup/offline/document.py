"""`make preview FORMAT=json`: one offline render as a stable, documented JSON document.

The same render the text preview prints, as data: every resource (its engine URN, type, name,
region, inputs, protect and retain), the stack outputs, the recovery objectives by data class
and by incident, the effective settings with the keys the tier ignores marked, and the monthly
cost drivers. `make review` compares two of these. Its shape is `docs/preview.schema.json`
(JSON Schema), and `FORMAT_VERSION` changes whenever a field changes meaning or goes away.

Stable for diffing: keys sorted, resources sorted by URN, numbers the engine sends as floats
written as integers where they are whole, JSON documents sent as strings (policies, event
patterns) parsed, Lambda code archives and the dashboard body replaced by a digest.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pulumi

from formkiq_backup.config import SETTINGS, Setting, parse_settings
from formkiq_backup.offline.costs import cost_drivers
from formkiq_backup.offline.mocks import AliasSpec, RegisteredResource
from formkiq_backup.offline.program import ProgramRun
from formkiq_backup.offline.urns import engine_urns
from tiers.definitions import (
    BACKUP_SCHEDULE,
    EXPORT_SCHEDULE,
    SWITCHABLE_OFF,
    TIERS,
    Capability,
    Tier,
    incident_objectives,
)

FORMAT = "formkiq-backup-preview"
FORMAT_VERSION = 1
# IAM is global: its resources take no region (pulumi-aws enhanced region support).
GLOBAL = "global"
_GLOBAL_MODULES = ("aws:iam/",)
# Inputs holding a JSON document as a string: shown parsed, so a change shows as the statement
# or key that changed.
_JSON_INPUTS = frozenset({"policy", "assumeRolePolicy", "eventPattern", "input", "dashboardBody"})


def preview_document(run: ProgramRun) -> dict[str, Any]:
    """The whole render of one accepted run as a JSON-ready dict (see docs/preview.schema.json)."""
    tier = Tier(str(run.outputs.get("tier")))
    primary = str(run.outputs.get("primaryRegion") or run.sample.region)
    dr_region = run.outputs.get("drRegion")
    settings = _settings(run, tier)
    resources = resource_entries(run.resources, primary)
    outputs = {key: value for key, value in run.outputs.items() if key != "recoveryObjectives"}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "project": run.project,
        "stack": run.stack,
        "tier": tier.value,
        "regions": {"primary": primary, "dr": dr_region},
        "formkiq": {
            "version": run.sample.version,
            "appEnvironment": run.sample.app_environment,
            "account": run.sample.account_id,
            "sample": True,
        },
        "settings": settings,
        "warnings": sorted(
            message for severity, message in run.diagnostics if severity == "warning"
        ),
        "resources": resources,
        "counts": resource_counts(resources),
        "outputs": normalized(outputs),
        "objectives": {
            "byDataClass": normalized(run.outputs.get("recoveryObjectives", {})),
            "byIncident": _incidents(run, tier),
        },
        "costs": cost_drivers(resources, _setting_values(settings)),
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The document as `make preview FORMAT=json` prints it: sorted keys, two-space indent."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- resources ------------------------------------------------------------------------------


def resource_entries(
    resources: Sequence[RegisteredResource], primary_region: str
) -> list[dict[str, Any]]:
    """Each registration as the document lists it, sorted by engine URN."""
    urns = engine_urns(resources)
    entries = []
    for resource in resources:
        region: str | None = None
        if resource.custom:
            region = (
                GLOBAL
                if resource.type.startswith(_GLOBAL_MODULES)
                else str(resource.inputs.get("region") or primary_region)
            )
        arn = resource.state.get("arn")
        entries.append(
            {
                "urn": urns[resource.urn],
                "type": resource.type,
                "name": resource.name,
                "custom": resource.custom,
                "parent": urns.get(resource.parent_urn),
                "region": region,
                "protect": resource.protect,
                "retainOnDelete": resource.retain_on_delete,
                "arn": arn if isinstance(arn, str) else None,
                "inputs": normalized(resource.inputs, json_inputs=True) if resource.custom else {},
                "aliases": sorted(
                    (_alias(alias, urns) for alias in resource.aliases),
                    key=lambda alias: json.dumps(alias, sort_keys=True),
                ),
            }
        )
    return sorted(entries, key=lambda entry: entry["urn"])


def _alias(alias: AliasSpec, urns: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": alias.name,
        "type": alias.type,
        "parentUrn": urns.get(alias.parent_urn, alias.parent_urn),
        "noParent": alias.no_parent,
        "urn": alias.urn,
    }


def registered_resources(entries: Sequence[Mapping[str, Any]]) -> list[RegisteredResource]:
    """A document's resources as registrations again (engine URNs as their URNs), parents
    first, so formkiq_backup.offline.urns can match them as the engine would."""
    found = [
        RegisteredResource(
            urn=entry["urn"],
            type=entry["type"],
            name=entry["name"],
            inputs=dict(entry["inputs"]),
            state={"arn": entry["arn"]} if entry.get("arn") else {},
            custom=entry["custom"],
            parent_urn=entry["parent"] or "",
            protect=entry["protect"],
            retain_on_delete=entry["retainOnDelete"],
            aliases=tuple(
                AliasSpec(
                    name=alias["name"],
                    type=alias["type"],
                    parent_urn=alias["parentUrn"],
                    no_parent=alias["noParent"],
                    urn=alias["urn"],
                )
                for alias in entry["aliases"]
            ),
        )
        for entry in entries
    ]
    # A URN holds its ancestors' types joined by `$`: fewer means closer to the root.
    return sorted(found, key=lambda resource: resource.urn.split("::")[2].count("$"))


def resource_counts(resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """AWS resources per type and region, and in all."""
    by_type: dict[str, Counter[str]] = {}
    for entry in resources:
        if entry["custom"]:
            by_type.setdefault(entry["type"], Counter())[entry["region"]] += 1
    return {
        "total": sum(sum(regions.values()) for regions in by_type.values()),
        "byType": {
            resource_type: {
                "total": sum(regions.values()),
                "byRegion": dict(sorted(regions.items())),
            }
            for resource_type, regions in sorted(by_type.items())
        },
    }


def normalized(value: Any, *, json_inputs: bool = False, key: str = "") -> Any:
    """A value as the document writes it: whole floats as ints, JSON strings parsed (inputs
    only), assets and archives as a marker, mappings with string keys."""
    if value is None or isinstance(value, bool | int | float | str):
        return _scalar(value, json_inputs=json_inputs, key=key)
    if isinstance(value, Mapping):
        return {
            str(k): normalized(v, json_inputs=json_inputs, key=str(k)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [normalized(item, json_inputs=json_inputs, key=key) for item in value]
    if isinstance(value, pulumi.Archive | pulumi.Asset):
        return {"asset": type(value).__name__}
    return str(value)


def _scalar(value: Any, *, json_inputs: bool, key: str) -> Any:
    if isinstance(value, float) and not isinstance(value, bool):
        return int(value) if value.is_integer() else value
    if isinstance(value, str) and json_inputs and key in _JSON_INPUTS and value[:1] in "{[":
        return _parsed(value, key)
    return value


def _parsed(text: str, key: str) -> Any:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text
    if key == "dashboardBody":
        # Built from every capability's widgets: its size says nothing a reviewer checks; its
        # digest says whether it changed.
        return {
            "widgets": len(document.get("widgets", [])),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
    return normalized(document)


# --- settings -------------------------------------------------------------------------------


def _settings(run: ProgramRun, tier: Tier) -> list[dict[str, Any]]:
    """Every key with the value the program used (defaults merged in), where it came from, and
    why the tier ignores it (null when used). A run of a program body rather than a stack file
    (tests building a tier from its parts) has no stack settings to show."""
    if run.config is None:
        return []
    config = run.config
    given = config.project_values()
    entries: list[dict[str, Any]] = []
    for spec in SETTINGS:
        full_key = f"{config.project}:{spec.key}"
        source = "stack" if full_key in config.stack_keys else "default"
        value = _typed(spec, given.get(spec.key))
        ignored = _ignored(spec, tier)
        if spec.kind != "object":
            entries.append(_entry(spec.key, value, source, ignored))
            continue
        stated = json.loads(given[spec.key]) if source == "stack" else {}
        merged = {sub.key: stated.get(sub.key, sub.default) for sub in spec.fields}
        for sub in spec.fields:
            entries.append(
                _entry(
                    f"{spec.key}.{sub.key}",
                    merged[sub.key],
                    "stack" if sub.key in stated else "default",
                    ignored or _ignored_sub_key(spec, sub.key, merged, tier),
                )
            )
    return entries


def _entry(key: str, value: Any, source: str, ignored: str | None) -> dict[str, Any]:
    return {"key": key, "value": value, "source": source, "ignored": ignored}


def _typed(spec: Setting, text: str | None) -> Any:
    """A value as the stack spells it (Pulumi hands the program strings)."""
    if text is None:
        return spec.default
    if spec.kind == "integer":
        return int(text)
    if spec.kind == "boolean":
        return text == "true"
    if spec.kind in ("array", "object"):
        return json.loads(text)
    return text


def _ignored(spec: Setting, tier: Tier) -> str | None:
    if spec.used_in(tier):
        return None
    return f"tier {tier.value} does not use it (tiers {spec.tiers} do)"


def _ignored_sub_key(
    spec: Setting, sub_key: str, merged: Mapping[str, Any], tier: Tier
) -> str | None:
    """An object's keys the tier ignores: `enabled` where the tier always builds the
    capability; every other key where the object's capability is not built."""
    capability = spec.switches
    if capability is None:
        return None
    tier_spec = TIERS[tier]
    always = capability in tier_spec.capabilities - SWITCHABLE_OFF
    if sub_key == "enabled":
        return f"tier {tier.value} always builds {_short(capability)}" if always else None
    built = always or (
        capability in tier_spec.possible_capabilities and merged.get("enabled") is True
    )
    return None if built else f"{spec.key}.enabled is false"


def _short(capability: Capability) -> str:
    return capability.value.split(":")[0].split(",")[0]


def _setting_values(settings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {entry["key"]: entry["value"] for entry in settings}


# --- objectives -----------------------------------------------------------------------------


def _incidents(run: ProgramRun, tier: Tier) -> dict[str, Any]:
    """The tier's objectives by incident, for this stack's schedules and switches (none for a
    run of a program body, which has no stack file to take them from)."""
    if run.config is None:
        return {}
    spec = TIERS[tier]
    settings = parse_settings(run.config.project_values(), run.config.get("aws:region"))
    capabilities = spec.switched(settings.switched_on, settings.switched_off).capabilities
    gaps: dict[str, timedelta] = {
        BACKUP_SCHEDULE: settings.backup_schedule.longest_gap,
        EXPORT_SCHEDULE: settings.export_schedule.longest_gap,
    }
    return {
        incident.value: {"incident": incident.heading, **normalized(objective.as_output())}
        for incident, objective in incident_objectives(capabilities, gaps).items()
    }
