"""Global table replicas as `verify` and `failover-check` see them: one implementation of each
check, whoever asks.

- The source table's view: DescribeTable's `Replicas[]` lists each replica's region and
  `ReplicaStatus` (ACTIVE "ready for use"; CREATING, UPDATING, DELETING, CREATION_FAILED,
  REGION_DISABLED, INACCESSIBLE_ENCRYPTION_CREDENTIALS and others are not: DynamoDB API
  reference, ReplicaDescription).
- The replica region's own view: DescribeTable there (`TableStatus`, `Replicas[]` naming the
  other regions, `ItemCount`), and DescribeContinuousBackups there: PITR is a setting of each
  replica (Pulumi's `aws.dynamodb.TableReplica` leaves it off unless `point_in_time_recovery`
  is set; the stack sets it, components/table_replicas.py).
- Lag: CloudWatch's `AWS/DynamoDB` `ReplicationLatency`, in milliseconds, "emitted for every
  source- and destination-Region pair" (DynamoDB developer guide, "Monitoring global tables"),
  with dimensions `TableName` and `ReceivingRegion`, published in the source region, where the
  stack's alarms read it too (components/table_replicas.py). DynamoDB publishes it only while
  writes replicate: no data is a finding of its own, never taken for "no lag".
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.dr.context import DrContext, require_access
from formkiq_backup.dr.expectations import StackExpectations
from formkiq_backup.dr.report import Report, Status, pitr_detail, readable_time
from formkiq_backup.posture import check_table_pitr
from tiers.definitions import Capability, DataClass, TierSpec

SOURCE_SECTION = "global table"
TABLE_SECTION = "replica table"
PITR_SECTION = "replica pitr"
LAG_SECTION = "replica lag"

# How far back verify looks for ReplicationLatency, in one-minute periods (the alarm's own).
LAG_WINDOW = timedelta(minutes=15)
LAG_PERIOD_SECONDS = 60
# DescribeTable's ItemCount and TableSizeBytes: "DynamoDB updates this value approximately every
# six hours. Recent changes might not be reflected in this value." (DynamoDB API reference,
# TableDescription).
APPROXIMATE = "DescribeTable's figures, updated about every six hours"


@dataclass(frozen=True)
class ReplicaExpectations:
    """Where each protected table should have a replica, and how far behind it may be."""

    regions: tuple[str, ...]
    required: bool
    """Whether the tier (or the stack) promises them: FAIL when missing, else INFO."""
    rpo_minutes: int | None
    """The tier's RPO for document metadata: what a replica may lag behind (None: not judged)."""


def replica_expectations(
    spec: TierSpec, dr_region: str | None, expected: StackExpectations | None
) -> ReplicaExpectations:
    """From the stack's outputs when given (its replica regions and objectives), else from the
    tier: drRegion when the tier builds replicas."""
    replicated = Capability.GLOBAL_TABLE_REPLICAS in spec.capabilities
    objective = spec.recovery_objectives.get(DataClass.DOCUMENT_METADATA)
    tier_rpo = objective.rpo_minutes if objective is not None and replicated else None
    if expected is not None:
        regions = tuple(expected.replica_regions)
        rpo = expected.replica_rpo_minutes if regions else None
        return ReplicaExpectations(regions, bool(regions), rpo or (tier_rpo if regions else None))
    return ReplicaExpectations(
        (dr_region,) if dr_region else (), replicated, tier_rpo if dr_region else None
    )


def check_global_tables(
    ctx: DrContext, report: Report, tables: Sequence[str], wanted: ReplicaExpectations
) -> None:
    """verify's checks: each table's replicas as its source sees them, then each replica as its
    own region sees it (status, PITR) and its lag. A replica the tier does not promise is
    reported, never failed."""
    dynamodb = ctx.client("dynamodb")
    for table in tables:
        states = source_states(dynamodb.describe_table(TableName=table)["Table"])
        _report_source(report, table, states, wanted)
        extra = sorted(region for region in states if region not in wanted.regions)
        for region in [*wanted.regions, *extra]:
            required = wanted.required and region in wanted.regions
            if check_replica_table(ctx, report, table, region, required=required) is None:
                continue
            check_replica_pitr(ctx, report, table, region, required=required)
            check_replica_lag(ctx, report, table, region, wanted.rpo_minutes if required else None)


def source_states(described: Mapping[str, Any]) -> dict[str, str]:
    """Region -> ReplicaStatus of a table's replicas, from DescribeTable's `Table`."""
    return {r["RegionName"]: r.get("ReplicaStatus", "?") for r in described.get("Replicas", [])}


def _report_source(
    report: Report, table: str, states: Mapping[str, str], wanted: ReplicaExpectations
) -> None:
    """One entry per table: every wanted region ACTIVE, or what the source lists."""
    bad = Status.FAIL if wanted.required else Status.INFO
    regions = wanted.regions
    if regions and all(states.get(region) == "ACTIVE" for region in regions):
        active = ", ".join(regions)
        report.add(SOURCE_SECTION, table, Status.PASS, f"replica in {active} ACTIVE")
    elif states:
        listed = ", ".join(f"{region} {state}" for region, state in sorted(states.items()))
        report.add(SOURCE_SECTION, table, bad, f"replicas: {listed}")
    else:
        report.add(SOURCE_SECTION, table, bad, "no replicas")


