"""PostureGuard: a scheduled Lambda that proves PITR and versioning stay on, with alarms.

FormKiQ's CloudFormation stack owns PITR and versioning; taking them over would fight it. So we
watch them instead: a check every few minutes, one metric per check, and alarms that treat
missing data as breaching, so a guard that stops running is an alarm too. Given a backup vault,
it also checks every backed-up resource's newest recovery point there; given replication rules,
that each is still on its source bucket, complete.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pulumi
import pulumi_aws as aws

from components.alarms import failed_invocations_alarm
from components.dashboard import MetricLine, Widget
from components.lambda_parts import bundle_archive, rule_invokes
from components.policies import policy_document, service_trust_policy
from formkiq_backup import aws_rules
from formkiq_backup.lambdas import POSTURE_GUARD
from formkiq_backup.posture import (
    APP_ENVIRONMENT_DIMENSION,
    METRIC_NAMESPACE,
    REQUIRED_PITR_DAYS,
    Check,
    ExpectedReplication,
)


class NamedResource(Protocol):
    """Anything with a name and an ARN: a table or bucket to watch."""

    @property
    def name(self) -> str: ...

    @property
    def arn(self) -> str: ...


@dataclass(frozen=True)
class PostureGuardArgs:
    """What to watch and where to report."""

    app_environment: str
    account_id: str
    tables: Sequence[NamedResource]
    """Tables that must keep PITR on with at least `minimum_pitr_days`."""
    buckets: Sequence[NamedResource]
    """Buckets that must keep versioning Enabled."""
    alarm_topic_arn: pulumi.Input[str]
    alarm_topic_key_arn: pulumi.Input[str]
    alarm_name_prefix: str
    function_name: str
    role_name: str
    schedule_name: str
    """Explicit names: auto-names (logical name + 8 characters) outgrow AWS's 64 characters."""
    backup_vault_name: pulumi.Input[str] | None = None
    """With a vault: alarm per resource when its newest recovery point there is too old."""
    backed_up: Sequence[NamedResource] = ()
    """Resources the backup plan selects, each checked for a fresh recovery point."""
    recovery_point_max_age_hours: int = 26
    copy_vault_name: str | None = None
    """The DR region's vault the plan copies into: alarm per resource when its newest copy
    there is too old (copies that stop, silently, for want of a copy action or a key)."""
    copy_vault_region: str | None = None
    replications: Sequence[ExpectedReplication] = ()
    """Replication rules that must stay on their source buckets, complete (one alarm each)."""
    minimum_pitr_days: int = REQUIRED_PITR_DAYS
    remediate: bool = False
    """Off by default: re-enabling is a change to FormKiQ's own resources, so it is opt-in."""
    check_every_minutes: int = 15
    log_retention_days: int = 90
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = []
        if not 1 <= self.minimum_pitr_days <= aws_rules.MAX_PITR_RECOVERY_PERIOD_DAYS:
            found.append(f"minimum_pitr_days={self.minimum_pitr_days}: DynamoDB keeps 1..35 days")
        if not 1 <= self.check_every_minutes <= 720:
            found.append(f"check_every_minutes={self.check_every_minutes}: must be 1..720")
        found += aws_rules.alarm_window_problems(self.alarm_period_seconds, 1)
        if not self.tables and not self.buckets:
            found.append("nothing to watch: give at least one table or bucket")
        if self.backup_vault_name is not None and not self.backed_up:
            found.append("backup_vault_name is set but backed_up names no resource")
        if self.copy_vault_name is not None and (
            self.backup_vault_name is None or not self.copy_vault_region
        ):
            found.append("copy_vault_name needs backup_vault_name and copy_vault_region")
        if not 1 <= self.recovery_point_max_age_hours <= 8_760:
            found.append(
                f"recovery_point_max_age_hours={self.recovery_point_max_age_hours}: must be 1..8760"
            )
        found += aws_rules.resource_name_problems("lambda function", self.function_name)
        found += aws_rules.resource_name_problems("iam role", self.role_name)
        found += aws_rules.resource_name_problems("event rule", self.schedule_name)
        found += aws_rules.resource_name_problems("log group", self.log_group_name)
        found += [
            problem
            for check, resource in self.watched
            for problem in aws_rules.resource_name_problems(
                "alarm", self.alarm_name(check, resource)
            )
        ]
        return found

    @property
    def log_group_name(self) -> str:
        """Lambda's own log group name for the function, so nothing else creates one."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def watched(self) -> list[tuple[Check, str]]:
        """Every (check, resource) the guard publishes a metric for, one alarm each."""
        found = [(Check.PITR, table.name) for table in self.tables]
        found += [(Check.VERSIONING, bucket.name) for bucket in self.buckets]
        if self.backup_vault_name is not None:
            found += [(Check.RECOVERY_POINT, resource.name) for resource in self.backed_up]
        if self.copy_vault_name is not None:
            found += [(Check.COPY, resource.name) for resource in self.backed_up]
        found += [(Check.REPLICATION, rule.source_bucket) for rule in self.replications]
        return found

    def alarm_name(self, check: Check, resource: str) -> str:
        """One alarm per check and resource."""
        return f"{self.alarm_name_prefix}-{_KINDS[check]}-{resource}"

    @property
    def alarm_period_seconds(self) -> int:
        """Two check intervals: one late run is tolerated, two missing runs alarm."""
        return 2 * self.check_every_minutes * 60


def _dimensions(args: PostureGuardArgs, check: Check, resource: str) -> dict[str, str]:
    """The dimensions of one check's metric: what its alarm and its widget read."""
    return {APP_ENVIRONMENT_DIMENSION: args.app_environment, check.resource_dimension: resource}


