"""Restore testing, audit evidence and the dashboard, as AWS would receive them.

Enhanced and enterprise cannot be built whole until their cross-region capabilities land, so
each is built through build_tier with every capability this release has (as a stack of that
tier would build them); the requests are those such a stack sends. Runs are module-scoped.
"""

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

import pulumi
import pytest

from components.audit_controls import (
    AuditControl,
    control_problems,
    framework_problems,
    manual_deletion_disabled,
    protected_by_vault_lock,
    protected_cross_region,
)
from components.audit_framework import AuditFramework, AuditFrameworkArgs
from components.dashboard import MetricLine, Widget
from components.restore_testing import RestoreSelection, RestoreTesting, RestoreTestingArgs
from formkiq_backup.config import ConfigError, parse_settings
from formkiq_backup.discovery import PulumiInvokeReader, discover
from formkiq_backup.offline.program import ProgramRun, run_offline
from formkiq_backup.offline.samples import sample_formkiq
from tiers.builder import build_tier
from tiers.capabilities import BUILDABLE, GATHERERS, REGISTRY, BuildContext, Contribution, Product
from tiers.definitions import TIERS, Capability
from tiers.scope import ScopeRole

ACCOUNT = "111122223333"
DR_REGION = "us-west-2"
BREAK_GLASS = [f"arn:aws:iam::{ACCOUNT}:role/BreakGlass", f"arn:aws:iam::{ACCOUNT}:role/Audit"]
TABLES = ["formkiq-core-prod-documents", "formkiq-core-prod-documentsyncs"]
BUCKET = f"formkiq-core-prod-documents-{ACCOUNT}"


def tier_run(
    tier: str,
    registry: Mapping[Capability, Any] = REGISTRY,
    raise_errors: bool = True,
    **raw: str,
) -> ProgramRun:
    """A stack of `tier` as far as this release builds it: every registered capability."""
    settings = parse_settings(
        {"tier": tier, "appEnvironment": "prod", "drRegion": DR_REGION, **raw}, "us-east-1"
    )
    spec = TIERS[settings.tier]
    spec = replace(spec, capabilities=spec.capabilities & frozenset(registry))

    def body() -> None:
        deployment = build_tier(spec, settings, discover(PulumiInvokeReader(), "prod"), registry)
        for key, value in deployment.outputs().items():
            pulumi.export(key, value)

    return run_offline(body, sample=sample_formkiq(), raise_errors=raise_errors)


@pytest.fixture(scope="module")
def enterprise() -> ProgramRun:
    return tier_run(
        "enterprise",
        dailyRetentionDays="40",
        monthlyRetentionDays="400",
        backupSchedule="cron(0 5,17 * * ? *)",
        breakGlassRoleArns=json.dumps(BREAK_GLASS),
        audit='{"configRecorder": true, "reportRetentionDays": 3650}',
        restoreTesting='{"schedule": "cron(30 7 15 * ? *)", "validationWindowHours": 48}',
    )


@pytest.fixture(scope="module")
def enhanced() -> ProgramRun:
    return tier_run("enhanced")


def controls(run: ProgramRun) -> dict[str, dict[str, Any]]:
    framework = run.one("aws:backup/framework:Framework").inputs
    return {
        control["name"]: {
            "parameters": {p["name"]: p["value"] for p in control.get("inputParameters", [])},
            "scope": control.get("scope", {}),
        }
        for control in framework["controls"]
    }


