"""Alarms on AWS's own failure counts: any failure in a period alarms, silence is fine.

Used by the export jobs, whose failures AWS counts (Scheduler, Lambda, SQS) and publishes
only while something happens, so missing data means nothing went wrong.
"""

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

# Five minutes: a failed monthly export reaches someone within minutes, not at the next run.
FAILURE_PERIOD_SECONDS = 300


def failure_alarm(
    resource_name: str,
    *,
    alarm_name: str,
    description: str,
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    topic_arn: pulumi.Input[str],
    statistic: str = "Sum",
    region: str | None,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """Alarm when the metric is above zero in any period; missing data is not breaching."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=alarm_name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dict(dimensions),
        statistic=statistic,
        period=FAILURE_PERIOD_SECONDS,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=dict(tags),
        region=region,
        opts=opts,
    )
