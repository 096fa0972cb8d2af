"""BackupJobAlerts: failed backup, copy and restore jobs, and silence, reach the alarm topic."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from formkiq_backup import aws_rules

# EventBridge field-name trap (events-ref-backup): backup and copy job events carry
# `detail.state`, restore job events carry `detail.status`; one pattern cannot match both.
JOB_FAILURE_PATTERN = {
    "source": ["aws.backup"],
    "detail-type": ["Backup Job State Change", "Copy Job State Change"],
    "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"]},
}
RESTORE_FAILURE_PATTERN = {
    "source": ["aws.backup"],
    "detail-type": ["Restore Job State Change"],
    "detail": {"status": ["FAILED"]},
}


@dataclass(frozen=True)
class BackupJobAlertsArgs:
    """Where alerts go and which vault must keep receiving backups."""

    topic_arn: pulumi.Input[str]
    vault_name: pulumi.Input[str]
    name_prefix: str
    hours_without_completed_backup: int = 26
    """A daily schedule plus its completion window, with an hour to spare."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        return aws_rules.alarm_window_problems(3_600, self.hours_without_completed_backup)


class BackupJobAlerts(pulumi.ComponentResource):
    """EventBridge rules for failed jobs and an alarm for a vault that stopped filling."""

    alarm_names: list[pulumi.Output[str]]
    """The alarms it created."""

    def __init__(
        self, name: str, args: BackupJobAlertsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"BackupJobAlerts {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:BackupJobAlerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        for suffix, pattern, outcome in (
            ("job-failures", JOB_FAILURE_PATTERN, "<state>"),
            ("restore-failures", RESTORE_FAILURE_PATTERN, "<status>"),
        ):
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                name=f"{args.name_prefix}-{suffix}",
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
                    "input_template": json.dumps(
                        f"AWS Backup <kind>: {outcome} for <resource> in <account>/<region>. "
                        "<message>"
                    ),
                },
                region=args.region,
                opts=child,
            )

        hours = args.hours_without_completed_backup
        silence = aws.cloudwatch.MetricAlarm(
            f"{name}-no-completed-backup",
            name=f"{args.name_prefix}-no-completed-backup-{hours}h",
            alarm_description=f"No AWS Backup job completed into the vault in {hours} hours",
            # AWS/Backup publishes only non-zero values every 5 minutes, so "nothing completed"
            # is missing data: it must count as breaching. One-hour periods, all breaching.
            namespace="AWS/Backup",
            metric_name="NumberOfBackupJobsCompleted",
            dimensions={"BackupVaultName": args.vault_name},
            statistic="Sum",
            period=3_600,
            evaluation_periods=hours,
            datapoints_to_alarm=hours,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=[args.topic_arn],
            ok_actions=[args.topic_arn],
            tags=tags,
            region=args.region,
            opts=child,
        )
        self.alarm_names = [silence.name]
        self.register_outputs({})
