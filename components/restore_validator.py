"""RestoreValidator: the Lambda that checks each restore test and reports the verdict.

EventBridge runs it when a restore job of the plan completes: restore job events carry
`detail.status` (backup and copy job events `detail.state`) and `detail.restoreTestingPlanArn`
(aws-backup/latest/devguide/eventbridge.html; restore-testing-validation). The handler is
formkiq_backup/lambdas/restore_validation.py; it ships the backup API model its runtime may lack
(formkiq_backup.lambdas.LambdaBundle). A failed or undecidable validation publishes
RestoreTestValidated 0, whose alarm tells the alert topic; a validator that crashes or cannot be
invoked alarms on its own metrics.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.alarms import failed_invocations_alarm, failure_alarm
from components.dashboard import MetricLine, Widget
from components.lambda_parts import bundle_archive, rule_invokes
from components.policies import policy_document, service_trust_policy
from components.restore_testing import RESTORED_PREFIX
from formkiq_backup import aws_rules
from formkiq_backup.lambdas import RESTORE_VALIDATION
from formkiq_backup.lambdas.restore_validation import (
    APP_ENVIRONMENT_DIMENSION,
    METRIC_NAME,
    RESOURCE_DIMENSION,
)
from formkiq_backup.posture import METRIC_NAMESPACE

# A test runs quarterly: a failed validation keeps its alarm up for a day, then the alarm clears
# (missing data is not a failure), having said so once.
VALIDATION_ALARM_PERIOD_SECONDS = 86_400
# Lambda's longest run; the handler reports TIMED_OUT a minute before it.
TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class ValidatedResource:
    """A protected resource whose restores are checked: its name, ARN and FormKiQ role."""

    name: str
    arn: str
    kind: str
    """"table" or "bucket"."""
    role: str = ""
    """A table's FormKiQ role (documents, documentsyncs)."""


@dataclass(frozen=True)
class RestoreValidatorArgs:
    """Which plan's restores, of which resources, and where the verdicts go."""

    app_environment: str
    plan_arn: pulumi.Input[str]
    resources: Sequence[ValidatedResource]
    documents_bucket: str
    sample_size: int
    function_name: str
    rule_name: str
    account_id: str
    partition: str
    region_name: str
    """The region the copies are restored in (restore jobs restore in the vault's region)."""
    alarm_topic_arn: pulumi.Input[str]
    alarm_name_prefix: str
    memory_mb: int = 1_769
    """1,769 MB is one full vCPU (lambda/latest/dg/configuration-memory.html): the digest is CPU."""
    log_retention_days: int = 90
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = aws_rules.resource_name_problems("lambda function", self.function_name)
        found += aws_rules.resource_name_problems("iam role", f"{self.function_name}-role")
        found += aws_rules.resource_name_problems("event rule", self.rule_name)
        if not self.resources:
            found.append("no resources to validate")
        found += [
            f"resource {r.name}: kind must be table or bucket"
            for r in self.resources
            if r.kind not in ("table", "bucket")
        ]
        if not 1 <= self.sample_size <= 1_000:
            found.append("sample_size must be 1..1000")
        found += aws_rules.alarm_window_problems(VALIDATION_ALARM_PERIOD_SECONDS, 1)
        return found

    def of_kind(self, kind: str) -> list[ValidatedResource]:
        return [resource for resource in self.resources if resource.kind == kind]


