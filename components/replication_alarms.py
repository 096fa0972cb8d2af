"""ReplicationAlarms: S3 replication metrics of one rule, alarmed where they are published.

S3 publishes the four metrics of a rule in two regions (AmazonS3 userguide, repl-metrics.html,
"Which Region is this metric published in?"): OperationsFailedReplication in the source bucket's
region; ReplicationLatency, BytesPendingReplication and OperationsPendingReplication in the
destination bucket's. A CloudWatch alarm sees only its own region's metrics and notifies only a
topic there, so this component is built once per side, in that side's region, with that
region's topic.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import pulumi
import pulumi_aws as aws

from components.dashboard import MetricLine, Widget
from formkiq_backup import aws_rules


class Side(StrEnum):
    """Which bucket's region a replication metric is published in."""

    SOURCE = "source"
    DESTINATION = "destination"


@dataclass(frozen=True)
class ReplicationMetric:
    """One replication metric, how it is read and when it is a problem."""

    name: str
    side: Side
    statistic: str
    threshold: float
    periods: int
    """Consecutive 5-minute periods above the threshold before it alarms."""
    meaning: str
    title: str
    """Its dashboard widget's title."""


# Statistics as AWS lists them for each metric (AmazonS3 userguide, metrics-dimensions.html,
# S3 Replication metrics: Maximum for latency and pending, Sum for failed operations).
# Thresholds: RTC replicates 99.99% of objects within 15 minutes, so a replica more than 15
# minutes behind, or anything still pending for three periods, or one failed operation, is
# worth waking someone.
METRICS = (
    ReplicationMetric(
        "OperationsFailedReplication",
        Side.SOURCE,
        "Sum",
        0,
        1,
        "object operations failed to replicate (permissions, keys, or a missing replica)",
        "Operations failed to replicate",
    ),
    ReplicationMetric(
        "ReplicationLatency",
        Side.DESTINATION,
        "Maximum",
        900,
        3,
        "the replica is more than 15 minutes behind (RTC's target)",
        "Replication latency (seconds)",
    ),
    ReplicationMetric(
        "BytesPendingReplication",
        Side.DESTINATION,
        "Maximum",
        0,
        3,
        "bytes have waited to replicate for 15 minutes",
        "Bytes pending replication",
    ),
    ReplicationMetric(
        "OperationsPendingReplication",
        Side.DESTINATION,
        "Maximum",
        0,
        3,
        "operations have waited to replicate for 15 minutes",
        "Operations pending replication",
    ),
)
PERIOD_SECONDS = 300


@dataclass(frozen=True)
class ReplicationAlarmsArgs:
    """One rule's metrics on one side, and the topic of that side's region."""

    side: Side
    source_bucket: str
    destination_bucket: pulumi.Input[str]
    rule_id: str
    topic_arn: pulumi.Input[str]
    alarm_name_prefix: str
    region: str | None = None
    """Region of the alarms: the source's for Side.SOURCE, the destination's otherwise."""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> Sequence[ReplicationMetric]:
        return [metric for metric in METRICS if metric.side is self.side]

    def alarm_name(self, metric: ReplicationMetric) -> str:
        """`<prefix>-operations-failed-replication`; the prefix names the replicated bucket."""
        return f"{self.alarm_name_prefix}-{_words(metric.name)}"

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = []
        for metric in self.metrics:
            found += aws_rules.alarm_window_problems(PERIOD_SECONDS, metric.periods)
            found += aws_rules.resource_name_problems("alarm", self.alarm_name(metric))
        return found


class ReplicationAlarms(pulumi.ComponentResource):
    """The alarms of one replication rule's metrics published in one region."""

    alarm_names: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: ReplicationAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"ReplicationAlarms {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:ReplicationAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        alarms = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{_words(metric.name)}",
                name=args.alarm_name(metric),
                alarm_description=(
                    f"Replication of {args.source_bucket} (rule {args.rule_id}): {metric.meaning}"
                ),
                namespace="AWS/S3",
                metric_name=metric.name,
                dimensions=rule_dimensions(
                    args.source_bucket, args.destination_bucket, args.rule_id
                ),
                statistic=metric.statistic,
                period=PERIOD_SECONDS,
                evaluation_periods=metric.periods,
                datapoints_to_alarm=metric.periods,
                threshold=metric.threshold,
                comparison_operator="GreaterThanThreshold",
                # AWS's advice for replication alarms (metrics-dimensions.html). A replica that
                # is gone stops the destination metrics but not OperationsFailedReplication,
                # and the posture guard alarms when the rule itself disappears.
                treat_missing_data="ignore",
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                tags=dict(args.tags),
                region=args.region,
                opts=child,
            )
            for metric in args.metrics
        ]
        self.alarm_names = [alarm.name for alarm in alarms]
        self.register_outputs({})


@dataclass(frozen=True)
class WatchedRule:
    """One replication rule's series: its source, its destination, its id (the dimensions)."""

    label: str
    source_bucket: str
    destination_bucket: pulumi.Input[str]
    rule_id: str


def replication_widgets(
    rules: Sequence[WatchedRule], regions: Mapping[Side, tuple[str | None, str]]
) -> list[Widget]:
    """The alarmed metrics as dashboard widgets: one per metric, a line per rule, each read in
    the region S3 publishes it in (`regions`: the `region` argument and the region's name, per
    side), as the alarms are."""
    return [
        Widget(
            section="Replication",
            title=f"{metric.title} (published in {regions[metric.side][1]})",
            metrics=[
                MetricLine(
                    "AWS/S3",
                    metric.name,
                    rule_dimensions(rule.source_bucket, rule.destination_bucket, rule.rule_id),
                    rule.label,
                    stat=metric.statistic,
                )
                for rule in rules
            ],
            region=regions[metric.side][0],
            period_seconds=PERIOD_SECONDS,
        )
        for metric in METRICS
    ]


def rule_dimensions(
    source_bucket: str, destination_bucket: pulumi.Input[str], rule_id: str
) -> dict[str, pulumi.Input[str]]:
    """One rule's own series: the rule id is a dimension (repl-metrics.html)."""
    return {
        "SourceBucket": source_bucket,
        "DestinationBucket": destination_bucket,
        "RuleId": rule_id,
    }


def _words(metric_name: str) -> str:
    """OperationsFailedReplication -> operations-failed-replication."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", metric_name).lower()
