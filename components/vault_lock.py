"""VaultLock: AWS Backup Vault Lock on one vault, in governance or compliance mode.

Modes (AWS Backup developer guide, "AWS Backup Vault Lock"; PutBackupVaultLockConfiguration):
- governance: no ChangeableForDays; principals allowed PutBackupVaultLockConfiguration or
  DeleteBackupVaultLockConfiguration may change or remove the lock at any time;
- compliance: ChangeableForDays (at least 3); "On and after the lock date, the Vault Lock becomes
  immutable and cannot be changed or deleted", and a vault "can be deleted only if it is empty"
  (DeleteBackupVault), which a compliance lock keeps it from being until its last recovery
  point expires.

A backup or copy job whose retention is outside MinRetentionDays..MaxRetentionDays fails at run
time; recovery points already in the vault are not touched. The bounds are checked against
every rule and copy before anything is registered (formkiq_backup/config.py).

Every argument of the resource forces a replacement (pulumi-aws VaultLockConfiguration). A
vault has one lock: the replacement's put overwrites it, and deleting the old resource
afterwards would remove the vault's only lock. So the resource is retained on delete (the
access policy denies DeleteBackupVaultLockConfiguration to all but break-glass roles anyway),
and protected with `protect`, so a lock change is a deliberate update.
"""

from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_aws as aws

from formkiq_backup import aws_rules


class LockMode(StrEnum):
    GOVERNANCE = "governance"
    COMPLIANCE = "compliance"


@dataclass(frozen=True)
class VaultLockArgs:
    """The vault, its retention bounds and its mode."""

    vault_name: pulumi.Input[str]
    min_retention_days: int
    max_retention_days: int
    mode: LockMode = LockMode.GOVERNANCE
    changeable_for_days: int | None = None
    """Compliance mode only: the grace period before the lock becomes immutable."""
    protect: bool = True
    region: str | None = None
    """Region of the lock: the vault's (None: the provider's). A plain string."""

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = []
        for label, days in (
            ("minimum", self.min_retention_days),
            ("maximum", self.max_retention_days),
        ):
            if not 1 <= days <= aws_rules.MAX_LIFECYCLE_DAYS:
                found.append(f"{label} retention must be 1..{aws_rules.MAX_LIFECYCLE_DAYS} days")
        if self.min_retention_days > self.max_retention_days:
            found.append("the minimum retention is more than the maximum")
        if self.mode is LockMode.COMPLIANCE:
            low, high = aws_rules.MIN_CHANGEABLE_FOR_DAYS, aws_rules.MAX_CHANGEABLE_FOR_DAYS
            if self.changeable_for_days is None or not low <= self.changeable_for_days <= high:
                found.append(f"compliance mode needs changeable_for_days {low}..{high}")
        elif self.changeable_for_days is not None:
            found.append("changeable_for_days makes a compliance lock: give mode compliance")
        return found


class VaultLock(pulumi.ComponentResource):
    """The lock of one vault; what it means for the vault is in the module docstring."""

    def __init__(
        self, name: str, args: VaultLockArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"VaultLock {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:VaultLock", name, None, opts)
        aws.backup.VaultLockConfiguration(
            f"{name}-lock",
            backup_vault_name=args.vault_name,
            min_retention_days=args.min_retention_days,
            max_retention_days=args.max_retention_days,
            # Omitted, the lock is in governance mode (pulumi-aws VaultLockConfiguration).
            changeable_for_days=args.changeable_for_days
            if args.mode is LockMode.COMPLIANCE
            else None,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True),
        )
        self.register_outputs({})
