"""What Pulumi would do to resources a config change removes from the program, or replaces.

A resource of the previous run is still there when a resource of the new run has its URN, or
finds it through an alias, as the engine would (formkiq_backup.offline.urns): a tier change
moves everything under another tier component, and only the aliases keep it. The engine's
rules for a resource that is in the stack's state but no longer registered (or whose
replacement is registered): protected resources stop the update (nothing happens until someone
unprotects them), resources with retain_on_delete leave the state but stay in AWS, and
everything else is deleted.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from formkiq_backup.offline.mocks import RegisteredResource
from formkiq_backup.offline.program import ProgramRun
from formkiq_backup.offline.urns import engine_urns, matches


@dataclass(frozen=True)
class RemovalPlan:
    """The resources a change from one run to another stops registering, by fate."""

    blocked: tuple[RegisteredResource, ...]
    """Protected: `pulumi up` refuses to proceed while these would be removed."""
    retained: tuple[RegisteredResource, ...]
    """Dropped from the stack's state, left untouched in AWS."""
    deleted: tuple[RegisteredResource, ...]
    """Deleted from AWS once nothing is blocked."""


def removal_plan(before: ProgramRun, after: ProgramRun | None) -> RemovalPlan:
    """Compare two runs of the program (for example, two tiers of one stack).

    `after` None is `pulumi destroy`: every resource of `before` is removed.
    """
    previous = engine_urns(before.resources)
    after_resources = after.resources if after is not None else []
    still_there = set(matches(set(previous.values()), after_resources).values())
    removed = [
        resource
        for resource in before.resources
        if resource.custom and previous[resource.urn] not in still_there
    ]
    return RemovalPlan(
        blocked=tuple(r for r in removed if r.protect),
        # A protected resource is also retained once unprotected, if it has both options.
        retained=tuple(r for r in removed if r.retain_on_delete),
        deleted=tuple(r for r in removed if not r.retain_on_delete),
    )


# Inputs whose change replaces a resource instead of updating it: pulumi-aws 7's per-resource
# `region` ("Changing it replaces the resource": pulumi-aws enhanced region support), and the
# names S3 buckets and backup vaults are created under.
REPLACING_INPUTS = ("region", "bucket", "name")
# And, by type, the inputs the provider cannot change in place (pulumi-aws, from the Terraform
# provider's ForceNew arguments): a vault's key; a table replica's table, key and class (a
# replacement "deletes the replica and all of its items", DynamoDB global tables guide); a vault
# lock's vault and bounds; an air-gapped vault's bounds and key.
REPLACING_INPUTS_BY_TYPE: Mapping[str, tuple[str, ...]] = {
    "aws:backup/vault:Vault": ("kmsKeyArn",),
    "aws:dynamodb/tableReplica:TableReplica": ("globalTableArn", "kmsKeyArn", "tableClassOverride"),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": (
        "backupVaultName",
        "changeableForDays",
        "maxRetentionDays",
        "minRetentionDays",
    ),
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": (
        "maxRetentionDays",
        "minRetentionDays",
        "encryptionKeyArn",
    ),
}


def replacing_inputs(resource_type: str) -> tuple[str, ...]:
    """The inputs whose change replaces a resource of `resource_type`."""
    return REPLACING_INPUTS + REPLACING_INPUTS_BY_TYPE.get(resource_type, ())


def replaced_by(before: RegisteredResource, after: RegisteredResource) -> tuple[str, ...]:
    """The inputs that differ between two registrations of one resource and replace it."""
    return tuple(
        key
        for key in replacing_inputs(before.type)
        if (key in before.inputs or key in after.inputs)
        and before.inputs.get(key) != after.inputs.get(key)
    )


def replacement_plan(
    before: ProgramRun, after: ProgramRun, replacing: tuple[str, ...] | None = None
) -> RemovalPlan:
    """The resources a change from one run to another replaces, by the old one's fate
    (`replacing`: the inputs that replace a resource; default, `replacing_inputs` by type).

    A replaced resource's old self meets the rules of a removed one: protected, the update
    stops; retained, it stays in AWS ("Pulumi will not call through to the resource provider's
    Delete method when deleting or replacing the resource": Pulumi docs, retainOnDelete);
    otherwise it is deleted once its replacement exists.
    """
    kept = {(r.type, r.name): r for r in after.resources if r.custom}

    def replaces(resource: RegisteredResource, other: RegisteredResource) -> bool:
        if replacing is None:
            return bool(replaced_by(resource, other))
        return any(
            resource.inputs.get(key) != other.inputs.get(key)
            for key in replacing
            if key in resource.inputs or key in other.inputs
        )

    replaced = [
        resource
        for resource in before.resources
        if resource.custom
        and (resource.type, resource.name) in kept
        and replaces(resource, kept[(resource.type, resource.name)])
    ]
    return RemovalPlan(
        blocked=tuple(r for r in replaced if r.protect),
        retained=tuple(r for r in replaced if r.retain_on_delete),
        deleted=tuple(r for r in replaced if not r.retain_on_delete),
    )
