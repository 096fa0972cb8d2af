"""Enterprise's global table replicas: FormKiQ's Documents and DocumentSyncs in drRegion and
every region of replicaRegions, alarmed in the primary region.

Only the protected tables get replicas (FormKiQEnvironment.protected_tables): never the cache
table (no stream, TTL-only data: a replica would add a stream to a table whose template has
none) nor the websocket table. What a replica changes for FormKiQ's tables is in the README,
"What this changes outside FormKiQ", and in the preview.
"""

from collections.abc import Mapping
from typing import ClassVar

from components.table_replicas import ReplicatedTable, TableReplicas, TableReplicasArgs
from tiers.capabilities.base import Alarm, BuildContext, Contribution, Product
from tiers.definitions import Capability, DataClass
from tiers.scope import ScopeRole


def replica_regions(context: BuildContext) -> list[str]:
    """drRegion first, then replicaRegions in the order given."""
    dr_region = context.settings.dr_region
    regions = [dr_region] if dr_region else []
    return regions + [r for r in context.settings.replica_regions if r not in regions]


class GlobalTableReplicasBuilder:
    """A replica of each protected table per replica region; a latency alarm for each."""

    capability: ClassVar[Capability] = Capability.GLOBAL_TABLE_REPLICAS
    # The replicas name their regions themselves; their alarms are in the primary region,
    # where ReplicationLatency is published.
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {
        ScopeRole.PRIMARY: frozenset({"cloudwatch.amazonaws.com"})
    }
    needs: ClassVar[frozenset[Product]] = frozenset()
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        primary = context.primary
        regions = replica_regions(context)
        rpo = context.spec.recovery_objectives[DataClass.DOCUMENT_METADATA].rpo_minutes or 1
        replicas = TableReplicas(
            primary.naming.resource("table-replicas"),
            TableReplicasArgs(
                tables=[
                    ReplicatedTable(table.role.value, table.name, table.arn)
                    for table in context.environment.protected_tables
                ],
                replica_regions=regions,
                table_region=primary.where.region_name,
                topic_arn=primary.alerts.topic_arn,
                alarm_name_prefix=primary.naming.prefix,
                latency_limit_seconds=rpo * 60,
                protect=context.settings.protect_backups,
                region=primary.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        return Contribution(
            outputs={"tableReplicas": replicas.replicas},
            alarms=[Alarm(ScopeRole.PRIMARY, name) for name in replicas.alarm_names],
            widgets=replicas.widgets,
            verify={"globalTableReplicaRegions": regions},
        )