def policy(run: ProgramRun, name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(run.named(name).inputs["policy"])["Statement"]
    return statements


# --- restore testing ---------------------------------------------------------------------------


def test_the_restore_testing_plan_restores_the_newest_point_of_the_vault_on_the_configured_schedule(
    enterprise: ProgramRun,
) -> None:
    plan = enterprise.one("aws:backup/restoreTestingPlan:RestoreTestingPlan").inputs
    vault = enterprise.named("formkiq-prod-backup-vault-vault")

    assert plan["name"] == "formkiq_prod_restore_tests"
    assert (plan["scheduleExpression"], plan["scheduleExpressionTimezone"]) == (
        "cron(30 7 15 * ? *)",
        "UTC",
    )
    assert plan["recoveryPointSelection"] == {
        "algorithm": "LATEST_WITHIN_WINDOW",
        "includeVaults": [vault.state["arn"]],
        "recoveryPointTypes": ["SNAPSHOT"],
        "selectionWindowDays": 7,
    }
    assert plan["startWindowHours"] == 24


def test_restore_testing_selects_the_protected_tables_and_the_documents_bucket(
    enterprise: ProgramRun,
) -> None:
    selections = {
        s.inputs["name"]: s.inputs
        for s in enterprise.of_type("aws:backup/restoreTestingSelection:RestoreTestingSelection")
    }
    role = enterprise.named("formkiq-prod-restore-testing-role")

    assert set(selections) == {"dynamodb_tables", "s3_documents"}
    tables, bucket = selections["dynamodb_tables"], selections["s3_documents"]
    assert tables["protectedResourceType"] == "DynamoDB"
    assert [arn.rsplit("/", 1)[-1] for arn in tables["protectedResourceArns"]] == TABLES
    assert (bucket["protectedResourceType"], bucket["protectedResourceArns"]) == (
        "S3",
        [f"arn:aws:s3:::{BUCKET}"],
    )
    for selection in selections.values():
        assert selection["restoreTestingPlanName"] == "formkiq_prod_restore_tests"
        assert selection["validationWindowHours"] == 48
        assert selection["iamRoleArn"] == role.state["arn"]
        # Restore testing infers a new awsbackup-restore-test- table or bucket: nothing to
        # override for FormKiQ Core (restore-testing-inferred-metadata).
        assert "restoreMetadataOverrides" not in selection


def test_the_restore_role_is_the_guides_restore_testing_role_and_no_more(
    enterprise: ProgramRun,
) -> None:
    attached = sorted(
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in enterprise.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("formkiq-prod-restore-testing-role-")
    )
    statements = {
        s["Sid"]: s for s in policy(enterprise, "formkiq-prod-restore-testing-role-permissions")
    }
    vault_key = enterprise.named("formkiq-prod-backup-vault-key").state["arn"]
    trust = json.loads(
        enterprise.named("formkiq-prod-restore-testing-role").inputs["assumeRolePolicy"]
    )

    assert attached == [
        "AWSBackupServiceRolePolicyForRestores",
        "AWSBackupServiceRolePolicyForS3Restore",
    ]
    assert statements["CreateTestBuckets"]["Action"] == "s3:CreateBucket"
    assert statements["CreateTestBuckets"]["Resource"] == "arn:aws:s3:::awsbackup-restore-test-*"
    assert statements["DecryptRecoveryPoints"]["Resource"] == [vault_key]
    assert statements["GrantForRestoredResources"]["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"}
    }
    assert trust["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}


def test_a_completed_restore_test_of_this_plan_runs_the_validator(enterprise: ProgramRun) -> None:
    rule = enterprise.named("formkiq-prod-restore-validator-trigger").inputs
    plan_arn = enterprise.outputs["restoreTestingPlanArn"]
    function = enterprise.named("formkiq-prod-restore-validator-function").inputs
    target = enterprise.named("formkiq-prod-restore-validator-trigger-target").inputs

    # Restore job events carry detail.status, not detail.state (RULES: eventbridge.html).
    assert json.loads(rule["eventPattern"]) == {
        "source": ["aws.backup"],
        "detail-type": ["Restore Job State Change"],
        "detail": {"status": ["COMPLETED"], "restoreTestingPlanArn": [plan_arn]},
    }
    assert target["arn"] == enterprise.named("formkiq-prod-restore-validator-function").state["arn"]
    variables = function["environment"]["variables"]
    assert variables["AWS_DATA_PATH"] == "/var/task/botocore_models"
    assert json.loads(variables["PROTECTED_TABLES"]) == {
        TABLES[0]: "documents",
        TABLES[1]: "documentsyncs",
    }
    assert function["timeout"] == 900


def test_the_validator_reads_sources_and_test_copies_only_and_writes_nothing(
    enterprise: ProgramRun,
) -> None:
    statements = {
        s["Sid"]: s for s in policy(enterprise, "formkiq-prod-restore-validator-permissions")
    }
    actions = [
        a
        for s in statements.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]

    assert statements["ReadSourceAndRestoredTables"]["Resource"][-1] == (
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/awsbackup-restore-test-*"
    )
    assert (
        "arn:aws:s3:::awsbackup-restore-test-*"
        in statements["ListSourceAndRestoredBuckets"]["Resource"]
    )
    writes = ("Put", "Delete", "Update", "Create", "Restore", "Start")
    written = sorted(a for a in actions if a.split(":")[1].startswith(writes))
    # Its own log lines, the verdict and its metric: nothing of FormKiQ's or of the copies.
    assert written == [
        "backup:PutRestoreValidationResult",
        "cloudwatch:PutMetricData",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]


def test_a_failed_validation_alarms_per_resource_through_the_alert_topic(
    enterprise: ProgramRun,
) -> None:
    topic = enterprise.outputs["alarmTopicArn"]
    alarms = [
        a.inputs
        for a in enterprise.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs.get("metricName") == "RestoreTestValidated"
    ]
    policy_services = {
        service
        for statement in policy(enterprise, "formkiq-prod-alerts-topic-policy")
        if statement["Effect"] == "Allow"
        for service in statement["Principal"]["Service"]
    }

    assert sorted(a["dimensions"]["ResourceName"] for a in alarms) == sorted([*TABLES, BUCKET])
    for alarm in alarms:
        assert (alarm["statistic"], alarm["threshold"], alarm["comparisonOperator"]) == (
            "Minimum",
            1,
            "LessThanThreshold",
        )
        assert alarm["alarmActions"] == [topic]
        assert alarm["treatMissingData"] == "notBreaching"
    assert "cloudwatch.amazonaws.com" in policy_services


def test_restore_testing_switched_off_builds_no_plan_and_no_validator() -> None:
    run = tier_run("enhanced", restoreTesting='{"enabled": false}')

    assert run.of_type("aws:backup/restoreTestingPlan:RestoreTestingPlan") == []
    assert [r for r in run.resources if "restore-validator" in r.name] == []
    assert "restoreTestingPlanArn" not in run.outputs


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"plan_name": "formkiq-prod-restore-tests"},
            "must be 1..50 letters, digits or underscores",
        ),
        ({"plan_name": "a" * 51}, "must be 1..50 letters, digits or underscores"),
        ({"selection": {"name": "dynamodb-tables"}}, "(no '-' or '.')"),
        ({"selection": {"validation_window_hours": 0}}, "must be 1..168 hours"),
        ({"selection": {"validation_window_hours": 169}}, "must be 1..168 hours"),
        ({"selection": {"metadata_overrides": {"targetTableName": "x"}}}, "cannot be overridden"),
        ({"selection": {"resource_type": "DocumentDb"}}, "is not a type restore testing takes"),
    ],
)
def test_restore_testing_refuses_what_aws_would_before_anything_is_registered(
    change: dict[str, Any], expected: str
) -> None:
    selection = RestoreSelection(
        **{
            "name": "dynamodb_tables",
            "resource_type": "DynamoDB",
            "resource_arns": ["arn:aws:dynamodb:us-east-1:111122223333:table/t"],
            **change.get("selection", {}),
        }
    )
    args = RestoreTestingArgs(
        plan_name=change.get("plan_name", "formkiq_prod_restore_tests"),
        schedule="cron(0 8 1 1,4,7,10 ? *)",
        timezone="UTC",
        vault_arns=["arn:aws:backup:us-east-1:111122223333:backup-vault:v"],
        key_arns=["arn:aws:kms:us-east-1:111122223333:key/k"],
        selections=[selection],
        role_name="formkiq-prod-restore-testing",
        account_id=ACCOUNT,
        partition="aws",
    )

    run = run_offline(
        lambda: RestoreTesting("rt", args), sample=sample_formkiq(), raise_errors=False
    )

    assert isinstance(run.error, ValueError)
    assert expected in str(run.error)
    assert run.resources == []


