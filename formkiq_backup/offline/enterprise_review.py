"""What `make preview` says of the Enterprise tier's resources: table replicas, vault locks, the
logically air-gapped vault, and what each of them changes or keeps when the stack changes.

Kept apart from the rest of the render (formkiq_backup/offline/preview.py, which uses these),
so each risky resource's review text sits in one place, next to the facts it states.
"""

from collections.abc import Callable
from typing import Any

from formkiq_backup.offline.program import ProgramRun

Names = Callable[[object], str]

TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
AIR_GAPPED_VAULT = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"


def _table_replica(inputs: dict[str, Any], _: Names) -> str:
    table = str(inputs.get("globalTableArn", "")).rsplit("/", 1)[-1]
    pitr = "PITR on" if inputs.get("pointInTimeRecovery") else "PITR OFF"
    protection = (
        "deletion protection on" if inputs.get("deletionProtectionEnabled") else "DELETABLE"
    )
    key = (
        f"key {inputs['kmsKeyArn']} (a change REPLACES the replica, deleting its items)"
        if inputs.get("kmsKeyArn")
        else "the table's own key (AWS-owned)"
    )
    return f"replica of {table}; {pitr}; {protection}; {key}; never deleted by this stack"


def _whole(value: object) -> int:
    """A number as the mocks hand it back (35.0): a whole number of days."""
    return int(float(str(value)))


def _vault_lock(inputs: dict[str, Any], names: Names) -> str:
    days = f"{_whole(inputs['minRetentionDays'])}..{_whole(inputs['maxRetentionDays'])} days"
    vault = names(inputs.get("backupVaultName"))
    changeable = inputs.get("changeableForDays")
    if changeable:
        return (
            f"COMPLIANCE lock on {vault}, retention {days}: changeable for {_whole(changeable)} "
            "days "
            "after the first `pulumi up`, then IMMUTABLE (no one can change or remove it; the "
            "vault cannot be deleted while it holds recovery points); any change to it "
            "replaces it, which AWS refuses after that date"
        )
    return (
        f"governance lock on {vault}, retention {days}; any change replaces it (a new lock put "
        "over the old one, which is retained, not deleted): with protectBackups the update "
        "stops first"
    )


def _air_gapped_vault(inputs: dict[str, Any], _: Names) -> str:
    return (
        f"{inputs.get('name')}: compliance-locked by AWS, retention "
        f"{_whole(inputs['minRetentionDays'])}..{_whole(inputs['maxRetentionDays'])} days; copies "
        "stored in an AWS Backup account, AWS-owned key"
    )


SUMMARIES: dict[str, Callable[[dict[str, Any], Names], str]] = {
    TABLE_REPLICA: _table_replica,
    VAULT_LOCK: _vault_lock,
    AIR_GAPPED_VAULT: _air_gapped_vault,
    "aws:ram/resourceShare:ResourceShare": lambda i, _: (
        f"AWS RAM share {i.get('name')}; external principals "
        f"{'allowed' if i.get('allowExternalPrincipals') else 'not allowed'}"
    ),
    "aws:ram/principalAssociation:PrincipalAssociation": lambda i, _: (
        f"shared with account {i.get('principal')}: accept the invitation there within 12 hours"
    ),
    "aws:ram/resourceAssociation:ResourceAssociation": lambda i, n: (
        f"shares {n(i.get('resourceArn'))}"
    ),
}

# Component types the tree lists after the Enhanced ones, in build order.
COMPONENT_ORDER = ("TableReplicas", "AirGappedVault", "VaultLock")


def outside_changes(run: ProgramRun) -> list[str]:
    """What the Enterprise resources change on FormKiQ's side, and what a change keeps."""
    lines: list[str] = []
    replicas = run.of_type(TABLE_REPLICA)
    if replicas:
        lines += _replica_lines(replicas)
    locks = run.of_type(VAULT_LOCK)
    if any(lock.inputs.get("changeableForDays") for lock in locks):
        lines.append(
            "- COMPLIANCE vault locks: after changeableForDays they can never be changed or "
            "removed, by anyone, and their vaults cannot be deleted while they hold recovery "
            "points. Every lock argument forces a new lock, which AWS refuses after that date: "
            "review minRetentionDays and maxRetentionDays (and the retentions they admit) "
            "before the grace period ends."
        )
    elif locks:
        lines.append(
            "- Governance vault locks: a change of vaultLock (or a longer yearly rule, which "
            "raises the default maximum) replaces each lock: the new one is put over the old, "
            "which is retained, never deleted (Pulumi stops while protectBackups is true: set it "
            "false for that one update). Recovery points already in a vault keep their lifecycle."
        )
    if run.of_type(AIR_GAPPED_VAULT):
        lines.append(
            "- The logically air-gapped vault is compliance-locked by AWS from its creation, "
            "with the bounds it is created with, and cannot be deleted while it holds copies: "
            "removing it from the stack leaves it (retained), its copies expiring by their "
            "lifecycle."
        )
    return lines


def _replica_lines(replicas: list[Any]) -> list[str]:
    tables = sorted({str(r.inputs.get("globalTableArn", "")).rsplit("/", 1)[-1] for r in replicas})
    regions = sorted({str(r.inputs.get("region")) for r in replicas})
    return [
        f"- FormKiQ's tables {', '.join(tables)} become DynamoDB GLOBAL TABLES with replicas in "
        f"{', '.join(regions)}. Their streams can no longer be disabled (a FormKiQ update that "
        "changes them fails); every write and delete replicates, TTL deletes and mistakes "
        "included (a replica is not a backup); writes made in a replica's region flow back "
        "through the primary table's stream to FormKiQ's stream consumers; for 24 hours after a "
        "replica is added the table cannot be deleted (a FormKiQ stack deletion fails); if "
        "CloudFormation replaces or deletes a table, its replicas are orphaned.",
        "- Replicas are NEVER deleted by this stack: moving below enterprise, removing a "
        "region from replicaRegions or changing drRegion leaves each replica and its items in "
        "place, still replicating (retained; with protectBackups the update stops first). "
        "Deleting a replica deletes its items: to retire one and keep its data, disassociate "
        "it once it has left the stack (README, 'Retiring a table replica').",
    ]
