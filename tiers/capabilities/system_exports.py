"""Standard's system exports: DynamoDB, Cognito users and FormKiQ's stack, on exportSchedule.

The guide's Standard tier is "Basic + manual exports - all system data", kept a year. This
makes them scheduled, encrypted, retained, monitored and checked: an exports bucket of their
own, Scheduler-started DynamoDB exports, two export Lambdas, and a monitor whose alarms fire
when an export fails later or none completed within one schedule period plus slack.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi

from components import (
    ExportMonitor,
    ExportMonitorArgs,
    ExportsBucket,
    ExportsBucketArgs,
    ScheduledFunction,
    ScheduledFunctionArgs,
    TableExports,
    TableExportsArgs,
)
from components.policies import Statement
from formkiq_backup.exports import (
    COGNITO_PREFIX,
    INFRASTRUCTURE_PREFIX,
    ExportExpectations,
    ExportSet,
    TableExpectation,
    exports_bucket_name,
    max_age_days,
)
from formkiq_backup.formkiq import FormKiQEnvironment, parameter_path
from formkiq_backup.lambdas import INFRASTRUCTURE_EXPORT, USERS_EXPORT, LambdaBundle
from tiers.capabilities.base import Alarm, BuildContext, Contribution, Product
from tiers.definitions import Capability
from tiers.scope import ScopeRole


@dataclass(frozen=True)
class _Table:
    name: str
    arn: str
    label: str


@dataclass(frozen=True)
class _Job:
    """An export Lambda: its name suffix, what it does, its code and its own permissions."""

    name: str
    description: str
    bundle: LambdaBundle
    statements: list[Statement]


class SystemExportsBuilder:
    """The exports bucket, the export jobs and their monitor, in the primary region."""

    capability: ClassVar[Capability] = Capability.SYSTEM_EXPORTS
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {
        ScopeRole.PRIMARY: frozenset({"cloudwatch.amazonaws.com"})
    }
    needs: ClassVar[frozenset[Product]] = frozenset()
    makes: ClassVar[frozenset[Product]] = frozenset({Product.EXPORTS_BUCKET})

    def build(self, context: BuildContext) -> Contribution:
        """The bucket first (every job writes into it), then the jobs, then their monitor."""
        environment = context.environment
        tables = [
            _Table(table.name, table.arn, table.role.value)
            for table in environment.protected_tables
        ]
        _warn_about_tables_without_pitr(environment)
        expectations = _expectations(context, tables)
        bucket = self._exports_bucket(context, expectations)
        table_exports = self._table_exports(context, tables, bucket)
        jobs = self._export_jobs(context, bucket, table_exports.group_name)
        monitor = self._export_monitor(context, tables, bucket, table_exports.group_name)
        alarm_names = [
            *table_exports.alarm_names,
            *(name for job in jobs for name in job.alarm_names),
            *monitor.alarm_names,
        ]
        return Contribution(
            outputs={
                "exportsBucket": bucket.bucket_name,
                "exportSchedule": context.settings.export_schedule.expression,
            },
            alarms=[Alarm(ScopeRole.PRIMARY, name) for name in alarm_names],
            widgets=monitor.widgets,
            verify={"exports": expectations.descriptor()},
            products={Product.EXPORTS_BUCKET: bucket},
        )

    @staticmethod
    def _exports_bucket(context: BuildContext, expectations: ExportExpectations) -> ExportsBucket:
        """The bucket, its own key, and `exports.json` saying what the stack promises."""
        scope, settings, environment = context.primary, context.settings, context.environment
        return ExportsBucket(
            scope.naming.resource("exports"),
            ExportsBucketArgs(
                bucket_name=expectations.bucket,
                key_alias=scope.naming.key_alias("exports"),
                account_id=environment.account_id,
                partition=environment.partition,
                retention_days=settings.export_retention_days,
                break_glass_role_arns=settings.break_glass_role_arns,
                descriptor=expectations.descriptor(),
                protect=settings.protect_backups,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )

    @staticmethod
    def _table_exports(
        context: BuildContext, tables: list[_Table], bucket: ExportsBucket
    ) -> TableExports:
        """One Scheduler-started DynamoDB export per table; its group holds every job."""
        scope, settings = context.primary, context.settings
        prefix = scope.naming.prefix
        return TableExports(
            scope.naming.resource("table-exports"),
            TableExportsArgs(
                tables=tables,
                bucket_name=bucket.bucket_name,
                bucket_arn=bucket.bucket_arn,
                key_arn=bucket.key_arn,
                schedule_expression=settings.export_schedule.expression,
                schedule_timezone=settings.schedule_timezone,
                schedule_group_name=f"{prefix}-exports",
                name_prefix=prefix,
                account_id=context.environment.account_id,
                partition=context.environment.partition,
                alarm_topic_arn=scope.alerts.topic_arn,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )

    def _export_jobs(
        self, context: BuildContext, bucket: ExportsBucket, group_name: pulumi.Output[str]
    ) -> list[ScheduledFunction]:
        """The users export (when FormKiQ has a user pool) and the infrastructure export."""
        environment = context.environment
        env = environment.app_environment
        jobs = []
        if environment.user_pool_id:
            jobs.append(
                _Job(
                    "users-export",
                    f"Exports the Cognito users of FormKiQ {env} (passwords are not exportable)",
                    USERS_EXPORT,
                    [
                        *_reads_users(environment),
                        *_writes(bucket.bucket_arn, bucket.key_arn, COGNITO_PREFIX),
                    ],
                )
            )
        jobs.append(
            _Job(
                "infra-export",
                f"Exports the CloudFormation stacks and SSM parameters of FormKiQ {env}",
                INFRASTRUCTURE_EXPORT,
                [
                    *_reads_infrastructure(environment),
                    *_writes(bucket.bucket_arn, bucket.key_arn, INFRASTRUCTURE_PREFIX),
                ],
            )
        )
        return [self._export_job(context, job, bucket, group_name) for job in jobs]

    @staticmethod
    def _export_job(
        context: BuildContext, job: _Job, bucket: ExportsBucket, group_name: pulumi.Output[str]
    ) -> ScheduledFunction:
        """One export Lambda on exportSchedule, in the exports' schedule group."""
        scope, settings, environment = context.primary, context.settings, context.environment
        return ScheduledFunction(
            scope.naming.resource(job.name),
            ScheduledFunctionArgs(
                function_name=f"{scope.naming.prefix}-{job.name}",
                description=job.description,
                bundle=job.bundle,
                statements=job.statements,
                schedule_expression=settings.export_schedule.expression,
                schedule_timezone=settings.schedule_timezone,
                schedule_group_name=group_name,
                environment={
                    "APP_ENVIRONMENT": environment.app_environment,
                    "EXPORTS_BUCKET": bucket.bucket_name,
                    "KMS_KEY_ARN": bucket.key_arn,
                    "USER_POOL_ID": environment.user_pool_id or "",
                },
                account_id=environment.account_id,
                alarm_topic_arn=scope.alerts.topic_arn,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )

    @staticmethod
    def _export_monitor(
        context: BuildContext,
        tables: list[_Table],
        bucket: ExportsBucket,
        group_name: pulumi.Output[str],
    ) -> ExportMonitor:
        """The check every six hours, with one freshness alarm per data set."""
        scope, settings, environment = context.primary, context.settings, context.environment
        prefix = scope.naming.prefix
        export_sets = [f"{ExportSet.DYNAMODB.value}/{t.name}" for t in tables]
        if environment.user_pool_id:
            export_sets.append(ExportSet.COGNITO.value)
        export_sets.append(ExportSet.INFRASTRUCTURE.value)
        return ExportMonitor(
            scope.naming.resource("export-monitor"),
            ExportMonitorArgs(
                app_environment=environment.app_environment,
                export_sets=export_sets,
                table_arns=[t.arn for t in tables],
                bucket_arn=bucket.bucket_arn,
                bucket_name=bucket.bucket_name,
                key_arn=bucket.key_arn,
                function_name=f"{prefix}-export-check",
                schedule_group_name=group_name,
                schedule_timezone=settings.schedule_timezone,
                alarm_name_prefix=prefix,
                descriptor=bucket.descriptor,
                account_id=environment.account_id,
                alarm_topic_arn=scope.alerts.topic_arn,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )


def _warn_about_tables_without_pitr(environment: FormKiQEnvironment) -> None:
    for table in environment.protected_tables:
        if not table.pitr_enabled:
            # ExportTableToPointInTime needs PITR (PointInTimeRecoveryUnavailableException).
            pulumi.log.warn(
                f"{table.name} has PITR off: its scheduled export fails (and alarms) until "
                "PITR is on; the posture guard alarms on it too"
            )


def _expectations(context: BuildContext, tables: list[_Table]) -> ExportExpectations:
    """What the exports promise: written to `exports.json`, read by the monitor and verify."""
    settings, environment = context.settings, context.environment
    return ExportExpectations(
        app_environment=environment.app_environment,
        bucket=exports_bucket_name(environment.app_environment, environment.account_id),
        schedule=settings.export_schedule.expression,
        max_age_days=max_age_days(settings.export_schedule.longest_gap),
        retention_days=settings.export_retention_days,
        tables=tuple(TableExpectation(t.name, t.arn) for t in tables),
        user_pool_id=environment.user_pool_id,
    )


def _writes(
    bucket_arn: pulumi.Output[str], key_arn: pulumi.Output[str], prefix: str
) -> list[Statement]:
    """Write (multipart uploads included) under one prefix, encrypting with the exports key."""
    return [
        {
            "Sid": "WriteOwnPrefix",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": pulumi.Output.concat(bucket_arn, f"/{prefix}*"),
        },
        {
            # A multipart upload to an SSE-KMS bucket needs Decrypt as well as
            # GenerateDataKey (AmazonS3 userguide, mpuoverview: multipart upload permissions).
            "Sid": "EncryptWithExportsKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key_arn,
        },
    ]


def _reads_users(environment: FormKiQEnvironment) -> list[Statement]:
    pool_arn = environment.user_pool_arn or (
        f"arn:{environment.partition}:cognito-idp:{environment.region}:"
        f"{environment.account_id}:userpool/{environment.user_pool_id}"
    )
    return [
        {
            "Sid": "ListUsersAndGroups",
            "Effect": "Allow",
            "Action": [
                "cognito-idp:ListUsers",
                "cognito-idp:ListGroups",
                "cognito-idp:ListUsersInGroup",
            ],
            "Resource": pool_arn,
        }
    ]


def _reads_infrastructure(environment: FormKiQEnvironment) -> list[Statement]:
    arn = f"arn:{environment.partition}"
    where = f"{environment.region}:{environment.account_id}"
    path = parameter_path(environment.app_environment)
    return [
        {
            # Finding the root stack means listing stacks: DescribeStacks without a name
            # takes no resource-level permission.
            "Sid": "FindTheRootStack",
            "Effect": "Allow",
            "Action": "cloudformation:DescribeStacks",
            "Resource": "*",
        },
        {
            "Sid": "ReadStacks",
            "Effect": "Allow",
            "Action": ["cloudformation:GetTemplate", "cloudformation:ListStackResources"],
            "Resource": f"{arn}:cloudformation:{where}:stack/*",
        },
        {
            "Sid": "ReadFormKiQParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParametersByPath",
            "Resource": [
                f"{arn}:ssm:{where}:parameter{path}",
                f"{arn}:ssm:{where}:parameter{path}/*",
            ],
        },
    ]