class RestoreValidator(pulumi.ComponentResource):
    """The validation Lambda, its trigger, its alarms and its dashboard widget."""

    function_name: pulumi.Output[str]
    alarm_names: list[pulumi.Output[str]]
    widgets: list[Widget]

    def __init__(
        self, name: str, args: RestoreValidatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"RestoreValidator {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:RestoreValidator", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        function = self._function(name, args)
        rule = aws.cloudwatch.EventRule(
            f"{name}-trigger",
            name=args.rule_name,
            description="A restore test of FormKiQ's data completed: validate it",
            event_pattern=pulumi.Output.from_input(args.plan_arn).apply(
                lambda arn: json.dumps(restore_test_completed_pattern(arn))
            ),
            tags=tags,
            region=args.region,
            opts=child,
        )
        rule_invokes(
            f"{name}-trigger", rule=rule, function=function, region=args.region, opts=child
        )
        self.alarm_names = [
            failed_invocations_alarm(
                f"{name}-trigger-delivery",
                alarm_name=f"{args.rule_name}-delivery-failed",
                rule_name=rule.name,
                target=f"the restore validation Lambda {args.function_name}",
                topic_arn=args.alarm_topic_arn,
                tags=tags,
                region=args.region,
                opts=child,
            ).name,
            failure_alarm(
                f"{name}-errors",
                alarm_name=f"{args.function_name}-errors",
                description=(
                    f"{args.function_name} failed and reported nothing: the restore test stays "
                    "unvalidated (TIMED_OUT at the end of its window). Read its log group."
                ),
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions={"FunctionName": function.name},
                topic_arn=args.alarm_topic_arn,
                region=args.region,
                tags=tags,
                opts=child,
            ).name,
            *(
                self._validation_alarm(name, args, resource, child).name
                for resource in args.resources
            ),
        ]
        self.widgets = [
            Widget(
                section="Restore tests",
                title="Restore test validations (1 = passed, 0 = failed)",
                metrics=[
                    MetricLine(
                        METRIC_NAMESPACE,
                        METRIC_NAME,
                        _dimensions(args, resource),
                        resource.name,
                        stat="Minimum",
                    )
                    for resource in args.resources
                ],
                region=args.region,
                period_seconds=VALIDATION_ALARM_PERIOD_SECONDS,
                y_range=(0, 1),
            )
        ]
        self.function_name = function.name
        self.register_outputs({"functionName": function.name})

    def _function(self, name: str, args: RestoreValidatorArgs) -> aws.lambda_.Function:
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            tags=tags,
            region=args.region,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=f"{args.function_name}-role",
            description=f"Validates the restore tests of FormKiQ {args.app_environment}",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", args.account_id),
            tags=tags,
            opts=child,
        )
        permissions = aws.iam.RolePolicy(
            f"{name}-permissions",
            role=role.id,
            policy=policy_document(_permissions(args, log_group.arn)),
            opts=child,
        )
        return aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=f"Validates each restore test of FormKiQ {args.app_environment}",
            runtime="python3.12",
            architectures=["arm64"],
            handler=RESTORE_VALIDATION.handler,
            code=bundle_archive(RESTORE_VALIDATION),
            role=role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=args.memory_mb,
            environment={"variables": _environment(args)},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=tags,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permissions]),
        )

    @staticmethod
    def _validation_alarm(
        name: str,
        args: RestoreValidatorArgs,
        resource: ValidatedResource,
        opts: pulumi.ResourceOptions,
    ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{name}-validation-{resource.name}",
            name=f"{args.alarm_name_prefix}-restore-test-{resource.name}",
            alarm_description=(
                f"The restore test of {resource.name} failed its validation or could not be "
                "validated: the AWS Backup console's restore job shows the validation message "
                f"(FormKiQ {args.app_environment})"
            ),
            namespace=METRIC_NAMESPACE,
            metric_name=METRIC_NAME,
            dimensions=_dimensions(args, resource),
            statistic="Minimum",
            period=VALIDATION_ALARM_PERIOD_SECONDS,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="LessThanThreshold",
            # Tests run on their schedule, so between them there is no data and nothing wrong.
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            tags=dict(args.tags),
            region=args.region,
            opts=opts,
        )


def restore_test_completed_pattern(plan_arn: str) -> dict[str, object]:
    """Completed restore jobs of one restore testing plan."""
    return {
        "source": ["aws.backup"],
        "detail-type": ["Restore Job State Change"],
        "detail": {"status": ["COMPLETED"], "restoreTestingPlanArn": [plan_arn]},
    }


def _dimensions(args: RestoreValidatorArgs, resource: ValidatedResource) -> dict[str, str]:
    return {APP_ENVIRONMENT_DIMENSION: args.app_environment, RESOURCE_DIMENSION: resource.name}


def _environment(args: RestoreValidatorArgs) -> dict[str, pulumi.Input[str]]:
    return {
        "APP_ENVIRONMENT": args.app_environment,
        "PROTECTED_TABLES": json.dumps({t.name: t.role for t in args.of_kind("table")}),
        "PROTECTED_BUCKETS": json.dumps([b.name for b in args.of_kind("bucket")]),
        "DOCUMENTS_BUCKET": args.documents_bucket,
        "RESTORE_TESTING_PLAN_ARN": args.plan_arn,
        "SAMPLE_SIZE": str(args.sample_size),
        "METRIC_NAMESPACE": METRIC_NAMESPACE,
        **RESTORE_VALIDATION.environment(),
    }


def _permissions(
    args: RestoreValidatorArgs, log_group_arn: pulumi.Output[str]
) -> list[dict[str, object]]:
    """Read the sources and the test copies, report, publish; nothing is written or deleted."""
    region = args.region_name
    arn = f"arn:{args.partition}"
    tables = [t.arn for t in args.of_kind("table")]
    restored_tables = f"{arn}:dynamodb:{region}:{args.account_id}:table/{RESTORED_PREFIX}*"
    buckets = [b.arn for b in args.of_kind("bucket")] + [f"{arn}:s3:::{args.documents_bucket}"]
    restored_buckets = f"{arn}:s3:::{RESTORED_PREFIX}*"
    return [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_group_arn.apply(lambda a: f"{a}:*"),
        },
        {
            # Restore jobs and recovery points have no resource-level permission for these
            # reads and the report (service-authorization reference, AWS Backup actions).
            "Sid": "ReadRestoreJobsAndReport",
            "Effect": "Allow",
            "Action": [
                "backup:DescribeRestoreJob",
                "backup:DescribeRecoveryPoint",
                "backup:PutRestoreValidationResult",
            ],
            "Resource": "*",
        },
        {
            "Sid": "ReadSourceAndRestoredTables",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeTable", "dynamodb:Scan"],
            "Resource": [*tables, restored_tables],
        },
        {
            "Sid": "ListSourceAndRestoredBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": [*sorted(set(buckets)), restored_buckets],
        },
        {
            "Sid": "ReadSourceAndRestoredObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [f"{b}/*" for b in sorted(set(buckets))] + [f"{restored_buckets}/*"],
        },
        {
            # GetMetricStatistics takes no resource-level permission.
            "Sid": "ReadTableWrites",
            "Effect": "Allow",
            "Action": "cloudwatch:GetMetricStatistics",
            "Resource": "*",
        },
        {
            "Sid": "PublishValidations",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
        },
    ]