_KINDS = {
    Check.PITR: "pitr",
    Check.VERSIONING: "versioning",
    Check.RECOVERY_POINT: "recovery-point",
    Check.COPY: "dr-copy",
    Check.REPLICATION: "replication",
}


class PostureGuard(pulumi.ComponentResource):
    """Scheduled PITR/versioning checks, their metrics, and one alarm per check."""

    function_name: pulumi.Output[str]
    """The guard Lambda; invoke it to check on demand."""
    alarm_names: list[pulumi.Output[str]]
    """One alarm per protected table (PITR), bucket (versioning) and, with a vault, per
    backed-up resource (recovery point age)."""
    widgets: list[Widget]
    """One widget per check, each resource's metric as its alarm judges it."""

    def __init__(
        self, name: str, args: PostureGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"PostureGuard {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:PostureGuard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            tags=tags,
            region=args.region,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"FormKiQ backup posture guard ({args.app_environment})",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", args.account_id),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-permissions",
            role=role.id,
            policy=policy_document(self._permissions(args, log_group.arn)),
            opts=child,
        )
        variables: dict[str, pulumi.Input[str]] = {
            "APP_ENVIRONMENT": args.app_environment,
            "PROTECTED_TABLES": json.dumps([table.name for table in args.tables]),
            "PROTECTED_BUCKETS": json.dumps([bucket.name for bucket in args.buckets]),
            "MINIMUM_PITR_DAYS": str(args.minimum_pitr_days),
            "REMEDIATE": "true" if args.remediate else "false",
            "METRIC_NAMESPACE": METRIC_NAMESPACE,
            "ALARM_TOPIC_ARN": args.alarm_topic_arn,
        }
        if args.backup_vault_name is not None:
            variables["BACKUP_VAULT_NAME"] = args.backup_vault_name
            variables["BACKED_UP_RESOURCES"] = json.dumps({r.name: r.arn for r in args.backed_up})
            variables["RECOVERY_POINT_MAX_AGE_HOURS"] = str(args.recovery_point_max_age_hours)
        if args.copy_vault_name is not None and args.copy_vault_region:
            variables["COPY_VAULT_NAME"] = args.copy_vault_name
            variables["COPY_VAULT_REGION"] = args.copy_vault_region
        if args.replications:
            variables["REPLICATION_RULES"] = json.dumps(
                [rule.as_json() for rule in args.replications]
            )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=f"Checks PITR and versioning of FormKiQ {args.app_environment}",
            runtime="python3.12",
            architectures=["arm64"],
            handler=POSTURE_GUARD.handler,
            code=bundle_archive(POSTURE_GUARD),
            role=role.arn,
            timeout=60,
            memory_size=256,
            environment={"variables": variables},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=tags,
            region=args.region,
            opts=child,
        )
        schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=args.schedule_name,
            description="Runs the FormKiQ backup posture guard",
            schedule_expression=f"rate({args.check_every_minutes} minutes)",
            tags=tags,
            region=args.region,
            opts=child,
        )
        rule_invokes(
            f"{name}-schedule", rule=schedule, function=function, region=args.region, opts=child
        )

        # A schedule that cannot invoke the guard also shows as missing data on every alarm
        # below; this one names the cause.
        delivery = failed_invocations_alarm(
            f"{name}-schedule-delivery",
            alarm_name=f"{args.schedule_name}-delivery-failed",
            rule_name=schedule.name,
            target=f"the posture guard Lambda {args.function_name}",
            topic_arn=args.alarm_topic_arn,
            tags=tags,
            region=args.region,
            opts=child,
        )
        self.alarm_names = [delivery.name] + [
            self._alarm(name, args, check, resource, child).name for check, resource in args.watched
        ]
        self.widgets = self._widgets(args)
        self.function_name = function.name
        self.register_outputs({"functionName": function.name})

    @staticmethod
    def _widgets(args: PostureGuardArgs) -> list[Widget]:
        titles = {
            Check.PITR: f"PITR on, >= {args.minimum_pitr_days} days (1 = yes)",
            Check.VERSIONING: "Versioning Enabled (1 = yes)",
            Check.RECOVERY_POINT: (
                f"Recovery point younger than {args.recovery_point_max_age_hours} h (1 = yes)"
            ),
            Check.COPY: (
                f"Copy in the DR vault younger than {args.recovery_point_max_age_hours} h (1 = yes)"
            ),
            Check.REPLICATION: "Our replication rule on the bucket, complete (1 = yes)",
        }
        by_check: dict[Check, list[MetricLine]] = {}
        for check, resource in args.watched:
            by_check.setdefault(check, []).append(
                MetricLine(
                    METRIC_NAMESPACE,
                    check.value,
                    _dimensions(args, check, resource),
                    resource,
                    stat="Minimum",
                )
            )
        return [
            Widget(
                section="Posture checks",
                title=titles[check],
                metrics=lines,
                region=args.region,
                period_seconds=args.alarm_period_seconds,
                y_range=(0, 1),
            )
            for check, lines in by_check.items()
        ]

    @staticmethod
    def _permissions(
        args: PostureGuardArgs, log_group_arn: pulumi.Output[str]
    ) -> list[dict[str, object]]:
        """Read-only unless remediation is on; writes only to its own metric namespace."""
        table_actions = ["dynamodb:DescribeContinuousBackups"]
        bucket_actions = ["s3:GetBucketVersioning"]
        if args.remediate:
            table_actions.append("dynamodb:UpdateContinuousBackups")
            bucket_actions.append("s3:PutBucketVersioning")
        statements: list[dict[str, object]] = [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": log_group_arn.apply(lambda arn: f"{arn}:*"),
            },
            {
                "Sid": "PublishPostureMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
            },
            {
                "Sid": "NotifyAlarmTopic",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": args.alarm_topic_arn,
            },
            {
                # A publisher to an encrypted topic needs both on its key (SNS developer guide,
                # sns-key-management, "Allow a user to send messages to a topic with SSE"); the
                # key policy's account statement lets this IAM policy grant them.
                "Sid": "EncryptForAlarmTopic",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": args.alarm_topic_key_arn,
            },
        ]
        if args.tables:
            statements.append(
                {
                    "Sid": "CheckTablePitr",
                    "Effect": "Allow",
                    "Action": table_actions,
                    "Resource": [table.arn for table in args.tables],
                }
            )
        if args.buckets:
            statements.append(
                {
                    "Sid": "CheckBucketVersioning",
                    "Effect": "Allow",
                    "Action": bucket_actions,
                    "Resource": [bucket.arn for bucket in args.buckets],
                }
            )
        if args.backup_vault_name is not None:
            # Metadata of recovery points only (newest per vault); granted on "*", which every
            # action accepts (service-authorization/latest/reference/list_awsbackup.html).
            statements.append(
                {
                    "Sid": "ReadRecoveryPoints",
                    "Effect": "Allow",
                    "Action": "backup:ListRecoveryPointsByResource",
                    "Resource": "*",
                }
            )
        if args.replications:
            # Reading the configuration only: the guard never puts one (it would replace the
            # bucket's whole replication document).
            statements.append(
                {
                    "Sid": "ReadReplicationConfiguration",
                    "Effect": "Allow",
                    "Action": "s3:GetReplicationConfiguration",
                    "Resource": sorted({rule.source_bucket_arn for rule in args.replications}),
                }
            )
        return statements

    @staticmethod
    def _alarm(
        name: str, args: PostureGuardArgs, check: Check, resource: str, opts: pulumi.ResourceOptions
    ) -> aws.cloudwatch.MetricAlarm:
        what = {
            Check.PITR: f"PITR (>= {args.minimum_pitr_days} days) is off on {resource}",
            Check.VERSIONING: f"versioning is off on {resource}",
            Check.RECOVERY_POINT: (
                f"{resource} has no completed recovery point younger than "
                f"{args.recovery_point_max_age_hours} h in the vault"
            ),
            Check.COPY: (
                f"{resource} has no completed copy younger than "
                f"{args.recovery_point_max_age_hours} h in the DR vault {args.copy_vault_name}"
            ),
            Check.REPLICATION: (
                f"the DR replication rule on {resource} is missing or incomplete (a FormKiQ "
                "update can replace the bucket's replication configuration)"
            ),
        }[check]
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{_KINDS[check]}-{resource}",
            name=args.alarm_name(check, resource),
            alarm_description=(
                f"{what}, or the posture guard stopped reporting (FormKiQ {args.app_environment})"
            ),
            namespace=METRIC_NAMESPACE,
            metric_name=check.value,
            dimensions=_dimensions(args, check, resource),
            statistic="Minimum",
            period=args.alarm_period_seconds,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            tags=dict(args.tags),
            region=args.region,
            opts=opts,
        )
