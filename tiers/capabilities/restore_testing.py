"""Restore testing: AWS Backup restores the protected data on schedule, a Lambda checks it.

The guide's checklist tests recovery quarterly ("restore a table to a point in time, verify
data integrity"; "recover a document, verify file integrity"). AWS Backup restores the newest
recovery point of each protected table and of the documents bucket from the vault, the
validator compares each copy with its source (the checks `formkiq-dr drill` makes) and reports
SUCCESSFUL or FAILED on the restore job; a failure alarms.
"""

from collections.abc import Mapping
from typing import ClassVar

from components import BackupVault
from components import audit_controls as controls
from components.restore_testing import RestoreSelection, RestoreTesting, RestoreTestingArgs
from components.restore_validator import (
    RestoreValidator,
    RestoreValidatorArgs,
    ValidatedResource,
)
from formkiq_backup.formkiq import FormKiQEnvironment
from tiers.capabilities.base import Alarm, BuildContext, Contribution, Product
from tiers.definitions import Capability, DataClass, TierSpec
from tiers.scope import ScopeRole

# Which data class a restored resource type carries: the RTO its restore is held to.
_RESTORED_DATA = {"DynamoDB": DataClass.DOCUMENT_METADATA, "S3": DataClass.DOCUMENT_CONTENT}


class RestoreTestingBuilder:
    """A restore testing plan over the primary vault, and the validator of its restores."""

    capability: ClassVar[Capability] = Capability.RESTORE_TESTING
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY})
    # A failed validation reaches the topic through its alarm.
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {
        ScopeRole.PRIMARY: frozenset({"cloudwatch.amazonaws.com"})
    }
    needs: ClassVar[frozenset[Product]] = frozenset({Product.PRIMARY_VAULT})
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        scope = context.primary
        naming = scope.naming
        environment = context.environment
        wanted = context.settings.restore_testing
        vault = context.product(Product.PRIMARY_VAULT, BackupVault)
        selections = restore_selections(environment, wanted.validation_window_hours)
        testing = RestoreTesting(
            naming.resource("restore-testing"),
            RestoreTestingArgs(
                plan_name=naming.underscored("restore_tests"),
                schedule=wanted.schedule.expression,
                timezone=context.settings.schedule_timezone,
                vault_arns=[vault.vault_arn],
                key_arns=[vault.key_arn],
                selections=selections,
                role_name=naming.role("restore-testing"),
                account_id=environment.account_id,
                partition=environment.partition,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        validator = RestoreValidator(
            naming.resource("restore-validator"),
            RestoreValidatorArgs(
                app_environment=environment.app_environment,
                plan_arn=testing.plan_arn,
                resources=[
                    *(
                        ValidatedResource(t.name, t.arn, "table", t.role.value)
                        for t in environment.protected_tables
                    ),
                    *(
                        ValidatedResource(b.name, b.arn, "bucket")
                        for b in environment.protected_buckets
                    ),
                ],
                documents_bucket=environment.documents_bucket.name,
                sample_size=wanted.sample_size,
                function_name=naming.function("restore-validator"),
                rule_name=naming.event_rule("restore-test-completed"),
                account_id=environment.account_id,
                partition=environment.partition,
                region_name=scope.where.region_name,
                alarm_topic_arn=scope.alerts.topic_arn,
                alarm_name_prefix=naming.prefix,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        types = [selection.resource_type for selection in selections]
        return Contribution(
            outputs={"restoreTestingPlanArn": testing.plan_arn},
            alarms=[Alarm(ScopeRole.PRIMARY, name) for name in validator.alarm_names],
            widgets=validator.widgets,
            audit_controls=[
                controls.restore_time_meets_target(rto_minutes(context.spec, types), types)
            ],
        )


def restore_selections(
    environment: FormKiQEnvironment, validation_window_hours: int
) -> list[RestoreSelection]:
    """One selection per resource type: the protected tables, the documents bucket.

    No restore metadata is overridden: restore testing infers a new `awsbackup-restore-test-`
    table with default encryption and a new bucket (restore-testing-inferred-metadata), which
    is what FormKiQ Core's tables and SSE-S3 documents bucket restore to.
    """
    found = []
    if environment.protected_tables:
        found.append(
            RestoreSelection(
                "dynamodb_tables",
                "DynamoDB",
                [table.arn for table in environment.protected_tables],
                validation_window_hours,
            )
        )
    if environment.protected_buckets:
        found.append(
            RestoreSelection(
                "s3_documents",
                "S3",
                [bucket.arn for bucket in environment.protected_buckets],
                validation_window_hours,
            )
        )
    return found


def rto_minutes(spec: TierSpec, resource_types: list[str]) -> int:
    """The longest RTO the tier promises for the data restore testing restores.

    Backup Audit Manager's restore time control evaluates restore testing jobs ("Evaluates if
    restore testing job completed within target restore time", choosing-controls.html); one
    control per framework takes one target, so the longest of the restored data's RTOs.
    """
    targets = [
        objective.rto_minutes[1]
        for kind in resource_types
        if (objective := spec.recovery_objectives.get(_RESTORED_DATA[kind])) is not None
        and objective.rto_minutes is not None
    ]
    return max(targets)