# --- audit -------------------------------------------------------------------------------------


def test_the_audit_controls_are_what_the_tier_promises_with_the_stacks_settings(
    enterprise: ProgramRun,
) -> None:
    found = controls(enterprise)
    ours = {"tags": {"FormKiQAppEnvironment": "prod"}}
    types = {"complianceResourceTypes": ["DynamoDB", "S3"]}

    assert found == {
        "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN": {"parameters": {}, "scope": types},
        # Twice a day: the control asks for a backup every 12 hours, what the plan delivers.
        "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK": {
            "parameters": {
                "requiredFrequencyUnit": "hours",
                "requiredFrequencyValue": "12",
                "requiredRetentionDays": "40",
            },
            "scope": ours,
        },
        "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK": {
            "parameters": {"requiredRetentionDays": "40"},
            "scope": types,
        },
        "BACKUP_RECOVERY_POINT_ENCRYPTED": {"parameters": {}, "scope": types},
        "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED": {
            "parameters": {"principalArnList": ",".join(BREAK_GLASS)},
            "scope": ours,
        },
        "BACKUP_LAST_RECOVERY_POINT_CREATED": {
            "parameters": {"recoveryPointAgeUnit": "hours", "recoveryPointAgeValue": "26"},
            "scope": types,
        },
        # The longest RTO of what restore tests restore: document content, 60 minutes.
        "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET": {
            "parameters": {"maxRestoreTime": "60"},
            "scope": types,
        },
        # The vault lock's own bounds: 7 days up to the yearly rule's seven years.
        "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK": {
            "parameters": {"maxRetentionDays": "2555", "minRetentionDays": "7"},
            "scope": types,
        },
        # Only the bucket's points are copied air-gapped (airGappedVault.copyTables false).
        "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT": {
            "parameters": {"recoveryPointAgeUnit": "hours", "recoveryPointAgeValue": "26"},
            "scope": {"complianceResourceTypes": ["S3"]},
        },
    }


