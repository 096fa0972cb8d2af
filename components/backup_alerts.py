"""BackupJobAlerts: failed backup, copy and restore jobs, and silence, reach the alarm topic."""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.alarms import failed_invocations_alarm
from components.dashboard import MetricLine, Widget
from formkiq_backup import aws_rules

# EventBridge field-name trap (aws-backup/latest/devguide/eventbridge.html): backup and copy job
# events carry `detail.state`, restore job events `detail.status`; one pattern cannot match both.
# Backup jobs also end PARTIAL (some of the resource was not backed up) and copy jobs PARTIAL;
# restores end ABORTED as well as FAILED.
JOB_FAILURE_PATTERN = {
    "source": ["aws.backup"],
    "detail-type": ["Backup Job State Change", "Copy Job State Change"],
    "detail": {"state": ["ABORTED", "EXPIRED", "FAILED", "PARTIAL"]},
}
RESTORE_FAILURE_PATTERN = {
    "source": ["aws.backup"],
    "detail-type": ["Restore Job State Change"],
    "detail": {"status": ["ABORTED", "FAILED"]},
}
# "Completed with issues" in the console is a COMPLETED job with a status message
# (aws-backup/latest/devguide/API_ListBackupJobs.html, ByState). A pattern matches only events
# that have the field (eventbridge/latest/userguide/eb-event-patterns.html), and anything-but ""
# leaves out an empty message (eb-event-patterns-content-based-filtering.html), so this matches
# exactly the completed jobs that carry a message.
COMPLETED_WITH_ISSUES_PATTERN = {
    "source": ["aws.backup"],
    "detail-type": ["Backup Job State Change"],
    "detail": {"state": ["COMPLETED"], "statusMessage": [{"anything-but": [""]}]},
}
RULES = (
    ("job-failures", JOB_FAILURE_PATTERN, "<state>"),
    ("restore-failures", RESTORE_FAILURE_PATTERN, "<status>"),
    ("completed-with-issues", COMPLETED_WITH_ISSUES_PATTERN, "<state> with issues"),
)


@dataclass(frozen=True)
class BackupJobAlertsArgs:
    """Where alerts go and which vault must keep receiving backups of which resource types."""

    topic_arn: pulumi.Input[str]
    vault_name: pulumi.Input[str]
    name_prefix: str
    resource_types: Sequence[str] = ("DynamoDB", "S3")
    """AWS Backup resource types backed up into the vault: one "no backup" alarm each. None for
    a vault that only receives copies (no backup job ever completes into it)."""
    hours_without_completed_backup: int = 26
    """A daily schedule plus its completion window, with an hour to spare."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = aws_rules.alarm_window_problems(3_600, self.hours_without_completed_backup)
        found += [
            f"resource type {kind!r} is not one AWS Backup publishes metrics for (known: "
            f"{', '.join(sorted(aws_rules.BACKUP_RESOURCE_TYPES))})"
            for kind in self.resource_types
            if kind not in aws_rules.BACKUP_RESOURCE_TYPES
        ]
        for suffix, _, _ in RULES:
            found += aws_rules.resource_name_problems("event rule", self.rule_name(suffix))
        return found

    def rule_name(self, suffix: str) -> str:
        """The EventBridge rule's name; its FailedInvocations alarm is keyed by it."""
        return f"{self.name_prefix}-{suffix}"


def alert_template(summary: str) -> str:
    """An EventBridge input template: the summary, then AWS Backup's own message as a value.

    EventBridge does not escape values it pastes into a quoted string, so a status message
    with a quote in it would break the message; a placeholder standing as a JSON value is
    inserted as a JSON string (eventbridge/latest/userguide/eb-transform-target-input.html).
    The summary's placeholders are ARNs, states and regions, which hold no quotes.
    """
    return '{"alert": ' + json.dumps(summary) + ', "statusMessage": <message>}'


JOBS_SECTION = "Backup and restore jobs"


