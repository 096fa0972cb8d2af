"""ExportMonitor: a check every six hours that each newest export completed and is young enough.

Scheduler sees only an export's start. The monitor Lambda reads DescribeExport and the newest
manifests (formkiq_backup.exports, the same checks `formkiq-dr verify` runs) and publishes
ExportHealthy per data set. One alarm per data set treats missing data as breaching: a failed
export, a stale one and a monitor that stopped running all alarm.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.dashboard import MetricLine, Widget
from components.policies import Statement
from components.scheduled_function import ScheduledFunction, ScheduledFunctionArgs
from formkiq_backup import aws_rules
from formkiq_backup.exports import (
    APP_ENVIRONMENT_DIMENSION,
    EXPORT_SET_DIMENSION,
    METRIC_NAME,
    METRIC_NAMESPACE,
)
from formkiq_backup.lambdas import EXPORT_MONITOR

CHECK_EVERY_HOURS = 6
# A day without a datapoint (four checks missed) alarms; one late check does not.
ALARM_PERIOD_SECONDS = 86_400


@dataclass(frozen=True)
class ExportMonitorArgs:
    """Which data sets to watch, in which bucket, and where to report."""

    app_environment: str
    export_sets: Sequence[str]
    """The ExportSet dimension values: `dynamodb/<table>`, `cognito`, `infrastructure`."""
    table_arns: Sequence[str]
    bucket_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    function_name: str
    schedule_group_name: pulumi.Input[str]
    schedule_timezone: str
    account_id: str
    alarm_topic_arn: pulumi.Input[str]
    alarm_name_prefix: str
    descriptor: pulumi.Resource | None = None
    """The `exports.json` object the monitor reads first: its schedule, a rate() that runs at
    once, is created after it, so the first run finds it."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = aws_rules.alarm_window_problems(ALARM_PERIOD_SECONDS, 1)
        if not self.export_sets:
            found.append("no export sets to watch")
        return found


class ExportMonitor(pulumi.ComponentResource):
    """The monitor Lambda (a ScheduledFunction) and one freshness alarm per data set."""

    alarm_names: list[pulumi.Output[str]]
    widgets: list[Widget]
    """ExportHealthy per data set, as its alarms judge it."""

    def __init__(
        self, name: str, args: ExportMonitorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"ExportMonitor {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:ExportMonitor", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        job = ScheduledFunction(
            f"{name}-job",
            ScheduledFunctionArgs(
                function_name=args.function_name,
                description=f"Checks the system exports of FormKiQ {args.app_environment}",
                bundle=EXPORT_MONITOR,
                statements=self._permissions(args),
                schedule_expression=f"rate({CHECK_EVERY_HOURS} hours)",
                schedule_timezone=args.schedule_timezone,
                schedule_group_name=args.schedule_group_name,
                account_id=args.account_id,
                alarm_topic_arn=args.alarm_topic_arn,
                environment={
                    "APP_ENVIRONMENT": args.app_environment,
                    "EXPORTS_BUCKET": args.bucket_name,
                },
                timeout_seconds=300,
                memory_mb=256,
                schedule_dependencies=[args.descriptor] if args.descriptor is not None else [],
                region=args.region,
                tags=args.tags,
            ),
            opts=child,
        )
        freshness = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{export_set.replace('/', '-')}",
                name=f"{args.alarm_name_prefix}-export-{export_set.replace('/', '-')}",
                alarm_description=(
                    f"The newest {export_set} export of FormKiQ {args.app_environment} failed, "
                    "is missing, does not match its manifest or is older than the schedule "
                    "allows; or the export monitor stopped reporting"
                ),
                namespace=METRIC_NAMESPACE,
                metric_name=METRIC_NAME,
                dimensions={
                    APP_ENVIRONMENT_DIMENSION: args.app_environment,
                    EXPORT_SET_DIMENSION: export_set,
                },
                statistic="Minimum",
                period=ALARM_PERIOD_SECONDS,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="LessThanThreshold",
                treat_missing_data="breaching",
                alarm_actions=[args.alarm_topic_arn],
                ok_actions=[args.alarm_topic_arn],
                tags=dict(args.tags),
                region=args.region,
                opts=child,
            )
            for export_set in args.export_sets
        ]
        self.alarm_names = [*job.alarm_names, *(alarm.name for alarm in freshness)]
        self.widgets = [
            Widget(
                section="Exports",
                title="Newest export healthy (1 = yes)",
                metrics=[
                    MetricLine(
                        METRIC_NAMESPACE,
                        METRIC_NAME,
                        {
                            APP_ENVIRONMENT_DIMENSION: args.app_environment,
                            EXPORT_SET_DIMENSION: export_set,
                        },
                        export_set,
                        stat="Minimum",
                    )
                    for export_set in args.export_sets
                ],
                region=args.region,
                period_seconds=CHECK_EVERY_HOURS * 3600,
                y_range=(0, 1),
            )
        ]
        self.register_outputs({"functionName": job.function_name})

    @staticmethod
    def _permissions(args: ExportMonitorArgs) -> list[Statement]:
        """Read-only, plus its own metric namespace."""
        bucket = args.bucket_arn
        return [
            {
                # ListExports takes no resource-level permission.
                "Sid": "ListExports",
                "Effect": "Allow",
                "Action": "dynamodb:ListExports",
                "Resource": "*",
            },
            {
                "Sid": "DescribeTheseTablesAndTheirExports",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeExport", "dynamodb:DescribeTable"],
                "Resource": [*args.table_arns, *(f"{arn}/export/*" for arn in args.table_arns)],
            },
            {
                "Sid": "ReadExports",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetObject"],
                "Resource": [bucket, pulumi.Output.concat(bucket, "/*")],
            },
            {
                "Sid": "DecryptExports",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": args.key_arn,
            },
            {
                "Sid": "PublishExportMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
            },
        ]
