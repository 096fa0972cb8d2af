"""Backup vaults and their locks as `verify` and `failover-check` see them.

DescribeBackupVault answers, besides the vault's name and type (AWS Backup API reference,
DescribeBackupVault):

- `Locked`: whether Vault Lock "is currently protecting the backup vault";
- `MinRetentionDays` / `MaxRetentionDays`: the lock's bounds; a backup or copy job whose
  retention falls outside them fails (PutBackupVaultLockConfiguration);
- `LockDate`: "the date and time when AWS Backup Vault Lock configuration cannot be changed or
  deleted". Only a lock set with `ChangeableForDays` has one: that is compliance mode, changeable
  before its lock date and immutable from then on; governance mode has none and can be changed
  or removed at any time ("AWS Backup Vault Lock", AWS Backup developer guide);
- `VaultType` (BACKUP_VAULT, LOGICALLY_AIR_GAPPED_BACKUP_VAULT, ...) and `VaultState`
  (CREATING, AVAILABLE, FAILED). A logically air-gapped vault is always locked in compliance
  mode by AWS, with the bounds it was created with ("Logically air-gapped vault", AWS Backup
  developer guide); whether its answer carries a `LockDate` is not documented, so its mode is
  not judged by one.
"""

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.dr.context import DrContext
from formkiq_backup.dr.expectations import ExpectedLock, LockMode
from formkiq_backup.dr.report import Report, Status, readable_time

VAULT_SECTION = "vault"
LOCK_SECTION = "vault lock"
AIR_GAPPED_SECTION = "air-gapped vault"
AIR_GAPPED_TYPE = "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"


def describe_vault(ctx: DrContext, name: str, region: str | None) -> dict[str, Any] | None:
    """DescribeBackupVault in `region` (None: the context's); None when there is no such vault."""
    try:
        described: dict[str, Any] = ctx.client("backup", region).describe_backup_vault(
            BackupVaultName=name
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return None
    return described


def check_vault(
    ctx: DrContext,
    report: Report,
    name: str,
    region: str | None,
    *,
    lock_required: bool,
    wanted: ExpectedLock | None = None,
) -> dict[str, Any] | None:
    """The vault is there, and locked as the stack locked it. Returns its description."""
    where = f"{name} ({region or ctx.region})"
    described = describe_vault(ctx, name, None if region == ctx.region else region)
    if described is None:
        report.add(VAULT_SECTION, where, Status.FAIL, "the stack built it, but it is not there")
        return None
    report_lock(
        report, where, described, required=lock_required or wanted is not None, wanted=wanted
    )
    return described


def report_lock(
    report: Report,
    subject: str,
    described: dict[str, Any],
    *,
    required: bool,
    wanted: ExpectedLock | None = None,
    locked_by_aws: bool = False,
) -> None:
    """One `vault lock` entry: locked or not, its mode and bounds, and how they differ from
    `wanted` (each difference named)."""
    bad = Status.FAIL if required else Status.INFO
    if not described.get("Locked"):
        expected = f": the stack set a {wanted.mode.value} lock" if wanted else ""
        report.add(LOCK_SECTION, subject, bad, f"not locked{expected}")
        return
    mode = _mode(described, locked_by_aws)
    detail = (
        f"locked ({mode.value}), retention {described.get('MinRetentionDays', '-')}.."
        f"{described.get('MaxRetentionDays', '-')} days{_lock_date(described)}"
    )
    problems = lock_problems(described, wanted, mode) if wanted else []
    data: dict[str, Any] = {
        "mode": mode.value,
        "minRetentionDays": described.get("MinRetentionDays"),
        "maxRetentionDays": described.get("MaxRetentionDays"),
        "lockDate": _iso(described.get("LockDate")),
    }
    if problems:
        report.add(LOCK_SECTION, subject, bad, f"{detail}: {'; '.join(problems)}", **data)
    else:
        report.add(LOCK_SECTION, subject, Status.PASS, detail, **data)


def lock_problems(
    described: dict[str, Any], wanted: ExpectedLock, mode: LockMode | None = None
) -> list[str]:
    """How a vault's lock differs from the one the stack set, one phrase each."""
    mode = mode or _mode(described, locked_by_aws=False)
    problems = []
    if mode is not wanted.mode:
        problems.append(f"{mode.value} mode, the stack set {wanted.mode.value}")
    for field, value in (
        ("MinRetentionDays", wanted.min_retention_days),
        ("MaxRetentionDays", wanted.max_retention_days),
    ):
        if described.get(field) != value:
            problems.append(f"{field} {described.get(field, 'not set')}, the stack set {value}")
    return problems


def check_air_gapped_vault(
    ctx: DrContext,
    report: Report,
    name: str,
    region: str,
    *,
    required: bool,
    wanted: ExpectedLock | None = None,
) -> None:
    """The logically air-gapped vault: there, of that type, AVAILABLE, and locked (by AWS) with
    the bounds it was created with. Missing is WARN when the stack may have switched it off."""
    subject = f"{name} ({region})"
    described = describe_vault(ctx, name, region)
    if described is None:
        why = (
            "the stack built it, but it is not there"
            if required
            else "not found (airGappedVault.enabled may be false: --stack-outputs says)"
        )
        report.add(AIR_GAPPED_SECTION, subject, Status.FAIL if required else Status.WARN, why)
        return
    vault_type = described.get("VaultType", "not given")
    state = described.get("VaultState", "not given")
    if vault_type != AIR_GAPPED_TYPE:
        report.add(
            AIR_GAPPED_SECTION,
            subject,
            Status.FAIL,
            f"a vault of this name is a {vault_type}, not logically air-gapped: it does not "
            "keep copies out of this account's reach",
        )
        return
    count = described.get("NumberOfRecoveryPoints", "?")
    if state == "AVAILABLE":
        status, detail = Status.PASS, f"AVAILABLE, {count} recovery points"
    elif state == "CREATING":
        status, detail = Status.WARN, "CREATING: it takes copies once AVAILABLE"
    else:
        status, detail = Status.FAIL, f"VaultState {state}: copies into it fail"
    report.add(AIR_GAPPED_SECTION, subject, status, detail, vaultState=state)
    report_lock(report, subject, described, required=True, wanted=wanted, locked_by_aws=True)


def _mode(described: dict[str, Any], locked_by_aws: bool) -> LockMode:
    if locked_by_aws or described.get("LockDate"):
        return LockMode.COMPLIANCE
    return LockMode.GOVERNANCE


def _lock_date(described: dict[str, Any], now: datetime | None = None) -> str:
    lock_date = described.get("LockDate")
    if not isinstance(lock_date, datetime):
        return ""
    if lock_date > (now or datetime.now(UTC)):
        return (
            f"; changeable until {readable_time(lock_date)} (until then the lock can still be "
            "changed or removed)"
        )
    return f"; immutable since {readable_time(lock_date)}"


def _iso(moment: object) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else None