class BackupJobAlerts(pulumi.ComponentResource):
    """EventBridge rules for failed jobs, alarms on their delivery, and on a vault gone quiet."""

    alarm_names: list[pulumi.Output[str]]
    """Every alarm it created: delivery failures and silence per resource type."""
    widgets: list[Widget]
    """Backup and restore job outcomes per resource type, from AWS/Backup."""

    def __init__(
        self, name: str, args: BackupJobAlertsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"BackupJobAlerts {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:BackupJobAlerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        alarms: list[aws.cloudwatch.MetricAlarm] = []

        for suffix, pattern, outcome in RULES:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                name=args.rule_name(suffix),
                description=f"AWS Backup {suffix.replace('-', ' ')} to the alarm topic",
                event_pattern=json.dumps(pattern),
                tags=tags,
                region=args.region,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}-to-topic",
                rule=rule.name,
                arn=args.topic_arn,
                input_transformer={
                    "input_paths": {
                        "kind": "$.detail-type",
                        "state": "$.detail.state",
                        "status": "$.detail.status",
                        "resource": "$.detail.resourceArn",
                        "message": "$.detail.statusMessage",
                        "account": "$.account",
                        "region": "$.region",
                    },
                    "input_template": alert_template(
                        f"AWS Backup <kind>: {outcome} for <resource> in <account>/<region>."
                    ),
                },
                region=args.region,
                opts=child,
            )
            delivery = failed_invocations_alarm(
                f"{name}-{suffix}-delivery",
                alarm_name=f"{args.rule_name(suffix)}-delivery-failed",
                rule_name=rule.name,
                target="the alarm topic",
                topic_arn=args.topic_arn,
                tags=tags,
                region=args.region,
                opts=child,
            )
            alarms.append(delivery)

        alarms += [
            self._silence_alarm(name, args, resource_type, child)
            for resource_type in args.resource_types
        ]
        self.alarm_names = [alarm.name for alarm in alarms]
        self.widgets = [
            self._jobs_widget(args, "Backup", ("Completed", "Failed", "Expired")),
            self._jobs_widget(args, "Restore", ("Completed", "Failed")),
        ]
        self.register_outputs({})

    @staticmethod
    def _jobs_widget(args: BackupJobAlertsArgs, kind: str, outcomes: Sequence[str]) -> Widget:
        """Jobs of one kind by outcome and resource type, hourly: the silence alarm's metric
        (NumberOfBackupJobsCompleted) among them. Restores include the restore tests'."""
        return jobs_widget(
            title=f"{kind} jobs into or from the vault, per hour",
            kind=kind,
            outcomes=outcomes,
            vault_name=args.vault_name,
            resource_types=args.resource_types,
            region=args.region,
        )

    @staticmethod
    def _silence_alarm(
        name: str, args: BackupJobAlertsArgs, resource_type: str, opts: pulumi.ResourceOptions
    ) -> aws.cloudwatch.MetricAlarm:
        """No completed backup job of one resource type into the vault for too long.

        Per type, not per vault: summed over the vault, daily table backups would hide a bucket
        whose backups fail every day.
        """
        hours = args.hours_without_completed_backup
        slug = re.sub(r"[^a-z0-9]+", "-", resource_type.lower()).strip("-")
        return aws.cloudwatch.MetricAlarm(
            f"{name}-no-completed-{slug}-backup",
            name=f"{args.name_prefix}-no-completed-{slug}-backup-{hours}h",
            alarm_description=(
                f"No AWS Backup job for a {resource_type} resource completed into the vault in "
                f"{hours} hours"
            ),
            # AWS/Backup publishes per BackupVaultName and ResourceType
            # (aws-backup/latest/devguide/cloudwatch.html), every 5 minutes and only non-zero
            # values, so "nothing completed" is missing data: it must count as breaching.
            namespace="AWS/Backup",
            metric_name="NumberOfBackupJobsCompleted",
            dimensions={"BackupVaultName": args.vault_name, "ResourceType": resource_type},
            statistic="Sum",
            period=3_600,
            evaluation_periods=hours,
            datapoints_to_alarm=hours,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=[args.topic_arn],
            ok_actions=[args.topic_arn],
            tags=dict(args.tags),
            region=args.region,
            opts=opts,
        )


def jobs_widget(
    *,
    title: str,
    kind: str,
    outcomes: Sequence[str],
    vault_name: pulumi.Input[str],
    resource_types: Sequence[str],
    region: str | None,
) -> Widget:
    """AWS Backup's `NumberOf<kind>Jobs<outcome>` of one vault by resource type, hourly (the
    metrics' dimensions are BackupVaultName and ResourceType: AWS Backup developer guide,
    "AWS Backup metrics with Amazon CloudWatch", cloudwatch.html)."""
    return Widget(
        section=JOBS_SECTION,
        title=title,
        metrics=[
            MetricLine(
                "AWS/Backup",
                f"NumberOf{kind}Jobs{outcome}",
                {"BackupVaultName": vault_name, "ResourceType": resource_type},
                f"{resource_type} {outcome.lower()}",
            )
            for resource_type in resource_types
            for outcome in outcomes
        ],
        region=region,
        period_seconds=3_600,
    )


def copy_jobs_widgets(
    vault_name: pulumi.Input[str],
    resource_types: Sequence[str],
    regions: Mapping[str | None, str],
) -> list[Widget]:
    """Copy jobs into the vault `vault_name`, once per region of `regions` (the `region`
    argument, and the region's name for the title).

    A copy job's series is named by its destination vault ("The vault name of copy jobs is that
    of their destination vault": cloudwatch.html). No AWS page says which region publishes a
    cross-region copy job's metrics, as none says which emits its events (the alerts watch both
    for that reason): both are shown, and the one AWS does not publish in stays empty.
    """
    return [
        jobs_widget(
            title=f"Copy jobs into the DR vault, per hour (as published in {name})",
            kind="Copy",
            outcomes=("Completed", "Failed"),
            vault_name=vault_name,
            resource_types=resource_types,
            region=region,
        )
        for region, name in regions.items()
    ]
