"""What several tests of the tier components share: the wire, and a run's fingerprint."""

import json
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc

from formkiq_backup.offline.mocks import RegisteredResource
from formkiq_backup.offline.program import ProgramRun


def wire(properties: Mapping[str, object]) -> dict[str, Any]:
    """Properties as the provider host receives them from another language: through a protobuf
    Struct (so every number is a double), deserialized as its Construct does."""
    struct = struct_pb2.Struct()
    struct.update(dict(properties))
    received: dict[str, Any] = rpc.deserialize_properties(struct, keep_unknowns=True)
    return received


def fingerprint(run: ProgramRun) -> list[tuple[str, ...]]:
    """Every resource as the engine would receive it: type, name, parent, options, inputs."""
    by_urn = {resource.urn: resource for resource in run.resources}

    def parent(resource: RegisteredResource) -> str:
        found = by_urn.get(resource.parent_urn)
        return f"{found.type}::{found.name}" if found else "(stack)"

    return sorted(
        (
            resource.type,
            resource.name,
            parent(resource),
            f"protect={resource.protect} retain={resource.retain_on_delete}",
            json.dumps(resource.inputs, sort_keys=True, default=_asset),
        )
        for resource in run.resources
    )


def _asset(value: object) -> object:
    """Lambda code (archives of files) by what it holds."""
    if hasattr(value, "assets"):
        return {name: _asset(asset) for name, asset in value.assets.items()}
    return f"file {getattr(value, 'path', value)}"
