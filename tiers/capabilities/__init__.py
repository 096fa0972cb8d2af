"""The capability registry: one builder per capability a tier can have.

To add a capability: write its component(s) in `components/`, a builder module here, one line in
`REGISTRY`, and add the capability to a tier in `tiers/definitions.py` (docs/architecture.md walks
through an example). Registry order is build order: a builder comes after those it needs, and
every builder comes before AUDIT and DASHBOARD, which gather the audit controls, widgets and
alarms of those before them.
"""

from collections.abc import Mapping
from types import MappingProxyType

from tiers.capabilities.air_gapped_vault import AirGappedVaultBuilder
from tiers.capabilities.audit import AuditBuilder
from tiers.capabilities.aws_backup import AwsBackupBuilder
from tiers.capabilities.base import (
    Alarm,
    BuildContext,
    CapabilityBuilder,
    Contribution,
    Product,
    Scope,
)
from tiers.capabilities.cross_region_copies import CrossRegionCopiesBuilder
from tiers.capabilities.dashboard import DashboardBuilder
from tiers.capabilities.global_table_replicas import GlobalTableReplicasBuilder
from tiers.capabilities.posture_guard import PostureGuardBuilder
from tiers.capabilities.restore_testing import RestoreTestingBuilder
from tiers.capabilities.s3_replication import S3ReplicationBuilder
from tiers.capabilities.system_exports import SystemExportsBuilder
from tiers.capabilities.vault_lock import VaultLockBuilder
from tiers.definitions import RULE_CAPABILITIES, Capability

REGISTRY: Mapping[Capability, CapabilityBuilder] = MappingProxyType(
    {
        Capability.POSTURE_GUARD: PostureGuardBuilder(),
        Capability.AWS_BACKUP: AwsBackupBuilder(),
        Capability.SYSTEM_EXPORTS: SystemExportsBuilder(),
        Capability.CROSS_REGION_COPIES: CrossRegionCopiesBuilder(),
        Capability.S3_REPLICATION: S3ReplicationBuilder(),
        Capability.GLOBAL_TABLE_REPLICAS: GlobalTableReplicasBuilder(),
        # Before the lock, which reports the air-gapped vault's own lock beside its own.
        Capability.AIR_GAPPED_VAULT: AirGappedVaultBuilder(),
        Capability.VAULT_LOCK: VaultLockBuilder(),
        Capability.RESTORE_TESTING: RestoreTestingBuilder(),
        # Gatherers, last: the audit framework holds every control contributed before it, the
        # dashboard every widget and alarm (its own builder adds none).
        Capability.AUDIT: AuditBuilder(),
        Capability.DASHBOARD: DashboardBuilder(),
    }
)

# The builders that read what the others contributed: they must come after every other.
GATHERERS = (Capability.AUDIT, Capability.DASHBOARD)

# Capabilities that are a rule of the plan (the yearly rule): the AWS Backup builder realises
# them from the tier's `backup_rules`, so they have no builder of their own.
REALISED_BY_RULES = frozenset(RULE_CAPABILITIES.values())

# What this release can build; a tier needing more fails before anything is registered.
BUILDABLE = frozenset(REGISTRY) | REALISED_BY_RULES

__all__ = [
    "BUILDABLE",
    "GATHERERS",
    "REALISED_BY_RULES",
    "REGISTRY",
    "Alarm",
    "BuildContext",
    "CapabilityBuilder",
    "Contribution",
    "Product",
    "Scope",
]