def test_the_controls_follow_the_config_not_constants() -> None:
    """Change dailyRetentionDays (or the schedule) and the controls change with it."""
    run = tier_run(
        "enhanced",
        audit='{"enabled": true}',
        dailyRetentionDays="90",
        backupSchedule="cron(0 */6 * * ? *)",
    )
    found = controls(run)

    assert found["BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"]["parameters"] == {
        "requiredFrequencyUnit": "hours",
        "requiredFrequencyValue": "6",
        "requiredRetentionDays": "90",
    }
    assert found["BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK"]["parameters"] == {
        "requiredRetentionDays": "90"
    }
    # Enhanced's document metadata is restored from the vault within 8 hours at worst.
    assert found["RESTORE_TIME_FOR_RESOURCES_MEET_TARGET"]["parameters"] == {
        "maxRestoreTime": "480"
    }
    # No break-glass role: nobody may delete, so the control lists no exception.
    assert found["BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED"]["parameters"] == {}


def test_enhanced_audits_only_when_audit_is_enabled(enhanced: ProgramRun) -> None:
    assert enhanced.of_type("aws:backup/framework:Framework") == []
    assert "auditFrameworkArn" not in enhanced.outputs
    assert enhanced.of_type("aws:cfg/recorder:Recorder") == []


def test_report_plans_deliver_job_and_compliance_reports_to_the_reports_bucket(
    enterprise: ProgramRun,
) -> None:
    plans = {
        p.inputs["reportSetting"]["reportTemplate"]: p.inputs
        for p in enterprise.of_type("aws:backup/reportPlan:ReportPlan")
    }
    framework_arn = enterprise.outputs["auditFrameworkArn"]

    assert set(plans) == {
        "BACKUP_JOB_REPORT",
        "COPY_JOB_REPORT",
        "RESTORE_JOB_REPORT",
        "CONTROL_COMPLIANCE_REPORT",
    }
    assert plans["CONTROL_COMPLIANCE_REPORT"]["reportSetting"]["frameworkArns"] == [framework_arn]
    for plan in plans.values():
        assert plan["reportDeliveryChannel"] == {
            "s3BucketName": enterprise.outputs["reportsBucket"],
            "s3KeyPrefix": "reports",
            "formats": ["CSV", "JSON"],
        }
    assert enterprise.outputs["reportsBucket"] == f"formkiq-prod-reports-{ACCOUNT}"


