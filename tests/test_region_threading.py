"""Every component sends its `region` to each regional child, and no `region` when given none.

pulumi-aws 7's per-resource `region` is how the DR tiers reach a second region without a second
provider; a child that forgot it would silently land in the primary region.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pytest

from components import (
    BackupJobAlerts,
    BackupJobAlertsArgs,
    BackupPlan,
    BackupPlanArgs,
    BackupRegionSettings,
    BackupRegionSettingsArgs,
    BackupRule,
    BackupVault,
    BackupVaultArgs,
    BucketReplication,
    BucketReplicationArgs,
    NotificationTopic,
    NotificationTopicArgs,
    PostureGuard,
    PostureGuardArgs,
    ReplicaBucket,
    ReplicaBucketArgs,
    ReplicationAlarms,
    ReplicationAlarmsArgs,
    Side,
)
from components.audit_controls import AuditControl
from components.audit_framework import AuditFramework, AuditFrameworkArgs
from components.config_recorder import ConfigRecorder, ConfigRecorderArgs
from components.dashboard import Dashboard, DashboardArgs, MetricLine, Widget
from components.reports_bucket import ReportsBucket, ReportsBucketArgs
from components.restore_testing import RestoreSelection, RestoreTesting, RestoreTestingArgs
from components.restore_validator import (
    RestoreValidator,
    RestoreValidatorArgs,
    ValidatedResource,
)
from formkiq_backup.offline.program import ProgramRun
from formkiq_backup.offline.samples import SampleFormKiQ

Build = Callable[..., ProgramRun]
TOPIC = "arn:aws:sns:us-west-2:111122223333:alerts"
KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# IAM is global: its resources take no region (pulumi-aws enhanced region support).
GLOBAL_TYPES = {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"}
GLOBAL_TYPES |= {"aws:iam/rolePolicyAttachment:RolePolicyAttachment"}


@dataclass(frozen=True)
class Named:
    name: str
    arn: str


def _components(
    sample: SampleFormKiQ,
) -> dict[str, Callable[[str | None], pulumi.ComponentResource]]:
    name = f"formkiq-core-{sample.app_environment}-documents"
    tables = [Named(name, sample.table_arn(name))]
    buckets = [Named(sample.buckets[0], f"arn:aws:s3:::{sample.buckets[0]}")]
    return {
        "NotificationTopic": lambda region: NotificationTopic(
            "alerts",
            NotificationTopicArgs(
                account_id="111122223333",
                partition="aws",
                key_alias="alias/alerts",
                email_addresses=["oncall@example.com"],
                region=region,
            ),
        ),
        "PostureGuard": lambda region: PostureGuard(
            "guard",
            PostureGuardArgs(
                app_environment="prod",
                account_id="111122223333",
                tables=tables,
                buckets=buckets,
                alarm_topic_arn=TOPIC,
                alarm_topic_key_arn=KEY,
                alarm_name_prefix="formkiq-prod",
                function_name="formkiq-prod-posture-guard",
                role_name="formkiq-prod-posture-guard",
                schedule_name="formkiq-prod-posture-guard",
                backup_vault_name="formkiq-prod-backup-vault",
                backed_up=[*tables, *buckets],
                region=region,
            ),
        ),
        "BackupVault": lambda region: BackupVault(
            "vault",
            BackupVaultArgs(
                vault_name="formkiq-prod-backup-vault",
                key_alias="alias/vault",
                account_id="111122223333",
                partition="aws",
                notification_topic_arn=TOPIC,
                region=region,
            ),
        ),
        "BackupPlan": lambda region: BackupPlan(
            "plan",
            BackupPlanArgs(
                plan_name="plan",
                selection_name="protected-data",
                vault_name="formkiq-prod-backup-vault",
                rules=[
                    BackupRule(
                        name="daily_kept_35_days",
                        schedule="cron(0 5 * * ? *)",
                        delete_after_days=35,
                    )
                ],
                resource_arns=[tables[0].arn],
                account_id="111122223333",
                partition="aws",
                region=region,
            ),
        ),
        "BackupRegionSettings": lambda region: BackupRegionSettings(
            "settings", BackupRegionSettingsArgs(region=region)
        ),
        "BackupJobAlerts": lambda region: BackupJobAlerts(
            "alerts",
            BackupJobAlertsArgs(
                topic_arn=TOPIC,
                vault_name="formkiq-prod-backup-vault",
                name_prefix="formkiq-prod",
                region=region,
            ),
        ),
        "ReplicaBucket": lambda region: ReplicaBucket(
            "replica",
            ReplicaBucketArgs(
                bucket_name="formkiq-prod-documents-dr-111122223333-us-west-2",
                key_alias="alias/replica",
                account_id="111122223333",
                partition="aws",
                region=region,
            ),
        ),
        "BucketReplication": lambda region: _replication(buckets[0].name, region),
        "ReplicationAlarms": lambda region: ReplicationAlarms(
            "alarms",
            ReplicationAlarmsArgs(
                side=Side.DESTINATION,
                source_bucket=buckets[0].name,
                destination_bucket="replica",
                rule_id="formkiq-backup-dr",
                topic_arn=TOPIC,
                alarm_name_prefix="formkiq-prod-dr-documents",
                region=region,
            ),
        ),
        "BackupVault with copy roles": lambda region: BackupVault(
            "dr-vault",
            BackupVaultArgs(
                vault_name="formkiq-prod-dr-backup-vault",
                key_alias="alias/dr-vault",
                account_id="111122223333",
                partition="aws",
                copy_role_arns=["arn:aws:iam::111122223333:role/backup"],
                region=region,
            ),
        ),
        "RestoreTesting": lambda region: RestoreTesting(
            "restore-testing",
            RestoreTestingArgs(
                plan_name="formkiq_prod_restore_tests",
                schedule="cron(0 8 1 1,4,7,10 ? *)",
                timezone="UTC",
                vault_arns=["arn:aws:backup:us-west-2:111122223333:backup-vault:v"],
                key_arns=[KEY],
                selections=[RestoreSelection("dynamodb_tables", "DynamoDB", [tables[0].arn])],
                role_name="formkiq-prod-restore-testing",
                account_id="111122223333",
                partition="aws",
                region=region,
            ),
        ),
        "RestoreValidator": lambda region: RestoreValidator(
            "validator",
            RestoreValidatorArgs(
                app_environment="prod",
                plan_arn="arn:aws:backup:us-west-2:111122223333:restore-testing-plan:p",
                resources=[ValidatedResource(tables[0].name, tables[0].arn, "table", "documents")],
                documents_bucket=buckets[0].name,
                sample_size=20,
                function_name="formkiq-prod-restore-validator",
                rule_name="formkiq-prod-restore-test-completed",
                account_id="111122223333",
                partition="aws",
                region_name=region or "us-east-1",
                alarm_topic_arn=TOPIC,
                alarm_name_prefix="formkiq-prod",
                region=region,
            ),
        ),
        "AuditFramework": lambda region: AuditFramework(
            "audit",
            AuditFrameworkArgs(
                framework_name="formkiq_prod_backup_evidence",
                description="what the tier promises",
                controls=[AuditControl("BACKUP_RECOVERY_POINT_ENCRYPTED")],
                report_bucket_name="formkiq-prod-reports-111122223333",
                report_prefix="reports",
                report_plan_prefix="formkiq_prod_backup",
                region=region,
            ),
        ),
        "ReportsBucket": lambda region: ReportsBucket(
            "reports",
            ReportsBucketArgs(
                bucket_name="formkiq-prod-reports-111122223333",
                key_alias="alias/reports",
                account_id="111122223333",
                partition="aws",
                retention_days=2555,
                region=region,
            ),
        ),
        "ConfigRecorder": lambda region: ConfigRecorder(
            "recorder",
            ConfigRecorderArgs(
                recorder_name="formkiq-prod-backup-resources",
                role_name="formkiq-prod-config-recorder",
                bucket_name="formkiq-prod-reports-111122223333",
                bucket_arn="arn:aws:s3:::formkiq-prod-reports-111122223333",
                key_arn=KEY,
                account_id="111122223333",
                partition="aws",
                region=region,
            ),
        ),
        "Dashboard": lambda region: Dashboard(
            "dashboard",
            DashboardArgs(
                dashboard_name="formkiq-prod-backup",
                title="FormKiQ prod",
                region_name=region or "us-east-1",
                account_id="111122223333",
                partition="aws",
                widgets=[Widget("s", "t", [MetricLine("AWS/Backup", "m", {}, "l")])],
                alarms={"us-east-1": ["a"]},
                region=region,
            ),
        ),
    }


def _replication(source: str, region: str | None) -> BucketReplication:
    """Our rule on a source in `region`; the replica's versioning stands in as a parentless
    resource in the same region."""
    versioning = aws.s3.BucketVersioning(
        "replica-versioning",
        bucket="replica",
        versioning_configuration={"status": "Enabled"},
        region=region,
    )
    return BucketReplication(
        "replication",
        BucketReplicationArgs(
            source_bucket=source,
            source_bucket_arn=f"arn:aws:s3:::{source}",
            destination_bucket_arn="arn:aws:s3:::replica",
            destination_region="eu-west-1",
            destination_key_arn=KEY,
            destination_versioning=versioning,
            role_name="formkiq-prod-documents-replication",
            rule_id="formkiq-backup-dr",
            source_region="us-west-2",
            account_id="111122223333",
            partition="aws",
            region=region,
        ),
    )


COMPONENTS = [
    "NotificationTopic",
    "PostureGuard",
    "BackupVault",
    "BackupPlan",
    "BackupRegionSettings",
    "BackupJobAlerts",
    "ReplicaBucket",
    "BucketReplication",
    "ReplicationAlarms",
    "BackupVault with copy roles",
    "RestoreTesting",
    "RestoreValidator",
    "AuditFramework",
    "ReportsBucket",
    "ConfigRecorder",
    "Dashboard",
]


def _children(run: ProgramRun) -> list[tuple[str, str, dict[str, object]]]:
    return [(r.type, r.name, r.inputs) for r in run.resources if r.custom]


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_regional_child_is_created_in_the_components_region(
    build: Build, sample: SampleFormKiQ, component: str
) -> None:
    run = build(lambda: _components(sample)[component]("us-west-2"))

    children = _children(run)
    regional = [(t, name) for t, name, _ in children if t not in GLOBAL_TYPES]
    assert regional, "the component registered no regional resource"
    misplaced = [
        (t, name, inputs.get("region"))
        for t, name, inputs in children
        if t not in GLOBAL_TYPES and inputs.get("region") != "us-west-2"
    ]
    assert misplaced == []
    assert [name for t, name, inputs in children if t in GLOBAL_TYPES and "region" in inputs] == []


@pytest.mark.parametrize("component", COMPONENTS)
def test_no_region_key_is_sent_when_none_is_given(
    build: Build, sample: SampleFormKiQ, component: str
) -> None:
    run = build(lambda: _components(sample)[component](None))

    assert [name for _, name, inputs in _children(run) if "region" in inputs] == []
