"""Alarms more than one component needs."""

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
