"""What `verify` should find, read from the stack's own outputs (`pulumi stack output --json`).

The Pulumi program exports `verifyExpectations`: the tier, the environment, the regions, each
vault (name, ARN, region, the newest recovery point's allowed age, whether it is locked), the
protected tables and buckets and the regions of global table replicas. Verifying against that
checks what the stack actually built, not what someone typed. Enhanced stacks add each
replication (source, replica bucket and region, rule id, role) and the S3 Batch Replication role
with the bucket its reports go to. Enterprise stacks add each vault lock (`vaultLocks`: mode and
retention bounds), the logically air-gapped vault (`airGappedVault`) and, with the top-level
`recoveryObjectives`, the RPO its table replicas are held to. Outputs of older programs have
only the top-level keys (`tier`, `appEnvironment`, `primaryRegion`, `drRegion`,
`backupVaultArn`, `protectedTables`, `protectedBuckets`); they are read when the block is
absent.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from formkiq_backup.replication import Replicated, ReplicationPlan
from tiers.definitions import TIERS, Capability, Tier

EXPECTATIONS_KEY = "verifyExpectations"


class StackOutputsError(ValueError):
    """The file cannot tell verify what to expect: names the file and the key."""


@dataclass(frozen=True)
class ExpectedVault:
    """A backup vault the stack built."""

    name: str
    region: str | None
    max_recovery_point_age_hours: int | None
    locked: bool
    arn: str | None = None


class LockMode(StrEnum):
    """A vault lock's mode: governance can be changed or removed at any time; compliance becomes
    immutable on its lock date ("AWS Backup Vault Lock", AWS Backup developer guide)."""

    GOVERNANCE = "governance"
    COMPLIANCE = "compliance"


@dataclass(frozen=True)
class ExpectedLock:
    """A vault lock the stack set: its mode and retention bounds (`vaultLocks`)."""

    name: str
    region: str | None
    mode: LockMode
    min_retention_days: int
    max_retention_days: int
    changeable_for_days: int | None = None


@dataclass(frozen=True)
class ExpectedAirGappedVault:
    """The logically air-gapped vault the stack built, and what it copies there."""

    name: str
    region: str | None
    arn: str | None = None
    resource_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchReplication:
    """What S3 Batch Replication jobs run as, and where their manifests and reports go."""

    role_arn: str
    report_bucket: str
    report_prefix: str


@dataclass(frozen=True)
class StackExpectations:
    """What the stack built, as verify checks it."""

    source: Path
    tier: Tier
    app_environment: str
    primary_region: str
    dr_region: str | None
    vaults: tuple[ExpectedVault, ...] = ()
    tables: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    replica_regions: tuple[str, ...] = field(default=())
    replication: tuple[ReplicationPlan, ...] = ()
    batch_replication: BatchReplication | None = None
    vault_locks: tuple[ExpectedLock, ...] = ()
    air_gapped_vault: ExpectedAirGappedVault | None = None
    replica_rpo_minutes: int | None = None
    """The RPO of document metadata (`recoveryObjectives`): what a replica may lag behind."""

    def lock_of(self, name: str, region: str | None) -> ExpectedLock | None:
        """The lock the stack set on vault `name` in `region`, if any."""
        for lock in self.vault_locks:
            if lock.name == name and lock.region in (None, region):
                return lock
        return None


def read_stack_outputs(path: Path) -> StackExpectations:
    """Parse the JSON of `pulumi stack output --json`; every problem names the file and key."""
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise StackOutputsError(f"{path}: cannot be read ({error})") from error
    except json.JSONDecodeError as error:
        raise StackOutputsError(
            f"{path}: not JSON ({error.msg} at line {error.lineno}); give the output of "
            "`pulumi stack output --json`"
        ) from error
    if not isinstance(document, dict):
        raise StackOutputsError(f"{path}: not a JSON object of stack outputs")
    block = document.get(EXPECTATIONS_KEY)
    if block is None:
        return _from_top_level(path, document)
    if not isinstance(block, dict):
        raise StackOutputsError(f"{path}: {EXPECTATIONS_KEY} is not a JSON object")
    reader = _Reader(path, block, EXPECTATIONS_KEY)
    tier = reader.tier("tier")
    vaults = tuple(
        _vault(reader, index, vault) for index, vault in enumerate(reader.list("vaults", []))
    )
    return StackExpectations(
        source=path,
        tier=tier,
        app_environment=reader.text("appEnvironment"),
        primary_region=reader.text("primaryRegion"),
        dr_region=reader.optional_text("drRegion"),
        vaults=vaults,
        tables=reader.names("tables"),
        buckets=reader.names("buckets"),
        replica_regions=reader.names("globalTableReplicaRegions", required=False),
        replication=tuple(
            _replication(reader, index, entry)
            for index, entry in enumerate(reader.list("replication", []))
        ),
        batch_replication=_batch(reader),
        vault_locks=tuple(
            _lock(reader, index, entry) for index, entry in enumerate(reader.list("vaultLocks", []))
        ),
        air_gapped_vault=_air_gapped(reader),
        replica_rpo_minutes=_metadata_rpo(path, document),
    )


def _from_top_level(path: Path, document: Mapping[str, Any]) -> StackExpectations:
    reader = _Reader(path, document, None)
    tier = reader.tier("tier")
    spec = TIERS[tier]
    vaults: tuple[ExpectedVault, ...] = ()
    arn = reader.optional_text("backupVaultArn")
    if arn:
        # arn:<partition>:backup:<region>:<account>:backup-vault:<name>
        parts = arn.split(":")
        if len(parts) != 7 or parts[2] != "backup" or parts[5] != "backup-vault":
            raise StackOutputsError(f"{path}: backupVaultArn {arn!r} is not a backup vault ARN")
        vaults = (
            ExpectedVault(
                name=parts[6],
                region=parts[3],
                max_recovery_point_age_hours=spec.recovery_point_max_age_hours,
                locked=Capability.VAULT_LOCK in spec.capabilities,
                arn=arn,
            ),
        )
    return StackExpectations(
        source=path,
        tier=tier,
        app_environment=reader.text("appEnvironment"),
        primary_region=reader.text("primaryRegion"),
        dr_region=reader.optional_text("drRegion"),
        vaults=vaults,
        tables=reader.names("protectedTables"),
        buckets=reader.names("protectedBuckets"),
    )


def _vault(reader: "_Reader", index: int, value: Any) -> ExpectedVault:
    where = f"vaults[{index}]"
    if not isinstance(value, dict):
        raise reader.problem(where, "is not a JSON object")
    vault = _Reader(reader.path, value, f"{reader.label(where)}")
    age = value.get("maxRecoveryPointAgeHours")
    if age is not None and (not isinstance(age, int) or isinstance(age, bool) or age < 1):
        raise vault.problem("maxRecoveryPointAgeHours", f"is {age!r}, not a whole number >= 1")
    locked = value.get("locked", False)
    if not isinstance(locked, bool):
        raise vault.problem("locked", f"is {locked!r}, not true or false")
    return ExpectedVault(
        name=vault.text("name"),
        region=vault.optional_text("region"),
        max_recovery_point_age_hours=age,
        locked=locked,
        arn=vault.optional_text("arn"),
    )


def _replication(reader: "_Reader", index: int, value: Any) -> ReplicationPlan:
    where = f"replication[{index}]"
    if not isinstance(value, dict):
        raise reader.problem(where, "is not a JSON object")
    entry = _Reader(reader.path, value, reader.label(where))
    kind = entry.text("replicated")
    try:
        replicated = Replicated(kind)
    except ValueError:
        known = ", ".join(r.value for r in Replicated)
        raise entry.problem("replicated", f"is {kind!r}, not one of {known}") from None
    role_arn = entry.text("roleArn")
    return ReplicationPlan(
        replicated=replicated,
        source_bucket=entry.text("sourceBucket"),
        replica_bucket=entry.text("replicaBucket"),
        replica_region=entry.text("replicaRegion"),
        role_arn=role_arn,
        partition=role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws",
    )


def _lock(reader: "_Reader", index: int, value: Any) -> ExpectedLock:
    where = f"vaultLocks[{index}]"
    if not isinstance(value, dict):
        raise reader.problem(where, "is not a JSON object")
    entry = _Reader(reader.path, value, reader.label(where))
    mode = entry.text("mode")
    try:
        lock_mode = LockMode(mode)
    except ValueError:
        raise entry.problem("mode", f"is {mode!r}, not governance or compliance") from None
    minimum = entry.days("minRetentionDays")
    maximum = entry.days("maxRetentionDays")
    if minimum is None or maximum is None:
        raise entry.problem("minRetentionDays", "and maxRetentionDays are both needed")
    return ExpectedLock(
        name=entry.text("name"),
        region=entry.optional_text("region"),
        mode=lock_mode,
        min_retention_days=minimum,
        max_retention_days=maximum,
        changeable_for_days=entry.days("changeableForDays"),
    )


def _air_gapped(reader: "_Reader") -> ExpectedAirGappedVault | None:
    entry = reader.optional_object("airGappedVault")
    if entry is None:
        return None
    return ExpectedAirGappedVault(
        name=entry.text("name"),
        region=entry.optional_text("region"),
        arn=entry.optional_text("arn"),
        resource_types=entry.names("resourceTypes", required=False),
    )


def _metadata_rpo(path: Path, document: Mapping[str, Any]) -> int | None:
    """`recoveryObjectives.documentMetadata.rpoMinutes`, a top-level output; None without it."""
    objectives = document.get("recoveryObjectives")
    if not isinstance(objectives, dict) or not isinstance(objectives.get(_METADATA), dict):
        return None
    reader = _Reader(path, objectives[_METADATA], f"recoveryObjectives.{_METADATA}")
    return reader.days("rpoMinutes", unit="minutes")


_METADATA = "documentMetadata"


def _batch(reader: "_Reader") -> BatchReplication | None:
    entry = reader.optional_object("batchReplication")
    if entry is None:
        return None
    return BatchReplication(
        role_arn=entry.text("roleArn"),
        report_bucket=entry.text("reportBucket"),
        report_prefix=entry.text("reportPrefix"),
    )


class _Reader:
    """Typed reads of one JSON object, each problem naming the file and the key path."""

    def __init__(self, path: Path, values: Mapping[str, Any], prefix: str | None) -> None:
        self.path, self.values, self.prefix = path, values, prefix

    def label(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def problem(self, key: str, what: str) -> StackOutputsError:
        return StackOutputsError(f"{self.path}: {self.label(key)} {what}")

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if value is None:
            raise self.problem(key, "is missing: verify needs it")
        if not isinstance(value, str) or not value:
            raise self.problem(key, f"is {value!r}, not a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.problem(key, f"is {value!r}, not a string or null")
        return value

    def tier(self, key: str) -> Tier:
        value = self.text(key)
        try:
            return Tier(value)
        except ValueError:
            tiers = ", ".join(t.value for t in Tier)
            raise self.problem(key, f"is {value!r}, not one of {tiers}") from None

    def list(self, key: str, default: list[Any] | None = None) -> list[Any]:
        value = self.values.get(key, default)
        if value is None:
            raise self.problem(key, "is missing: verify needs it")
        if not isinstance(value, list):
            raise self.problem(key, f"is {value!r}, not a list")
        return value

    def optional_object(self, key: str) -> "_Reader | None":
        """The JSON object at `key`, to read in turn; None when absent or null."""
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.problem(key, "is not a JSON object")
        return _Reader(self.path, value, self.label(key))

    def days(self, key: str, *, unit: str = "days") -> int | None:
        """A whole number >= 1 of `unit`, or None when absent or null."""
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.problem(key, f"is {value!r}, not a whole number of {unit} >= 1")
        return value

    def names(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        values = self.list(key, None if required else [])
        if not all(isinstance(value, str) and value for value in values):
            raise self.problem(key, f"is {values!r}, not a list of names")
        return tuple(values)