def test_the_reports_bucket_has_the_exports_buckets_security_and_lets_backup_reports_write(
    enterprise: ProgramRun,
) -> None:
    reports_role = (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/reports.backup.amazonaws.com/"
        "AWSServiceRoleForBackupReports"
    )
    bucket = {s["Sid"]: s for s in policy(enterprise, "formkiq-prod-audit-reports-policy")}
    key = {s["Sid"]: s for s in policy(enterprise, "formkiq-prod-audit-reports-key")}
    encryption = enterprise.named("formkiq-prod-audit-reports-encryption").inputs["rules"][0]
    lifecycle = enterprise.named("formkiq-prod-audit-reports-lifecycle").inputs["rules"]

    delivery = bucket["BackupReportsDelivery"]
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert delivery["Condition"]["ArnEquals"] == {"aws:PrincipalArn": reports_role}
    assert delivery["Condition"]["StringEquals"]["aws:PrincipalAccount"] == ACCOUNT
    assert key["BackupReportsEncrypt"]["Action"] == ["kms:GenerateDataKey", "kms:Encrypt"]
    assert key["BackupReportsEncrypt"]["Condition"]["ArnEquals"] == {
        "aws:PrincipalArn": reports_role
    }
    assert bucket["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert bucket["OnlyBreakGlassDeletesVersions"]["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": sorted(BREAK_GLASS)}
    }
    assert encryption["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert encryption["bucketKeyEnabled"] is True
    assert [(r["filter"]["prefix"], r.get("expiration", {}).get("days")) for r in lifecycle] == [
        ("reports/", 3650),
        ("config/", 3650),
        ("", None),
    ]
    for name in ("bucket", "key", "policy", "encryption", "versioning", "lifecycle"):
        resource = enterprise.named(f"formkiq-prod-audit-reports-{name}")
        assert (resource.protect, resource.retain_on_delete) == (True, True), name
    access = enterprise.named("formkiq-prod-audit-reports-public-access-block").inputs
    assert all(
        access[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )


def test_a_config_recorder_of_the_backup_types_is_made_only_when_asked(
    enterprise: ProgramRun,
) -> None:
    recorder = enterprise.one("aws:cfg/recorder:Recorder").inputs
    channel = enterprise.one("aws:cfg/deliveryChannel:DeliveryChannel").inputs

    assert recorder["recordingGroup"] == {
        "allSupported": False,
        "includeGlobalResourceTypes": False,
        "resourceTypes": [
            "AWS::Backup::BackupPlan",
            "AWS::Backup::BackupSelection",
            "AWS::Backup::BackupVault",
            "AWS::Backup::RecoveryPoint",
            "AWS::Config::ResourceCompliance",
        ],
        "recordingStrategies": [{"useOnly": "INCLUSION_BY_RESOURCE_TYPES"}],
    }
    assert (channel["s3BucketName"], channel["s3KeyPrefix"]) == (
        enterprise.outputs["reportsBucket"],
        "config",
    )
    assert enterprise.one("aws:cfg/recorderStatus:RecorderStatus").inputs["isEnabled"] is True


def test_more_break_glass_roles_than_the_control_exempts_are_refused_where_the_tier_audits() -> (
    None
):
    six = json.dumps([f"arn:aws:iam::{ACCOUNT}:role/r{i}" for i in range(6)])

    with pytest.raises(ConfigError, match=r"breakGlassRoleArns=.*6 roles; .* at most 5"):
        parse_settings(
            {
                "tier": "enterprise",
                "appEnvironment": "prod",
                "drRegion": DR_REGION,
                "breakGlassRoleArns": six,
            },
            "us-east-1",
        )
    # Enhanced without audit: the control is not made, six roles are fine.
    parse_settings(
        {
            "tier": "enhanced",
            "appEnvironment": "prod",
            "drRegion": DR_REGION,
            "breakGlassRoleArns": six,
        },
        "us-east-1",
    )


@pytest.mark.parametrize(
    ("control", "expected"),
    [
        (
            AuditControl(
                "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK", {"requiredRetention": "35"}
            ),
            "'requiredRetention' is not one of its parameters; did you mean requiredRetentionDays?",
        ),
        (
            AuditControl("BACKUP_RECOVERY_POINT_ENCRYPTED", {"requiredRetentionDays": "35"}),
            "it takes no parameters",
        ),
        (
            AuditControl("BACKUP_RESOURCES_PROTECTED_BY_PLAN"),
            "did you mean BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN?",
        ),
        (
            AuditControl(
                "BACKUP_LAST_RECOVERY_POINT_CREATED",
                {"recoveryPointAgeUnit": "hours", "recoveryPointAgeValue": "745"},
            ),
            "745 hours is more than the 744 hours",
        ),
        (
            AuditControl(
                "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
                {"requiredFrequencyUnit": "weeks", "requiredFrequencyValue": "1"},
            ),
            "must be hours or days",
        ),
        (
            AuditControl("RESTORE_TIME_FOR_RESOURCES_MEET_TARGET", {"maxRestoreTime": "0"}),
            "must be a whole number >= 1",
        ),
        (protected_cross_region(["us-wst-2"], ["S3"]), "is not a region AWS Backup runs in"),
        (
            protected_by_vault_lock(400, 35, ["S3"]),
            "minRetentionDays=400 is more than maxRetentionDays=35",
        ),
        (
            manual_deletion_disabled([f"arn:aws:iam::{ACCOUNT}:role/r{i}" for i in range(6)], {}),
            "at most 5 IAM roles",
        ),
        (
            AuditControl("BACKUP_RECOVERY_POINT_ENCRYPTED", tags={"a": "1", "b": "2"}),
            "takes one tag",
        ),
    ],
)
def test_a_control_aws_would_refuse_is_refused_naming_what_is_wrong(
    control: AuditControl, expected: str
) -> None:
    assert any(expected in problem for problem in control_problems(control)), control_problems(
        control
    )


def test_an_unknown_control_parameter_stops_the_framework_before_anything_is_registered() -> None:
    args = AuditFrameworkArgs(
        framework_name="formkiq_prod_backup_evidence",
        description="test",
        controls=[
            AuditControl("BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK", {"retentionDays": "35"})
        ],
        report_bucket_name="formkiq-prod-reports-111122223333",
        report_prefix="reports",
        report_plan_prefix="formkiq_prod_backup",
    )

    run = run_offline(
        lambda: AuditFramework("audit", args), sample=sample_formkiq(), raise_errors=False
    )

    assert isinstance(run.error, ValueError)
    assert (
        "'retentionDays' is not one of its parameters; did you mean requiredRetentionDays?"
        in str(run.error)
    )
    assert run.resources == []


def test_a_framework_holds_each_control_once_and_at_most_fifty() -> None:
    twice = [AuditControl("BACKUP_RECOVERY_POINT_ENCRYPTED")] * 2
    assert "control BACKUP_RECOVERY_POINT_ENCRYPTED is given twice" in framework_problems(twice)
    many = [AuditControl("BACKUP_RECOVERY_POINT_ENCRYPTED", tags={"n": str(i)}) for i in range(51)]
    assert any("an account holds at most 50" in p for p in framework_problems(many))


# --- what a later capability adds through its contribution ---------------------------------------


class LockedDrVaultBuilder:
    """Stands in for the Enhanced and Enterprise builders: a DR-region metric widget, a
    cross-region control and a vault lock control, contributed like any builder's."""

    # A capability this release does not build yet: the real copies builder stays registered.
    capability: ClassVar[Capability] = Capability.VAULT_LOCK
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.DR})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {}
    needs: ClassVar[frozenset[Product]] = frozenset({Product.PRIMARY_VAULT})
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        dr = context.dr
        return Contribution(
            widgets=[
                Widget(
                    section="Replication",
                    title="Replication latency",
                    metrics=[
                        MetricLine(
                            "AWS/S3", "ReplicationLatency", {"SourceBucket": BUCKET}, "documents"
                        )
                    ],
                    region=dr.region,
                )
            ],
            audit_controls=[
                protected_cross_region([dr.where.region_name], ["DynamoDB", "S3"]),
                protected_by_vault_lock(35, 2555, ["DynamoDB", "S3"]),
            ],
        )


