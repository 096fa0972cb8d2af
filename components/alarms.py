"""Alarms more than one component needs.

`failed_invocations_alarm`: EventBridge could not deliver a rule's events. `failure_alarm`: AWS's
own failure counts for the export jobs (Scheduler, Lambda, SQS), published only while something
happens, so missing data means nothing went wrong.
"""

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

# EventBridge publishes FailedInvocations per rule (dimension RuleName) when a target cannot be
# invoked, e.g. a topic policy or key policy that refuses it; nothing else shows such a failure
# (eventbridge/latest/userguide/eb-monitoring.html). Only non-zero values are published, so
# missing data is "no failures".
FAILED_INVOCATIONS_PERIOD_SECONDS = 300


def failed_invocations_alarm(
    resource_name: str,
    *,
    alarm_name: str,
    rule_name: pulumi.Input[str],
    target: str,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    region: str | None,
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm when EventBridge fails to deliver a rule's events to its target.

    The alarm notifies through a CloudWatch alarm action, a path that does not depend on
    EventBridge, so a broken delivery path is itself an alert.
    """
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=alarm_name,
        alarm_description=(
            f"EventBridge could not deliver to {target}: its events reach nobody. "
            "Check the target's resource policy and key policy."
        ),
        namespace="AWS/Events",
        metric_name="FailedInvocations",
        dimensions={"RuleName": rule_name},
        statistic="Sum",
        period=FAILED_INVOCATIONS_PERIOD_SECONDS,
        evaluation_periods=1,
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=dict(tags),
        region=region,
        opts=opts,
    )


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
