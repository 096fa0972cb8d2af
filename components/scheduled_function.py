"""ScheduledFunction: a Lambda that EventBridge Scheduler runs, with a dead-letter queue and alarms.

Scheduler invokes Lambda asynchronously, so a failed run shows in two places: Scheduler's own
counts (a failed or dropped invocation: the schedule group's alarms) and Lambda's (the
function ran and raised). Both kinds of failure end in the same dead-letter queue: the
schedule's for invocations Scheduler gave up on, the function's for runs Lambda gave up on
after its retries. Errors and a non-empty queue alarm.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import failure_alarm
from components.policies import Statement, policy_document, service_trust_policy
from formkiq_backup.lambdas import LambdaBundle

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# Lambda function, IAM role and schedule names allow 64 characters (C3).
MAX_NAME = 64


@dataclass(frozen=True)
class ScheduledFunctionArgs:
    """What runs, with which permissions, when, and where its failures are reported."""

    function_name: str
    description: str
    bundle: LambdaBundle
    statements: Sequence[Statement]
    """The function's own permissions; logs and its dead-letter queue are added."""
    schedule_expression: str
    schedule_timezone: str
    schedule_group_name: pulumi.Input[str]
    account_id: str
    alarm_topic_arn: pulumi.Input[str]
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    timeout_seconds: int = 900
    memory_mb: int = 512
    log_retention_days: int = 90
    schedule_dependencies: Sequence[pulumi.Resource] = ()
    """What the first run needs in place: a `rate()` schedule without a start date invokes its
    target as soon as it is created (EventBridge Scheduler user guide, schedule-types,
    rate-based schedules), so it is created after these."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = [
            f"{what} name {name!r} is longer than {MAX_NAME} characters"
            for what, name in self.names().items()
            if len(name) > MAX_NAME
        ]
        if not 1 <= self.timeout_seconds <= 900:
            found.append(f"timeout_seconds={self.timeout_seconds}: Lambda allows 1..900")
        return found

    def names(self) -> dict[str, str]:
        """The AWS names of the function, its two roles and its schedule."""
        return {
            "function": self.function_name,
            "execution role": f"{self.function_name}-role",
            "scheduler role": f"{self.function_name}-invoke",
            "schedule": self.function_name,
        }


class ScheduledFunction(pulumi.ComponentResource):
    """One scheduled Lambda job and everything that reports its failures.

    Built in the order a run needs things: where it logs and where failures go, the role it
    runs as, the function, the schedule that invokes it, and the alarms on both failure counts.
    """

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    alarm_names: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: ScheduledFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"ScheduledFunction {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:ScheduledFunction", name, None, opts)
        self._name = name
        self._args = args
        self._tags = dict(args.tags)

        log_group, dead_letters = self._add_logs_and_dead_letters()
        role, permissions = self._add_execution_role(log_group, dead_letters)
        function = self._add_function(role, permissions, log_group, dead_letters)
        self._add_schedule(function, dead_letters)
        self.alarm_names = self._add_alarms(function, dead_letters)
        self.function_name = function.name
        self.function_arn = function.arn
        self.register_outputs({"functionName": function.name})

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _add_logs_and_dead_letters(self) -> tuple[aws.cloudwatch.LogGroup, aws.sqs.Queue]:
        """The function's log group, and the queue both kinds of given-up run end in."""
        args = self._args
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            tags=self._tags,
            region=args.region,
            opts=self._child(),
        )
        dead_letters = aws.sqs.Queue(
            f"{self._name}-dead-letters",
            name=f"{args.function_name}-dlq",
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=self._tags,
            region=args.region,
            opts=self._child(),
        )
        return log_group, dead_letters

    def _add_execution_role(
        self, log_group: aws.cloudwatch.LogGroup, dead_letters: aws.sqs.Queue
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role the function runs as: its own logs and dead letters, then `statements`."""
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-role",
            name=args.names()["execution role"],
            description=args.description,
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", args.account_id),
            tags=self._tags,
            opts=self._child(),
        )
        own: list[Statement] = [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": log_group.arn.apply(lambda arn: f"{arn}:*"),
            },
            {
                "Sid": "DeadLetters",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": dead_letters.arn,
            },
        ]
        permissions = aws.iam.RolePolicy(
            f"{self._name}-permissions",
            role=role.id,
            policy=policy_document([*own, *args.statements]),
            opts=self._child(),
        )
        return role, permissions

    def _add_function(
        self,
        role: aws.iam.Role,
        permissions: aws.iam.RolePolicy,
        log_group: aws.cloudwatch.LogGroup,
        dead_letters: aws.sqs.Queue,
    ) -> aws.lambda_.Function:
        """The Lambda itself, created once its role holds its permissions."""
        args = self._args
        return aws.lambda_.Function(
            f"{self._name}-function",
            name=args.function_name,
            description=args.description,
            runtime="python3.12",
            architectures=["arm64"],
            handler=args.bundle.handler,
            code=pulumi.AssetArchive(
                {
                    archive_path: pulumi.FileAsset(str(path))
                    for archive_path, path in args.bundle.paths().items()
                }
            ),
            role=role.arn,
            timeout=args.timeout_seconds,
            memory_size=args.memory_mb,
            environment={"variables": dict(args.environment)},
            # Runs Lambda gave up on (async invocation, after its two retries) land here.
            dead_letter_config={"target_arn": dead_letters.arn},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=self._tags,
            region=args.region,
            opts=self._child(depends_on=[permissions]),
        )

    def _add_schedule(self, function: aws.lambda_.Function, dead_letters: aws.sqs.Queue) -> None:
        """The schedule and the role it invokes the function as."""
        args = self._args
        names = args.names()
        invoker = aws.iam.Role(
            f"{self._name}-invoker",
            name=names["scheduler role"],
            description=f"Lets EventBridge Scheduler run {args.function_name}",
            assume_role_policy=service_trust_policy("scheduler.amazonaws.com", args.account_id),
            tags=self._tags,
            opts=self._child(),
        )
        invoke = aws.iam.RolePolicy(
            f"{self._name}-invoker-permissions",
            role=invoker.id,
            policy=policy_document(
                [
                    {
                        "Sid": "InvokeTheFunction",
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": function.arn,
                    },
                    {
                        # Scheduler delivers dead letters as the schedule's execution role
                        # (EventBridge Scheduler user guide, configuring-schedule-dlq).
                        "Sid": "DeadLetters",
                        "Effect": "Allow",
                        "Action": "sqs:SendMessage",
                        "Resource": dead_letters.arn,
                    },
                ]
            ),
            opts=self._child(),
        )
        aws.scheduler.Schedule(
            f"{self._name}-schedule",
            name=names["schedule"],
            group_name=args.schedule_group_name,
            description=args.description,
            schedule_expression=args.schedule_expression,
            schedule_expression_timezone=args.schedule_timezone,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": function.arn,
                "role_arn": invoker.arn,
                "retry_policy": {"maximum_retry_attempts": 2, "maximum_event_age_in_seconds": 3600},
                "dead_letter_config": {"arn": dead_letters.arn},
            },
            region=args.region,
            opts=self._child(depends_on=[invoke, *args.schedule_dependencies]),
        )

    def _add_alarms(
        self, function: aws.lambda_.Function, dead_letters: aws.sqs.Queue
    ) -> list[pulumi.Output[str]]:
        """Lambda's Errors (the function ran and raised) and a non-empty dead-letter queue."""
        args = self._args
        common: dict[str, Any] = {
            "topic_arn": args.alarm_topic_arn,
            "region": args.region,
            "tags": self._tags,
            "opts": self._child(),
        }
        return [
            failure_alarm(
                f"{self._name}-errors",
                alarm_name=f"{args.function_name}-errors",
                description=f"{args.function_name} failed: read its log group",
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions={"FunctionName": function.name},
                **common,
            ).name,
            failure_alarm(
                f"{self._name}-dead-letters-depth",
                alarm_name=f"{args.function_name}-dlq-depth",
                description=f"A run of {args.function_name} was given up on: read its DLQ",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dead_letters.name},
                statistic="Maximum",
                **common,
            ).name,
        ]