@pytest.fixture(scope="module")
def with_dr_builder() -> ProgramRun:
    registry = dict(REGISTRY)
    gatherers = {capability: registry.pop(capability) for capability in GATHERERS}
    registry[Capability.VAULT_LOCK] = LockedDrVaultBuilder()
    registry.update(gatherers)
    return tier_run("enterprise", registry)


def test_a_later_capability_adds_its_controls_without_the_audit_module_changing(
    with_dr_builder: ProgramRun,
) -> None:
    found = controls(with_dr_builder)

    assert found["BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION"]["parameters"] == {
        "crossRegionList": DR_REGION
    }
    assert found["BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK"]["parameters"] == {
        "minRetentionDays": "35",
        "maxRetentionDays": "2555",
    }


def test_the_registry_builds_the_gatherers_after_every_other_capability() -> None:
    assert list(REGISTRY)[-len(GATHERERS) :] == list(GATHERERS)
    assert set(GATHERERS) <= BUILDABLE


# --- the dashboard -----------------------------------------------------------------------------


def dashboard(run: ProgramRun) -> list[dict[str, Any]]:
    body = json.loads(run.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    widgets: list[dict[str, Any]] = body["widgets"]
    return widgets


def test_the_dashboard_shows_every_alarm_of_the_stack_with_its_state(
    enterprise: ProgramRun,
) -> None:
    alarms = [a.state["arn"] for a in enterprise.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    shown = [
        arn
        for widget in dashboard(enterprise)
        if widget["type"] == "alarm"
        for arn in widget["properties"]["alarms"]
    ]

    assert sorted(shown) == sorted(alarms)
    assert len(alarms) > 25


def test_the_dashboard_is_built_from_what_the_capabilities_contributed(
    enterprise: ProgramRun,
) -> None:
    sections = [w["properties"]["markdown"] for w in dashboard(enterprise) if w["type"] == "text"]
    metrics = {
        w["properties"]["title"]: w["properties"]
        for w in dashboard(enterprise)
        if w["type"] == "metric"
    }

    assert sections[1:] == [
        "## Posture checks",
        "## Backup and restore jobs",
        "## Exports",
        "## Table replicas",
        "## Restore tests",
    ]
    validations = metrics["Restore test validations (1 = passed, 0 = failed)"]
    assert [m[1] for m in validations["metrics"]] == ["RestoreTestValidated"] * 3
    assert validations["region"] == "us-east-1"
    assert {m[1] for m in metrics["Backup jobs into or from the vault, per hour"]["metrics"]} == {
        "NumberOfBackupJobsCompleted",
        "NumberOfBackupJobsFailed",
        "NumberOfBackupJobsExpired",
    }
    # The silence alarm's own metric is on the dashboard: one list of metric names.
    silence = enterprise.named("formkiq-prod-backup-alerts-no-completed-s3-backup").inputs
    assert [
        silence["namespace"],
        silence["metricName"],
        "BackupVaultName",
        silence["dimensions"]["BackupVaultName"],
        "ResourceType",
        "S3",
    ] in [m[:6] for m in metrics["Backup jobs into or from the vault, per hour"]["metrics"]]
    assert enterprise.outputs["dashboardUrl"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#dashboards/dashboard/formkiq-prod-backup"
    )


def test_a_widget_whose_metrics_live_in_the_dr_region_names_it(with_dr_builder: ProgramRun) -> None:
    (replication,) = [
        w
        for w in dashboard(with_dr_builder)
        if w["properties"].get("title") == "Replication latency"
    ]
    dashboard_resource = with_dr_builder.one("aws:cloudwatch/dashboard:Dashboard")

    assert replication["properties"]["region"] == DR_REGION
    assert "region" not in dashboard_resource.inputs  # the dashboard itself: primary region


def test_widgets_are_laid_out_on_the_grid_without_overlap(enterprise: ProgramRun) -> None:
    cells: set[tuple[int, int]] = set()
    for widget in dashboard(enterprise):
        assert widget["x"] + widget["width"] <= 24
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, widget
                cells.add((x, y))
