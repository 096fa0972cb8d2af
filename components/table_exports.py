"""TableExports: EventBridge Scheduler starts a full DynamoDB export of each table, on schedule.

No Lambda: Scheduler's universal target calls ExportTableToPointInTime itself
(`arn:<partition>:scheduler:::aws-sdk:dynamodb:exportTableToPointInTime`, input in the API's
PascalCase; EventBridge Scheduler user guide, managing-targets-universal). No ClientToken is sent: a
static one would make every later run a no-op replay of the first for 8 hours, and after
that a new export anyway; DynamoDB fills one in per call.

Scheduler only sees the export *start* fail (a missing table, PITR off, no permission); those
reach the dead-letter queue and the schedule group's TargetErrorCount and
InvocationDroppedCount alarms. An export that fails later is the export monitor's job.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pulumi
import pulumi_aws as aws

from components.alarms import failure_alarm
from components.policies import policy_document, service_trust_policy
from formkiq_backup.exports import table_prefix

# The universal target's ARN names the API, in the partition the schedule runs in: written
# arn:aws:... in aws-cn or aws-us-gov, Scheduler refuses the schedule.
EXPORT_TABLE_TARGET = "aws-sdk:dynamodb:exportTableToPointInTime"
# Scheduler's metrics are per schedule group (EventBridge Scheduler user guide,
# monitoring-cloudwatch: namespace AWS/Scheduler, dimension ScheduleGroup).
SCHEDULER_NAMESPACE = "AWS/Scheduler"
SCHEDULER_FAILURES = {
    "TargetErrorCount": "the target API returned an error",
    "InvocationDroppedCount": "an invocation was dropped after its retries ran out",
}
# Retries for a failed start; each later run is a new export anyway.
MAX_RETRY_ATTEMPTS = 3
MAX_EVENT_AGE_SECONDS = 6 * 3600
# SQS keeps a message at most 14 days (CreateQueue MessageRetentionPeriod).
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


class ExportedTable(Protocol):
    """A table to export: its name, ARN and a short label for schedule names."""

    @property
    def name(self) -> str: ...

    @property
    def arn(self) -> str: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class TableExportsArgs:
    """Which tables, into which bucket and key, on what schedule, alarmed where."""

    tables: Sequence[ExportedTable]
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    schedule_expression: str
    schedule_timezone: str
    schedule_group_name: str
    name_prefix: str
    """AWS names start with it (formkiq-<env>); each stays within Scheduler's 64 characters."""
    account_id: str
    partition: str
    """aws, aws-cn or aws-us-gov: the universal target's ARN is in it."""
    alarm_topic_arn: pulumi.Input[str]
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = []
        if not self.tables:
            found.append("no tables to export")
        for name in [self.schedule_group_name] + [self.schedule_name(t) for t in self.tables]:
            if len(name) > 64:
                found.append(f"schedule name {name!r} is longer than Scheduler's 64 characters")
        return found

    def schedule_name(self, table: ExportedTable) -> str:
        return f"{self.name_prefix}-export-{table.label}"


