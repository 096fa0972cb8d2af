"""The whole program, per tier and example stack, against sample FormKiQ deployments."""

import ast
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from formkiq_backup.config import SETTINGS
from formkiq_backup.lambdas import POSTURE_GUARD
from formkiq_backup.offline.changes import removal_plan
from formkiq_backup.offline.program import ProgramRun, run_program
from formkiq_backup.offline.samples import SAMPLE_VERSIONS, sample_formkiq
from tiers.component_base import type_token
from tiers.definitions import Tier
from tiers.scope import Naming

PROJECT_DIR = Path(__file__).resolve().parent.parent
BACKUP_TYPES = {
    "aws:backup/vault:Vault",
    "aws:backup/plan:Plan",
    "aws:backup/selection:Selection",
    "aws:backup/regionSettings:RegionSettings",
}


def rules_by_name(run: ProgramRun) -> dict[str, dict[str, object]]:
    return {rule["ruleName"]: rule for rule in run.one("aws:backup/plan:Plan").inputs["rules"]}


def test_example_stacks_select_basic_for_dev_and_standard_for_prod() -> None:
    assert run_program("dev").outputs["tier"] == "basic"
    assert run_program("prod").outputs["tier"] == "standard"


def test_basic_tier_guards_pitr_and_versioning_without_aws_backup() -> None:
    run = run_program("dev")

    assert not BACKUP_TYPES & {resource.type for resource in run.resources}
    guard = run.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    assert (
        guard["PROTECTED_TABLES"]
        == '["formkiq-core-dev-documents", "formkiq-core-dev-documentsyncs"]'
    )
    assert guard["REMEDIATE"] == "true"  # Pulumi.dev.yaml opts in
    assert "BACKUP_VAULT_NAME" not in guard  # no vault in Basic: no recovery point checks
    alarms = {a.inputs["metricName"] for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert len(run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")) == 4
    assert alarms == {"PitrCompliant", "VersioningCompliant", "FailedInvocations"}
    topic_policy = run.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"]
    assert '"Service": ["cloudwatch.amazonaws.com"]' in topic_policy
    assert set(run.outputs) == {
        "tier",
        "appEnvironment",
        "primaryRegion",
        "drRegion",
        "alarmTopicArn",
        "protectedTables",
        "protectedBuckets",
        "recoveryObjectives",
        "dashboardUrl",
        "verifyExpectations",
    }
    # Basic has a dashboard too: its posture checks and every alarm with its state.
    body = json.loads(run.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    (alarms_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarms_widget["properties"]["alarms"]) == 4


def test_standard_tier_reproduces_guide_backup_plan() -> None:
    """The guide's FormKiQ-Daily-Backup plan: cron(0 5 * * ? *), 60/180, 35 days, tagged."""
    run = run_program(
        "prod",
        overrides={
            "monthlyRetentionDays": None,
            "coldStorageAfterDays": None,
            "dailyRetentionDays": None,
        },
    )

    daily = rules_by_name(run)["daily_kept_35_days"]
    assert daily == {
        "ruleName": "daily_kept_35_days",
        "targetVaultName": "formkiq-prod-backup-vault",
        "schedule": "cron(0 5 * * ? *)",
        "scheduleExpressionTimezone": "UTC",
        "startWindow": 60,
        "completionWindow": 180,
        "lifecycle": {"deleteAfter": 35},
        "recoveryPointTags": {"Application": "FormKiQ"},
    }
    monthly = rules_by_name(run)["monthly_kept_365_days"]
    assert monthly["schedule"] == "cron(0 5 1 * ? *)"
    assert monthly["lifecycle"] == {"deleteAfter": 365}


def test_prod_stack_moves_monthly_recovery_points_to_cold_storage() -> None:
    rules = rules_by_name(run_program("prod"))
    assert rules["monthly_kept_400_days"]["lifecycle"] == {
        "deleteAfter": 400,
        "coldStorageAfter": 90,
    }
    assert rules["daily_kept_35_days"]["lifecycle"] == {"deleteAfter": 35}


def test_schedule_and_timezone_settings_drive_both_rules() -> None:
    run = run_program(
        "prod",
        overrides={"backupSchedule": "cron(30 1 * * ? *)", "scheduleTimezone": "Europe/Berlin"},
    )
    rules = rules_by_name(run)
    assert rules["daily_kept_35_days"]["schedule"] == "cron(30 1 * * ? *)"
    assert rules["monthly_kept_400_days"]["schedule"] == "cron(30 1 1 * ? *)"
    assert {rule["scheduleExpressionTimezone"] for rule in rules.values()} == {"Europe/Berlin"}


def test_standard_tier_backs_up_documents_tables_and_bucket_by_arn() -> None:
    run = run_program("prod", version="1.17.1")  # a layout with cache and websocket tables

    assert run.one("aws:backup/selection:Selection").inputs["resources"] == [
        "arn:aws:dynamodb:us-east-1:111122223333:table/formkiq-core-prod-documents",
        "arn:aws:dynamodb:us-east-1:111122223333:table/formkiq-core-prod-documentsyncs",
        "arn:aws:s3:::formkiq-core-prod-documents-111122223333",
    ]


def test_standard_tier_outputs_the_vault_and_plan() -> None:
    run = run_program("prod")

    assert run.outputs["backupVaultArn"] == run.one("aws:backup/vault:Vault").state["arn"]
    assert run.outputs["backupPlanId"] == run.one("aws:backup/plan:Plan").state["id"]
    assert run.outputs["alarmTopicArn"] == run.one("aws:sns/topic:Topic").state["arn"]
    assert run.outputs["protectedTables"] == [
        "formkiq-core-prod-documents",
        "formkiq-core-prod-documentsyncs",
    ]
    assert run.outputs["protectedBuckets"] == ["formkiq-core-prod-documents-111122223333"]
    objectives = run.outputs["recoveryObjectives"]
    assert set(objectives) == {
        "documentMetadata",
        "documentContent",
        "userDirectory",
        "systemConfiguration",
    }
    assert objectives["documentMetadata"]["rpoMinutes"] == 5
    assert objectives["documentMetadata"]["rtoMinutes"] == {"min": 120, "max": 480}
    # The scheduled exports cover users and FormKiQ's configuration (monthly by default).
    assert objectives["userDirectory"]["rpo"] == "31 days"
    assert "passwords cannot be exported" in objectives["userDirectory"]["note"]
    assert objectives["systemConfiguration"]["rpoMinutes"] == 31 * 1440


def test_standard_tier_alerts_reach_the_topic_from_every_publisher() -> None:
    run = run_program("prod")
    topic_arn = run.outputs["alarmTopicArn"]

    statements = json.loads(run.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])[
        "Statement"
    ]
    allowed = {
        service: "Condition" in statement
        for statement in statements
        if statement["Effect"] == "Allow"
        for service in statement["Principal"]["Service"]
    }
    # Each in the form its requests match (aws_rules.TOPIC_PUBLISHERS): CloudWatch says its
    # account; EventBridge supports no condition; AWS Backup's documented form has none.
    assert allowed == {
        "backup.amazonaws.com": False,
        "cloudwatch.amazonaws.com": True,
        "events.amazonaws.com": False,
    }
    key = json.loads(run.named("formkiq-prod-alerts-key").inputs["policy"])["Statement"]
    assert {
        service: "Condition" in statement
        for statement in key
        if "Service" in statement["Principal"]
        for service in statement["Principal"]["Service"]
    } == allowed
    assert (
        run.one("aws:backup/vaultNotifications:VaultNotifications").inputs["snsTopicArn"]
        == topic_arn
    )
    for target in run.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        if "backup-alerts" in target.name:
            assert target.inputs["arn"] == topic_arn
    for alarm in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert alarm.inputs["alarmActions"] == [topic_arn]


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_prod_stack_builds_against_every_formkiq_layout(version: str) -> None:
    run = run_program("prod", version=version)
    expected = ["formkiq-core-prod-documents"]
    if version != "1.9.0":
        expected.append("formkiq-core-prod-documentsyncs")
    assert run.outputs["protectedTables"] == expected
    assert run.one("aws:backup/selection:Selection").inputs["resources"][: len(expected)] == [
        f"arn:aws:dynamodb:us-east-1:111122223333:table/{name}" for name in expected
    ]


def test_a_standard_stack_moved_to_enterprise_builds_with_only_a_dr_region_added() -> None:
    """Every enterprise key has a default: drRegion is the one thing a stack must add."""
    run = run_program("prod", overrides={"tier": "enterprise", "drRegion": "us-west-2"})

    assert run.outputs["tier"] == "enterprise"
    assert run.outputs["tableReplicas"] == {
        "formkiq-core-prod-documents": ["us-west-2"],
        "formkiq-core-prod-documentsyncs": ["us-west-2"],
    }
    assert run.outputs["airGappedVaultArn"].startswith("arn:aws:backup:us-west-2:")


def test_missing_formkiq_parameter_fails_naming_it_before_any_resource() -> None:
    sample = sample_formkiq()
    broken = replace(
        sample,
        parameters={
            k: v for k, v in sample.parameters.items() if not k.endswith("/s3/DocumentsS3Bucket")
        },
    )
    run = run_program("prod", sample=broken, raise_errors=False)

    assert "/formkiq/prod/s3/DocumentsS3Bucket is missing for appEnvironment 'prod'" in str(
        run.error
    )
    assert run.resources == []


def test_long_app_environment_still_fits_aws_name_limits() -> None:
    """Vault and selection names are capped at 50 characters; long environments are hashed."""
    run = run_program("prod", overrides={"appEnvironment": "customer-acme-europe-production-blue"})

    vault_name = run.one("aws:backup/vault:Vault").inputs["name"]
    selection_name = run.one("aws:backup/selection:Selection").inputs["name"]
    assert len(vault_name) <= 50
    assert len(selection_name) <= 50
    assert vault_name.startswith("formkiq-customer-acme-europe")


# The export jobs and their alarms: stopping them deletes no export.
EXPORT_JOB_TYPES = {
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:lambda/function:Function",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:sqs/queue:Queue",
    "aws:scheduler/schedule:Schedule",
    "aws:scheduler/scheduleGroup:ScheduleGroup",
}


def test_downgrade_keeps_recovery_points() -> None:
    """standard -> basic: nothing holding or encrypting recovery points is deleted."""
    standard = run_program("prod")
    basic = run_program("prod", overrides={"tier": "basic"})

    plan = removal_plan(standard, basic)
    deleted = {resource.type for resource in plan.deleted}
    assert not deleted & {
        "aws:backup/vault:Vault",
        "aws:kms/key:Key",
        "aws:backup/vaultPolicy:VaultPolicy",
    }
    # What goes stops new backups, exports and alerts; none of it can remove a recovery point
    # or an export (everything under the exports bucket: test_exports_components.py).
    assert deleted == {
        "aws:backup/plan:Plan",
        "aws:backup/selection:Selection",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:kms/alias:Alias",
        *EXPORT_JOB_TYPES,
    }
    # With protectBackups (the default) the downgrade stops until someone unprotects them.
    assert {resource.name for resource in plan.blocked} >= {
        "formkiq-prod-backup-vault-vault",
        "formkiq-prod-backup-vault-key",
        "formkiq-prod-backup-vault-access-policy",
        "formkiq-prod-backup-plan-role",
    }


def test_downgrade_without_protection_still_retains_vault_and_key() -> None:
    standard = run_program("prod", overrides={"protectBackups": False})
    basic = run_program("prod", overrides={"tier": "basic", "protectBackups": False})

    plan = removal_plan(standard, basic)
    assert plan.blocked == ()
    assert {r.type for r in plan.retained} >= {"aws:backup/vault:Vault", "aws:kms/key:Key"}
    assert "aws:backup/vault:Vault" not in {r.type for r in plan.deleted}


def test_retention_change_replaces_no_vault_or_key() -> None:
    """A shorter retention changes the plan's rules only; existing points keep their lifecycle."""
    before = run_program("prod")
    after = run_program("prod", overrides={"dailyRetentionDays": 14})

    plan = removal_plan(before, after)
    assert plan.deleted == plan.retained == plan.blocked == ()
    assert "daily_kept_14_days" in rules_by_name(after)


def test_components_follow_pulumi_naming_conventions() -> None:
    run = run_program("prod")
    by_urn = {resource.urn: resource for resource in run.resources}
    tier_types = {type_token(tier) for tier in Tier}

    for resource in run.resources:
        if not resource.custom:
            assert resource.type.startswith("formkiq-backup:index:"), resource.type
        parent = by_urn.get(resource.parent_urn)
        if parent is None:
            continue
        if parent.type in tier_types:
            # Named from the FormKiQ environment, whatever a host program calls the component.
            assert resource.name.startswith("formkiq-prod-"), resource.name
        else:
            assert resource.name.startswith(f"{parent.name}-"), resource.name


def test_our_resources_are_tagged_as_managed_by_this_package() -> None:
    run = run_program("prod")
    tagged = [resource for resource in run.resources if "tags" in resource.inputs]
    assert len(tagged) >= 10
    for resource in tagged:
        assert resource.inputs["tags"]["ManagedBy"] == "formkiq-backup", resource.name
        assert resource.inputs["tags"]["FormKiQAppEnvironment"] == "prod", resource.name


def test_formkiq_resources_are_only_read_never_registered() -> None:
    """Discovery uses invokes; no resource adopts (imports) or reads FormKiQ's resources."""
    run = run_program("prod")
    formkiq_names = {"formkiq-core-prod-documents", "formkiq-core-prod-documents-111122223333"}
    for resource in run.resources:
        assert resource.inputs.get("name") not in formkiq_names
        assert resource.inputs.get("bucket") not in formkiq_names
    assert {invoke.token for invoke in run.invokes} == {
        "aws:index/getCallerIdentity:getCallerIdentity",
        "aws:index/getRegion:getRegion",
        "aws:index/getPartition:getPartition",
        "aws:ssm/getParametersByPath:getParametersByPath",
        "aws:dynamodb/getTable:getTable",
        "aws:s3/getBucket:getBucket",
    }


def test_pulumi_yaml_declares_every_setting_with_its_type_and_default() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]

    assert list(declared) == [spec.key for spec in SETTINGS]
    for spec in SETTINGS:
        entry = declared[spec.key]
        # Pulumi's project schema types keys as string, integer, boolean or array: an object
        # is declared with no type (formkiq_backup/config.py, Setting.pulumi_yaml).
        assert entry.get("type") == (None if spec.kind == "object" else spec.kind), spec.key
        assert entry["description"] == spec.description, spec.key
        if spec.required:
            assert "default" not in entry, spec.key
        else:
            assert entry["default"] == spec.default, spec.key


def test_posture_guard_bundle_imports_only_the_standard_library_boto3_and_itself() -> None:
    """The Lambda runtime has boto3 and nothing else we depend on (no Pulumi, no rich)."""
    bundled = {
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in POSTURE_GUARD.files
    }
    allowed_roots = set(sys.stdlib_module_names) | {"boto3", "botocore"}
    for archive_path, path in POSTURE_GUARD.paths().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module in bundled or module.split(".")[0] in allowed_roots, (
                    f"{archive_path} imports {module}, which the Lambda package does not ship"
                )
    handler_module = POSTURE_GUARD.handler.rsplit(".", 1)[0]
    assert handler_module in bundled


def test_every_rule_delivering_to_the_topic_has_a_delivery_alarm() -> None:
    """A rule whose target refuses it fails only in AWS/Events FailedInvocations."""
    run = run_program("prod")
    topic_arn = run.outputs["alarmTopicArn"]
    rules = {r.state["name"]: r for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}
    watched = {
        a.inputs["dimensions"]["RuleName"]
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == "FailedInvocations"
    }
    # Every rule: the three job rules target the topic, the guard's schedule its Lambda.
    assert watched == set(rules)
    to_topic = {
        t.inputs["rule"]
        for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.inputs["arn"] == topic_arn
    }
    assert len(to_topic) == 3
    assert to_topic <= watched


def test_vault_notifications_are_created_after_the_topic_policy() -> None:
    """Otherwise AWS Backup is not yet allowed to publish: AccessDenied on a first deploy."""
    run = run_program("prod")
    policy = run.one("aws:sns/topicPolicy:TopicPolicy")
    notifications = run.one("aws:backup/vaultNotifications:VaultNotifications")
    assert policy.urn in notifications.dependencies


def test_standard_guard_checks_each_resource_recovery_point_in_the_vault() -> None:
    run = run_program("prod")
    guard = run.named("formkiq-prod-posture-guard-function")
    variables = guard.inputs["environment"]["variables"]
    assert variables["BACKUP_VAULT_NAME"] == run.one("aws:backup/vault:Vault").inputs["name"]
    assert json.loads(variables["BACKED_UP_RESOURCES"]) == {
        "formkiq-core-prod-documents": (
            "arn:aws:dynamodb:us-east-1:111122223333:table/formkiq-core-prod-documents"
        ),
        "formkiq-core-prod-documentsyncs": (
            "arn:aws:dynamodb:us-east-1:111122223333:table/formkiq-core-prod-documentsyncs"
        ),
        "formkiq-core-prod-documents-111122223333": (
            "arn:aws:s3:::formkiq-core-prod-documents-111122223333"
        ),
    }
    # The tier's recovery point objective (Standard: 26 h).
    assert variables["RECOVERY_POINT_MAX_AGE_HOURS"] == "26"


# AWS's limits on the `name` of each resource type the program registers.
NAME_LIMITS = {
    "aws:lambda/function:Function": 64,
    "aws:cloudwatch/eventRule:EventRule": 64,
    "aws:iam/role:Role": 64,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 255,
    "aws:cloudwatch/logGroup:LogGroup": 512,
    "aws:backup/vault:Vault": 50,
    "aws:backup/plan:Plan": 50,
    "aws:backup/selection:Selection": 50,
    "aws:sns/topic:Topic": 256,
    "aws:kms/alias:Alias": 256,
}
# FormKiQ allows 27 characters (its documents bucket name is then 63).
LONGEST_APP_ENVIRONMENT = "customer-acme-europe-prod-1"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_name_fits_aws_limits_for_the_longest_app_environment(stack: str) -> None:
    assert len(LONGEST_APP_ENVIRONMENT) == 27
    run = run_program(stack, overrides={"appEnvironment": LONGEST_APP_ENVIRONMENT})

    named = [r for r in run.resources if r.type in NAME_LIMITS]
    assert {r.type for r in named} >= {
        "aws:lambda/function:Function",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:iam/role:Role",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
    }
    for resource in named:
        # The name AWS receives: given, or Pulumi's auto-name (logical name + 8 characters).
        name = resource.state["name"]
        assert len(name) <= NAME_LIMITS[resource.type], (resource.type, name, len(name))
    # Those whose auto-names would not fit are named explicitly.
    for resource_type in (
        "aws:lambda/function:Function",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
    ):
        for resource in run.of_type(resource_type):
            assert "name" in resource.inputs, resource.name
    guard_role = run.named(f"formkiq-{LONGEST_APP_ENVIRONMENT}-posture-guard-role")
    assert guard_role.inputs["name"] == f"formkiq-{LONGEST_APP_ENVIRONMENT}-posture-guard"


def test_a_name_beyond_aws_limits_fails_naming_the_rule() -> None:
    naming = Naming.for_environment(LONGEST_APP_ENVIRONMENT)
    assert naming.function("posture-guard") == "formkiq-customer-acme-europe-prod-1-posture-guard"
    with pytest.raises(ValueError, match=r"Lambda function name .* has 65 characters; AWS allows"):
        naming.function("p" * 29)
    with pytest.raises(ValueError, match=r"EventBridge rule name .* must match"):
        naming.event_rule("posture guard")


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_every_arn_the_program_writes_is_in_the_partition_of_aws_region(
    region: str, partition: str
) -> None:
    """An `arn:aws:` ARN in aws-cn or aws-us-gov names nothing: Scheduler refuses a universal
    target outside its partition, and a policy naming one grants nothing."""
    break_glass = f"arn:{partition}:iam::111122223333:role/BackupBreakGlass"
    run = run_program("prod", overrides={"aws:region": region, "breakGlassRoleArns": [break_glass]})

    schedules = [
        s.inputs["target"]["arn"]
        for s in run.of_type("aws:scheduler/schedule:Schedule")
        if "aws-sdk" in s.inputs["target"]["arn"]
    ]
    assert schedules and set(schedules) == {
        f"arn:{partition}:scheduler:::aws-sdk:dynamodb:exportTableToPointInTime"
    }
    written = json.dumps([r.inputs for r in run.resources], default=str) + json.dumps(run.outputs)
    assert "arn:aws:" not in written
    assert f"arn:{partition}:" in written
    # The review names the export the target starts, whatever the partition.
    from rich.console import Console

    from formkiq_backup.offline.preview import render

    console = Console(record=True, width=200, color_system=None)
    render(run, console)
    assert "exportTableToPointInTime formkiq-core-prod-documents to" in console.export_text()
