"""Enhanced's cross-region copies: a DR vault with its own key in drRegion, and its alerts.

The primary plan's rules copy every recovery point here (their copy actions, with a lifecycle
equal to the rule's, are set where the plan is built: aws_backup.CopyDestination). AWS Backup
re-encrypts each copy with this vault's key ("AWS Backup will re-encrypt your copy using the
customer managed key of your destination vault": developer guide, cross-region-backup.html).
"""

from collections.abc import Mapping
from typing import ClassVar

from components import BackupJobAlerts, BackupJobAlertsArgs, BackupVault, BackupVaultArgs
from components import audit_controls as controls
from components.backup_alerts import copy_jobs_widgets
from tiers.capabilities.aws_backup import (
    DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS,
    CopyDestination,
    backed_up_types,
)
from tiers.capabilities.base import Alarm, BuildContext, Contribution, Product
from tiers.definitions import Capability
from tiers.scope import ScopeRole


class CrossRegionCopiesBuilder:
    """The DR vault the primary plan copies into; job failures alarmed in the DR region too."""

    capability: ClassVar[Capability] = Capability.CROSS_REGION_COPIES
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.DR})
    # Vault notifications (AWS Backup), job failure rules (EventBridge) and the alarms on their
    # delivery (CloudWatch), all in the DR region.
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {
        ScopeRole.DR: frozenset(
            {"backup.amazonaws.com", "events.amazonaws.com", "cloudwatch.amazonaws.com"}
        )
    }
    needs: ClassVar[frozenset[Product]] = frozenset({Product.COPY_DESTINATION})
    makes: ClassVar[frozenset[Product]] = frozenset({Product.DR_VAULT})

    def build(self, context: BuildContext) -> Contribution:
        destination = context.product(Product.COPY_DESTINATION, CopyDestination)
        vault = self._vault(context, destination)
        destination.resolve(vault.vault_arn)
        alerts = self._alerts(context, vault)
        dr = context.dr
        copied_types = backed_up_types(context.environment)
        return Contribution(
            outputs={"drBackupVaultArn": vault.vault_arn},
            alarms=[Alarm(ScopeRole.DR, name) for name in alerts.alarm_names],
            widgets=copy_jobs_widgets(
                vault.vault_name,
                copied_types,
                {
                    context.primary.region: context.primary.where.region_name,
                    dr.region: dr.where.region_name,
                },
            ),
            # "Cross-Region backup copy is scheduled" for every type the plan copies, to this
            # region: the evidence that each rule's copy action is in place.
            audit_controls=[controls.protected_cross_region([dr.where.region_name], copied_types)],
            verify={"vaults": [self._expected_vault(context, vault)]},
            products={Product.DR_VAULT: vault},
        )

    @staticmethod
    def _vault(context: BuildContext, destination: CopyDestination) -> BackupVault:
        """The DR vault, its own key, policy and notifications, in drRegion."""
        dr, settings, environment = context.dr, context.settings, context.environment
        return BackupVault(
            dr.naming.resource("backup-vault"),
            BackupVaultArgs(
                vault_name=dr.naming.backup_vault(),
                key_alias=dr.naming.key_alias("vault"),
                account_id=environment.account_id,
                partition=environment.partition,
                break_glass_role_arns=settings.break_glass_role_arns,
                # The plan's backup role runs the copy jobs: without the use of this key they
                # "succeed" with nothing copied (developer guide, encryption.html).
                copy_role_arns=[destination.backup_role_arn],
                notification_topic_arn=dr.alerts.topic_arn,
                notification_dependencies=[dr.alerts.topic_policy],
                protect=settings.protect_backups,
                region=dr.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )

    @staticmethod
    def _alerts(context: BuildContext, vault: BackupVault) -> BackupJobAlerts:
        """Failed jobs seen in drRegion.

        No AWS page says which region emits a cross-region copy's "Copy Job State Change"
        events (the job runs in the source region, its recovery point lands here): the primary
        region's BackupJobAlerts catch them if the source emits them, these if the destination
        does. The DR region also sees the restores of a failover. No silence alarm: no backup
        job ever completes into a vault that only receives copies.
        """
        dr = context.dr
        return BackupJobAlerts(
            dr.naming.resource("backup-alerts"),
            BackupJobAlertsArgs(
                topic_arn=dr.alerts.topic_arn,
                vault_name=vault.vault_name,
                name_prefix=dr.naming.prefix,
                resource_types=(),
                region=dr.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )

    @staticmethod
    def _expected_vault(context: BuildContext, vault: BackupVault) -> dict[str, object]:
        """What `formkiq-dr verify --stack-outputs` expects of the DR vault."""
        return {
            "role": ScopeRole.DR.value,
            "name": vault.vault_name,
            "arn": vault.vault_arn,
            "region": context.dr.where.region_name,
            # A copy keeps its source's creation date (developer guide,
            # recov-point-create-a-copy.html): the same age limit applies.
            "maxRecoveryPointAgeHours": context.spec.recovery_point_max_age_hours
            or DEFAULT_MAX_RECOVERY_POINT_AGE_HOURS,
            "locked": Capability.VAULT_LOCK in context.spec.capabilities,
        }
