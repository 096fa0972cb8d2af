"""Renders shared by the review and policy tests, and hand-built resources (table replicas, vault
locks, air-gapped vaults) for rules to be proven on resources no render holds as broken."""

import copy
from collections.abc import Mapping
from functools import cache
from typing import Any

from formkiq_backup.offline.document import preview_document
from formkiq_backup.offline.program import ProgramRun, run_program


@cache
def render(stack: str, tier: str | None = None, **overrides: object) -> ProgramRun:
    """One offline run per (stack, tier, overrides) in a test process."""
    values: dict[str, object] = dict(overrides)
    if tier:
        values["tier"] = tier
    return run_program(stack, overrides=values or None, raise_errors=False)


@cache
def _document(stack: str, tier: str | None, overrides: tuple[tuple[str, object], ...]) -> str:
    import json

    run = render(stack, tier, **dict(overrides))
    assert run.error is None, run.error
    return json.dumps(preview_document(run))


def document(stack: str, tier: str | None = None, **overrides: object) -> dict[str, Any]:
    """A fresh copy of the stack's preview document (tests may change it)."""
    import json

    parsed: dict[str, Any] = json.loads(_document(stack, tier, tuple(sorted(overrides.items()))))
    return parsed


def enterprise_run() -> ProgramRun:
    """The example DR stack at tier enterprise."""
    run = render("dr", "enterprise")
    assert run.error is None, run.error
    return run


def entry(
    resource_type: str,
    name: str,
    inputs: Mapping[str, Any],
    *,
    region: str = "us-west-2",
    protect: bool = True,
    retain: bool = True,
    arn: str | None = None,
    stack: str = "dr",
) -> dict[str, Any]:
    """A resource as a preview document lists it, at the root of the stack."""
    return {
        "urn": f"urn:pulumi:{stack}::formkiq-backup::{resource_type}::{name}",
        "type": resource_type,
        "name": name,
        "custom": True,
        "parent": None,
        "region": region,
        "protect": protect,
        "retainOnDelete": retain,
        "arn": arn,
        "inputs": copy.deepcopy(dict(inputs)),
        "aliases": [],
    }


TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"


def replica(
    table: str = "formkiq-core-prod-documents", region: str = "us-west-2"
) -> dict[str, Any]:
    return entry(
        TABLE_REPLICA,
        f"formkiq-prod-dr-{table}-replica",
        {
            "globalTableArn": f"arn:aws:dynamodb:us-east-1:111122223333:table/{table}",
            "pointInTimeRecovery": True,
            "deletionProtectionEnabled": True,
            "region": region,
        },
        region=region,
    )


def lock(
    vault: str, *, changeable: int | None = 3, minimum: int = 7, maximum: int = 2555
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "backupVaultName": vault,
        "minRetentionDays": minimum,
        "maxRetentionDays": maximum,
    }
    if changeable is not None:
        inputs["changeableForDays"] = changeable
    return entry(LOCK, f"{vault}-lock", inputs, region="us-east-1", protect=False, retain=False)


def air_gapped(name: str = "formkiq-prod-air-gapped", maximum: int = 2555) -> dict[str, Any]:
    return entry(
        AIR_GAPPED,
        f"{name}-vault",
        {"name": name, "minRetentionDays": 7, "maxRetentionDays": maximum, "region": "us-west-2"},
    )
