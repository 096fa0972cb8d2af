"""Enterprise's vault lock: the primary and DR vaults locked to the stack's retention bounds.

The bounds admit every rule and every copy (checked before anything is registered,
formkiq_backup/config.py): AWS fails any backup or copy job outside them, at run time. The
logically air-gapped vault, locked by AWS itself, is reported beside them (`vaultLocks`).
"""

from collections.abc import Mapping
from typing import ClassVar

from components import BackupVault
from components import audit_controls as controls
from components.vault_lock import LockMode, VaultLock, VaultLockArgs
from tiers.capabilities.aws_backup import backed_up_types
from tiers.capabilities.base import BuildContext, Contribution, Product
from tiers.definitions import Capability
from tiers.scope import ScopeRole


class VaultLockBuilder:
    """A lock on each vault the stack fills: the primary one, and the DR one."""

    capability: ClassVar[Capability] = Capability.VAULT_LOCK
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY, ScopeRole.DR})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {}
    needs: ClassVar[frozenset[Product]] = frozenset({Product.PRIMARY_VAULT, Product.DR_VAULT})
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        settings = context.settings
        wanted = settings.vault_lock
        retentions = settings.retentions(context.spec.backup_rules)
        mode = LockMode(wanted.mode)
        maximum = wanted.max_for(retentions)
        changeable = wanted.changeable_for_days if mode is LockMode.COMPLIANCE else None
        locks: dict[str, object] = {}
        entries: list[dict[str, object]] = []
        for scope, product in (
            (context.primary, Product.PRIMARY_VAULT),
            (context.dr, Product.DR_VAULT),
        ):
            vault = context.product(product, BackupVault)
            VaultLock(
                scope.naming.resource("vault-lock"),
                VaultLockArgs(
                    vault_name=vault.vault_name,
                    min_retention_days=wanted.min_retention_days,
                    max_retention_days=maximum,
                    mode=mode,
                    changeable_for_days=changeable,
                    protect=settings.protect_backups,
                    region=scope.region,
                ),
                context.child_opts(depends_on=[vault]),
            )
            entry = _lock_entry(
                scope.naming.backup_vault(),
                scope.where.region_name,
                mode.value,
                wanted.min_retention_days,
                maximum,
                changeable,
            )
            entries.append(entry)
        gapped = context.products.get(Product.AIR_GAPPED_VAULT)
        if gapped is not None:
            # Locked by AWS in compliance mode, with the bounds it was created with.
            air = settings.air_gapped_vault
            entries.append(
                _lock_entry(
                    context.dr.naming.air_gapped_vault(),
                    context.dr.where.region_name,
                    LockMode.COMPLIANCE.value,
                    air.min_retention_days,
                    air.max_days,
                    None,
                )
            )
        for entry in entries:
            locks[str(entry["name"])] = {k: v for k, v in entry.items() if k != "name"}
        return Contribution(
            outputs={"vaultLocks": locks},
            audit_controls=[
                controls.protected_by_vault_lock(
                    wanted.min_retention_days, maximum, backed_up_types(context.environment)
                )
            ],
            verify={"vaultLocks": entries},
        )


def _lock_entry(  # noqa: PLR0917  # one field each, as the output spells them
    name: str,
    region: str,
    mode: str,
    min_days: int,
    max_days: int,
    changeable_for_days: int | None,
) -> dict[str, object]:
    return {
        "name": name,
        "region": region,
        "mode": mode,
        "minRetentionDays": min_days,
        "maxRetentionDays": max_days,
        "changeableForDays": changeable_for_days,
    }
