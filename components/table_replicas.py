"""TableReplicas: DynamoDB global table replicas of existing tables, and their latency alarms.

Each replica is an `aws.dynamodb.TableReplica` of a table this program does not own (FormKiQ's
CloudFormation stack does): adding one turns the table into a global table (version
2019.11.21), which DynamoDB allows for a table that already holds data ("How global tables
work": a global table is made "by adding a replica to an existing table"). What that changes
for the table's owner is in the README, "What this changes outside FormKiQ".

Settings each replica is given explicitly, because the provider's defaults are off:
- `point_in_time_recovery`: PITR is per replica and "Default is false" (pulumi-aws TableReplica);
- `deletion_protection_enabled`: "You must enable deletion protection on each replica"
  (DynamoDB developer guide, "Best practices for global tables");
- no `kms_key_arn` and no `table_class_override`: both force a new replica ("Forces new
  resource", Terraform aws_dynamodb_table_replica), and deleting a replica deletes "the replica
  and all of its items" (API_ReplicationGroupUpdate). FormKiQ's tables use DynamoDB's
  AWS-owned key and the STANDARD class, which a replica inherits when neither is given.
- `custom_timeouts`: the first copy of a large table can take hours, longer than the
  provider's 30-minute create timeout.

Every replica is retained when it leaves the program (a tier downgrade, a region removed from
replicaRegions) and protected with `protect`: this package never deletes a replica. Replicas
of one table are created one after the other: DynamoDB changes one replica per UpdateTable
call, and a table stays UPDATING while its new replica fills.

ReplicationLatency is published in the source region for every source and receiving region
pair (DynamoDB developer guide, "Monitoring global tables"; dimensions TableName and
ReceivingRegion), so the alarms live in the primary region, next to the primary topic. The 2019
version publishes no PendingReplicationCount (that metric is the legacy version's only).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.dashboard import MetricLine, Widget
from formkiq_backup import aws_rules

# Hours a replica's first copy may take before Pulumi gives up waiting (the data keeps copying
# in AWS either way). DynamoDB documents no bound: a table of hundreds of GB takes hours.
CREATE_TIMEOUT = "12h"
UPDATE_TIMEOUT = "2h"
# Latency is judged over 1-minute periods; an alarm needs the replica behind the RPO for five
# of them in a row, so one slow write does not wake anyone.
LATENCY_PERIOD_SECONDS = 60
LATENCY_PERIODS = 5


@dataclass(frozen=True)
class ReplicatedTable:
    """A table to replicate: its role in FormKiQ (for names), its name and ARN."""

    label: str
    name: str
    arn: str


@dataclass(frozen=True)
class TableReplicasArgs:
    """Which tables, into which regions, and when replication is too slow."""

    tables: Sequence[ReplicatedTable]
    replica_regions: Sequence[str]
    """Each region gets one replica of every table; none may be the tables' own region."""
    table_region: str
    """Where the tables are (and where ReplicationLatency is published)."""
    topic_arn: pulumi.Input[str]
    """A topic in the tables' region: the latency alarms notify it."""
    alarm_name_prefix: str
    latency_limit_seconds: int
    """Replication slower than this (the tier's RPO) for five minutes alarms."""
    protect: bool = True
    """Pulumi refuses to remove or replace a replica while this is on (retained either way)."""
    region: str | None = None
    """`region` of the alarms: the tables' region (None: the provider's)."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def alarm_name(self, table: ReplicatedTable, region: str) -> str:
        return f"{self.alarm_name_prefix}-{table.label}-replication-latency-{region}"

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = []
        if not self.tables:
            found.append("no table to replicate")
        if not self.replica_regions:
            found.append("no replica region")
        if self.table_region in self.replica_regions:
            found.append(
                f"replica region {self.table_region} is the tables' own region: a global "
                "table has one replica per region"
            )
        found += [
            f"replica region {region} is given twice"
            for region in sorted(set(self.replica_regions))
            if list(self.replica_regions).count(region) > 1
        ]
        if self.latency_limit_seconds < 1:
            found.append("the latency limit must be at least 1 second")
        found += aws_rules.alarm_window_problems(LATENCY_PERIOD_SECONDS, LATENCY_PERIODS)
        for table in self.tables:
            for region in self.replica_regions:
                found += aws_rules.resource_name_problems("alarm", self.alarm_name(table, region))
        return found


class TableReplicas(pulumi.ComponentResource):
    """A replica of each table in each region, never deleted by Pulumi, and its alarm."""

    replicas: dict[str, list[str]]
    """Table name -> the regions it has a replica in."""
    alarm_names: list[pulumi.Output[str]]
    widgets: list[Widget]

    def __init__(
        self, name: str, args: TableReplicasArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"TableReplicas {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:TableReplicas", name, None, opts)
        tags = dict(args.tags)
        alarms: list[pulumi.Output[str]] = []
        for table in args.tables:
            previous: aws.dynamodb.TableReplica | None = None
            for region in args.replica_regions:
                replica = aws.dynamodb.TableReplica(
                    f"{name}-{table.label}-{region}",
                    global_table_arn=table.arn,
                    point_in_time_recovery=True,
                    deletion_protection_enabled=True,
                    tags=tags,
                    region=region,
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        protect=args.protect,
                        retain_on_delete=True,
                        custom_timeouts=pulumi.CustomTimeouts(
                            create=CREATE_TIMEOUT, update=UPDATE_TIMEOUT
                        ),
                        depends_on=[previous] if previous is not None else None,
                    ),
                )
                previous = replica
                alarms.append(self._latency_alarm(name, args, table, region).name)
        self.replicas = {t.name: list(args.replica_regions) for t in args.tables}
        self.alarm_names = alarms
        self.widgets = [
            Widget(
                section="Table replicas",
                title=f"{table.label}: replication latency (ms) by receiving region",
                metrics=[
                    MetricLine(
                        "AWS/DynamoDB",
                        "ReplicationLatency",
                        {"TableName": table.name, "ReceivingRegion": region},
                        region,
                        stat="Average",
                    )
                    for region in args.replica_regions
                ],
                # Published in the tables' region, the dashboard's own (None).
                region=None,
                period_seconds=LATENCY_PERIOD_SECONDS,
            )
            for table in args.tables
        ]
        self.register_outputs({"replicas": self.replicas})

    def _latency_alarm(
        self, name: str, args: TableReplicasArgs, table: ReplicatedTable, region: str
    ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{table.label}-latency-{region}",
            name=args.alarm_name(table, region),
            alarm_description=(
                f"{table.name}'s replica in {region} is more than "
                f"{args.latency_limit_seconds} s behind (the tier's RPO) for "
                f"{LATENCY_PERIODS} minutes: check the table's Replicas (ReplicaStatus) and "
                "`formkiq-dr verify`. An idle table publishes no latency."
            ),
            namespace="AWS/DynamoDB",
            metric_name="ReplicationLatency",
            dimensions={"TableName": table.name, "ReceivingRegion": region},
            statistic="Average",
            period=LATENCY_PERIOD_SECONDS,
            evaluation_periods=LATENCY_PERIODS,
            datapoints_to_alarm=LATENCY_PERIODS,
            # ReplicationLatency is in milliseconds (DynamoDB metrics and dimensions).
            threshold=args.latency_limit_seconds * 1000,
            comparison_operator="GreaterThanThreshold",
            # Published only while writes replicate: no data is an idle table, not a failure.
            treat_missing_data="notBreaching",
            alarm_actions=[args.topic_arn],
            ok_actions=[args.topic_arn],
            tags=dict(args.tags),
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self),
        )