def check_replica_table(
    ctx: DrContext,
    report: Report,
    table: str,
    region: str,
    *,
    required: bool,
    missing_hint: str = "",
) -> dict[str, Any] | None:
    """The replica as its own region describes it: ACTIVE, and part of a global table.

    Returns DescribeTable's `Table`, or None when there is no table of that name there (the
    entry then says so, followed by `missing_hint`).
    """
    subject = f"{table} ({region})"
    bad = Status.FAIL if required else Status.INFO
    try:
        described: dict[str, Any] = ctx.client("dynamodb", region).describe_table(TableName=table)[
            "Table"
        ]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        report.add(TABLE_SECTION, subject, bad, f"no table {table} in {region}{missing_hint}")
        return None
    status = described.get("TableStatus", "?")
    others = source_states(described)
    count, size = described.get("ItemCount"), described.get("TableSizeBytes")
    figures = f"about {count} items, {_size(size)} ({APPROXIMATE})"
    data = {"tableStatus": status, "itemCount": count, "tableSizeBytes": size}
    if not others:
        detail = f"{status}, but not a replica: no other region in its replication group"
        report.add(TABLE_SECTION, subject, bad, f"{detail}; {figures}", **data)
        return described
    group = ", ".join(f"{other} {state}" for other, state in sorted(others.items()))
    detail = f"{status}; replicates with {group}; {figures}"
    ok = status == "ACTIVE"
    report.add(TABLE_SECTION, subject, Status.PASS if ok else bad, detail, **data, replicas=others)
    return described


def check_replica_pitr(
    ctx: DrContext, report: Report, table: str, region: str, *, required: bool
) -> None:
    """PITR on the replica, asked in its region: the posture guard's own check."""
    finding = require_access(check_table_pitr(ctx.client("dynamodb", region), table))
    window = finding.details
    detail = pitr_detail(finding.observed, window)
    bad = Status.FAIL if required else Status.INFO
    report.add(
        PITR_SECTION,
        f"{table} ({region})",
        Status.PASS if finding.compliant else bad,
        detail,
        earliestRestorable=window.get("earliestRestorable"),
        latestRestorable=window.get("latestRestorable"),
    )


def check_replica_lag(
    ctx: DrContext,
    report: Report,
    table: str,
    region: str,
    rpo_minutes: int | None,
    *,
    now: datetime | None = None,
) -> None:
    """The newest minute's average ReplicationLatency against the RPO (the alarm's statistic).

    Asked in the context's region, the source's: where DynamoDB publishes it.
    """
    now = now or datetime.now(UTC)
    answer = ctx.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/DynamoDB",
        MetricName="ReplicationLatency",
        Dimensions=[
            {"Name": "TableName", "Value": table},
            {"Name": "ReceivingRegion", "Value": region},
        ],
        StartTime=now - LAG_WINDOW,
        EndTime=now,
        Period=LAG_PERIOD_SECONDS,
        Statistics=["Average", "Maximum"],
    )
    points = sorted(answer.get("Datapoints", []), key=lambda point: point["Timestamp"])
    subject = f"{table} ({region})"
    minutes = int(LAG_WINDOW.total_seconds() // 60)
    if not points:
        report.add(
            LAG_SECTION,
            subject,
            Status.WARN if rpo_minutes else Status.INFO,
            f"no ReplicationLatency data in the last {minutes} minutes, so the lag cannot be "
            "judged: DynamoDB publishes it only while writes replicate, so either nothing was "
            f"written to {table} in that time, or replication to {region} has stopped (the "
            "replica's status says which)",
        )
        return
    newest = points[-1]
    average = float(newest["Average"])
    highest = max(float(point["Maximum"]) for point in points)
    detail = (
        f"{_seconds(average)} behind in the minute from {readable_time(newest['Timestamp'])} "
        f"(average), at most {_seconds(highest)} in the last {minutes} minutes"
    )
    data = {"latencyMs": average, "maxLatencyMs": highest, "at": newest["Timestamp"].isoformat()}
    if rpo_minutes is None:
        report.add(LAG_SECTION, subject, Status.INFO, detail, **data)
        return
    within = average <= rpo_minutes * 60_000
    verdict = "within" if within else "more than"
    report.add(
        LAG_SECTION,
        subject,
        Status.PASS if within else Status.FAIL,
        f"{detail}: {verdict} the tier's RPO of {rpo_minutes} min",
        rpoMinutes=rpo_minutes,
        **data,
    )


def _seconds(milliseconds: float) -> str:
    return f"{milliseconds / 1000:.1f} s"


def _size(size: object) -> str:
    if not isinstance(size, int):
        return "size unknown"
    value = float(size)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