class TableExports(pulumi.ComponentResource):
    """A schedule group, one schedule per table, their role, dead-letter queue and alarms."""

    group_name: pulumi.Output[str]
    """The schedule group; other export schedules join it, so its alarms cover them too."""
    schedule_names: list[pulumi.Output[str]]
    alarm_names: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: TableExportsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"TableExports {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:TableExports", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        region = args.region

        group = aws.scheduler.ScheduleGroup(
            f"{name}-group", name=args.schedule_group_name, tags=tags, region=region, opts=child
        )
        dead_letters = aws.sqs.Queue(
            f"{name}-dead-letters",
            name=f"{args.name_prefix}-table-exports-dlq",
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            region=region,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=f"{args.name_prefix}-table-exports",
            description="Starts FormKiQ's scheduled DynamoDB exports (EventBridge Scheduler)",
            assume_role_policy=service_trust_policy("scheduler.amazonaws.com", args.account_id),
            tags=tags,
            opts=child,
        )
        permissions = aws.iam.RolePolicy(
            f"{name}-permissions",
            role=role.id,
            policy=policy_document(self._permissions(args, dead_letters.arn)),
            opts=child,
        )
        self.schedule_names = []
        for table in args.tables:
            schedule = aws.scheduler.Schedule(
                f"{name}-{table.label}",
                name=args.schedule_name(table),
                group_name=group.name,
                description=f"Full DynamoDB export of {table.name} into the exports bucket",
                schedule_expression=args.schedule_expression,
                schedule_expression_timezone=args.schedule_timezone,
                flexible_time_window={"mode": "OFF"},
                target={
                    "arn": universal_target(args.partition, EXPORT_TABLE_TARGET),
                    "role_arn": role.arn,
                    "input": export_input(table, args.bucket_name, args.key_arn),
                    "retry_policy": {
                        "maximum_retry_attempts": MAX_RETRY_ATTEMPTS,
                        "maximum_event_age_in_seconds": MAX_EVENT_AGE_SECONDS,
                    },
                    "dead_letter_config": {"arn": dead_letters.arn},
                },
                region=region,
                # The role must hold its permissions before the first run can use them.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[permissions]),
            )
            self.schedule_names.append(schedule.name)

        alarms = [
            failure_alarm(
                f"{name}-{metric}",
                alarm_name=f"{args.name_prefix}-exports-{metric}",
                description=(
                    f"An export schedule in {args.schedule_group_name} failed: {why} "
                    "(see the dead-letter queue)"
                ),
                namespace=SCHEDULER_NAMESPACE,
                metric_name=metric,
                dimensions={"ScheduleGroup": group.name},
                topic_arn=args.alarm_topic_arn,
                region=region,
                tags=tags,
                opts=child,
            )
            for metric, why in SCHEDULER_FAILURES.items()
        ]
        alarms.append(
            failure_alarm(
                f"{name}-dead-letters-depth",
                alarm_name=f"{args.name_prefix}-table-exports-dlq-depth",
                description="A DynamoDB export could not be started: read the dead-letter queue",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dead_letters.name},
                statistic="Maximum",
                topic_arn=args.alarm_topic_arn,
                region=region,
                tags=tags,
                opts=child,
            )
        )
        self.alarm_names = [alarm.name for alarm in alarms]
        self.group_name = group.name
        self.register_outputs({"scheduleGroup": group.name})

    @staticmethod
    def _permissions(
        args: TableExportsArgs, dead_letters_arn: pulumi.Output[str]
    ) -> list[dict[str, object]]:
        """Exactly the export on these tables, their prefixes, the key and the DLQ.

        DynamoDB writes the export as the caller, so the caller needs the S3 writes
        (AmazonDynamoDB developer guide, S3DataExport_Requesting: s3:AbortMultipartUpload,
        s3:PutObject, s3:PutObjectAcl) and the key for SSE-KMS.
        """
        prefixes = [
            pulumi.Output.concat(args.bucket_arn, "/", table_prefix(table.name), "*")
            for table in args.tables
        ]
        return [
            {
                "Sid": "ExportTheseTables",
                "Effect": "Allow",
                "Action": "dynamodb:ExportTableToPointInTime",
                "Resource": [table.arn for table in args.tables],
            },
            {
                "Sid": "WriteTheirPrefixes",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"],
                "Resource": prefixes,
            },
            {
                "Sid": "EncryptWithExportsKey",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": args.key_arn,
            },
            {
                # Scheduler delivers dead letters as the schedule's execution role
                # (EventBridge Scheduler user guide, configuring-schedule-dlq).
                "Sid": "DeadLetters",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": dead_letters_arn,
            },
        ]


def universal_target(partition: str, api: str) -> str:
    """`arn:<partition>:scheduler:::aws-sdk:<service>:<action>` (managing-targets-universal)."""
    return f"arn:{partition}:scheduler:::{api}"


def export_input(
    table: ExportedTable, bucket_name: pulumi.Input[str], key_arn: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The ExportTableToPointInTime request, as the universal target takes it (PascalCase)."""
    return pulumi.Output.all(bucket_name, key_arn).apply(
        lambda values: json.dumps(
            {
                "TableArn": table.arn,
                "S3Bucket": values[0],
                "S3Prefix": table_prefix(table.name),
                "ExportFormat": "DYNAMODB_JSON",
                "ExportType": "FULL_EXPORT",
                "S3SseAlgorithm": "KMS",
                "S3SseKmsKeyId": values[1],
            },
            sort_keys=True,
        )
    )
