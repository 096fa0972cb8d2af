"""Enterprise's logically air-gapped vault: copies out of reach of this account, in drRegion.

It protects against a compromised account: its copies are stored in an account AWS Backup owns,
its compliance lock cannot be lifted by anyone, and a recovery account it is shared with (AWS
RAM) can restore from it if this one is lost (AWS Backup developer guide, "Logically air-gapped
vault"). The plans' rules copy into it (aws_backup.AirGappedDestination): the bucket's recovery
points always, the tables' only with `airGappedVault.copyTables`.

Why the tables wait for a setting: whether a logically air-gapped vault accepts DynamoDB is
given by AWS Backup's "Feature availability by resource" table, which this package has not
been able to confirm. A copy job a vault refuses fails every day (and alarms); a copy that
should have been made and was not is a silent gap. So the default copies only what is known to
work (S3), and `copyTables: true` states that the table was checked. Either answer is safe.
"""

from collections.abc import Mapping
from typing import ClassVar

from components import audit_controls as controls
from components.air_gapped_vault import AirGappedVault, AirGappedVaultArgs
from formkiq_backup import aws_rules
from tiers.capabilities.aws_backup import (
    DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS,
    AirGappedDestination,
)
from tiers.capabilities.base import BuildContext, Contribution, Product
from tiers.definitions import Capability
from tiers.scope import ScopeRole


class AirGappedVaultBuilder:
    """The vault, shared with a recovery account when one is named; resolves the copies."""

    capability: ClassVar[Capability] = Capability.AIR_GAPPED_VAULT
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.DR})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {}
    needs: ClassVar[frozenset[Product]] = frozenset({Product.AIR_GAPPED_DESTINATION})
    makes: ClassVar[frozenset[Product]] = frozenset({Product.AIR_GAPPED_VAULT})

    def build(self, context: BuildContext) -> Contribution:
        dr = context.dr
        settings = context.settings
        wanted = settings.air_gapped_vault
        destination = context.product(Product.AIR_GAPPED_DESTINATION, AirGappedDestination)
        vault = AirGappedVault(
            dr.naming.resource("air-gapped-vault"),
            AirGappedVaultArgs(
                vault_name=dr.naming.air_gapped_vault(),
                min_retention_days=wanted.min_retention_days,
                max_retention_days=wanted.max_days,
                share_with_account=wanted.share_with_account,
                protect=settings.protect_backups,
                region=dr.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        destination.resolve(vault.vault_arn)
        copied = (["DynamoDB"] if destination.copies_tables else []) + ["S3"]
        max_age = context.spec.recovery_point_max_age_hours or DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS
        # Evidence only for the bucket, and only where AWS Config runs the rule behind it:
        # s3-resources-in-logically-air-gapped-vault is "Only available in" some regions (AWS
        # Config developer guide); no such rule is documented for DynamoDB.
        evidence = (
            [controls.resources_in_air_gapped_vault(max_age, ["S3"])]
            if context.primary.where.region_name in aws_rules.S3_AIR_GAPPED_CONTROL_REGIONS
            else []
        )
        return Contribution(
            outputs={"airGappedVaultArn": vault.vault_arn},
            audit_controls=evidence,
            verify={
                "airGappedVault": {
                    "name": vault.vault_name,
                    "arn": vault.vault_arn,
                    "region": dr.where.region_name,
                    "resourceTypes": copied,
                    "sharedWith": wanted.share_with_account,
                }
            },
            products={Product.AIR_GAPPED_VAULT: vault},
        )
