"""ScheduledFunction: a Lambda that EventBridge Scheduler runs, with a dead-letter queue and alarms.

Scheduler invokes Lambda asynchronously, so a failed run shows in two places: Scheduler's own
counts (a failed or dropped invocation: the schedule group's alarms) and Lambda's (the
function ran and raised). Both kinds of failure end in the same dead-letter queue: the
schedule's for invocations Scheduler gave up on, the function's for runs Lambda gave up on
after its retries. Errors and a non-empty queue alarm.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    """One scheduled Lambda job and everything that reports its failures."""

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
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        region = args.region
        names = args.names()

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            tags=tags,
            region=region,
            opts=child,
        )
        dead_letters = aws.sqs.Queue(
            f"{name}-dead-letters",
            name=f"{args.function_name}-dlq",
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            region=region,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=names["execution role"],
            description=args.description,
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", args.account_id),
            tags=tags,
            opts=child,
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
            f"{name}-permissions",
            role=role.id,
            policy=policy_document([*own, *args.statements]),
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-function",
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
            tags=tags,
            region=region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permissions]),
        )
        invoker = aws.iam.Role(
            f"{name}-invoker",
            name=names["scheduler role"],
            description=f"Lets EventBridge Scheduler run {args.function_name}",
            assume_role_policy=service_trust_policy("scheduler.amazonaws.com", args.account_id),
            tags=tags,
            opts=child,
        )
        invoke = aws.iam.RolePolicy(
            f"{name}-invoker-permissions",
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
            opts=child,
        )
        aws.scheduler.Schedule(
            f"{name}-schedule",
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
            region=region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[invoke]),
        )
        self.alarm_names = [
            failure_alarm(
                f"{name}-errors",
                alarm_name=f"{args.function_name}-errors",
                description=f"{args.function_name} failed: read its log group",
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions={"FunctionName": function.name},
                topic_arn=args.alarm_topic_arn,
                region=region,
                tags=tags,
                opts=child,
            ).name,
            failure_alarm(
                f"{name}-dead-letters-depth",
                alarm_name=f"{args.function_name}-dlq-depth",
                description=f"A run of {args.function_name} was given up on: read its DLQ",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dead_letters.name},
                statistic="Maximum",
                topic_arn=args.alarm_topic_arn,
                region=region,
                tags=tags,
                opts=child,
            ).name,
        ]
        self.function_name = function.name
        self.function_arn = function.arn
        self.register_outputs({"functionName": function.name})
