"""BackupPlan: rules AWS accepts, explicit ARN selection, and a role that can back up S3."""

from collections.abc import Callable

import pytest

from components import (
    BackupPlan,
    BackupPlanArgs,
    BackupRegionSettings,
    BackupRegionSettingsArgs,
    BackupRule,
)
from formkiq_backup.offline.program import ProgramRun

Build = Callable[..., ProgramRun]
TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/formkiq-core-prod-documents"
BUCKET = "arn:aws:s3:::formkiq-core-prod-documents-111122223333"


def daily(**changes: object) -> BackupRule:
    base = {"name": "daily_kept_35_days", "schedule": "cron(0 5 * * ? *)", "delete_after_days": 35}
    return BackupRule(**{**base, **changes})  # type: ignore[arg-type]


def plan_args(**changes: object) -> BackupPlanArgs:
    base = {
        "plan_name": "formkiq-prod-backup-plan",
        "selection_name": "formkiq-prod-protected-data",
        "vault_name": "formkiq-prod-backup-vault",
        "rules": [daily()],
        "resource_arns": [TABLE, BUCKET],
        "account_id": "111122223333",
        "partition": "aws",
    }
    return BackupPlanArgs(**{**base, **changes})  # type: ignore[arg-type]


def test_rules_reach_aws_with_every_setting(build: Build) -> None:
    monthly = BackupRule(
        name="monthly_kept_400_days",
        schedule="cron(30 2 1 * ? *)",
        timezone="Europe/Berlin",
        delete_after_days=400,
        cold_storage_after_days=90,
        recovery_point_tags={"Application": "FormKiQ"},
    )
    run = build(lambda: BackupPlan("plan", plan_args(rules=[daily(), monthly])))

    plan = run.one("aws:backup/plan:Plan")
    assert plan.inputs["name"] == "formkiq-prod-backup-plan"
    rules = {rule["ruleName"]: rule for rule in plan.inputs["rules"]}
    assert rules["monthly_kept_400_days"] == {
        "ruleName": "monthly_kept_400_days",
        "targetVaultName": "formkiq-prod-backup-vault",
        "schedule": "cron(30 2 1 * ? *)",
        "scheduleExpressionTimezone": "Europe/Berlin",
        "startWindow": 60,
        "completionWindow": 180,
        "lifecycle": {"deleteAfter": 400, "coldStorageAfter": 90},
        "recoveryPointTags": {"Application": "FormKiQ"},
    }
    assert "coldStorageAfter" not in rules["daily_kept_35_days"]["lifecycle"]


def test_selection_is_by_explicit_arn_with_the_plan_role(build: Build) -> None:
    run = build(lambda: BackupPlan("plan", plan_args()))

    selection = run.one("aws:backup/selection:Selection")
    role = run.one("aws:iam/role:Role")
    assert selection.inputs["resources"] == [TABLE, BUCKET]
    assert selection.inputs["iamRoleArn"] == role.state["arn"]
    assert selection.inputs["planId"] == run.one("aws:backup/plan:Plan").state["id"]
    assert selection.inputs["name"] == "formkiq-prod-protected-data"


@pytest.mark.parametrize(
    ("partition", "prefix"),
    [("aws", "arn:aws:iam::aws:policy/"), ("aws-us-gov", "arn:aws-us-gov:iam::aws:policy/")],
)
def test_role_has_backup_restore_and_s3_managed_policies(
    build: Build, partition: str, prefix: str
) -> None:
    run = build(lambda: BackupPlan("plan", plan_args(partition=partition)))

    attached = {
        r.inputs["policyArn"]
        for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {
        prefix + "service-role/AWSBackupServiceRolePolicyForBackup",
        prefix + "service-role/AWSBackupServiceRolePolicyForRestores",
        prefix + "AWSBackupServiceRolePolicyForS3Backup",
        prefix + "AWSBackupServiceRolePolicyForS3Restore",
    }
    trust = run.one("aws:iam/role:Role").inputs["assumeRolePolicy"]
    assert '"Service": "backup.amazonaws.com"' in trust
    assert '"aws:SourceAccount": "111122223333"' in trust


@pytest.mark.parametrize("protect", [True, False])
def test_role_is_protected_and_retained_with_protect(build: Build, protect: bool) -> None:
    run = build(lambda: BackupPlan("plan", plan_args(protect=protect)))
    role = run.one("aws:iam/role:Role")
    assert (role.protect, role.retain_on_delete) == (protect, protect)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (daily(delete_after_days=100, cold_storage_after_days=30), "retention must be >= 120"),
        (daily(schedule="cron(0/10 * * * ? *)"), "at most hourly"),
        (daily(schedule="rate(1 day)"), "cron() schedules only"),
        (daily(start_window_minutes=30), "start window must be at least 60 minutes"),
        (daily(completion_window_minutes=60), "completion window (60 min) must be longer"),
        (daily(delete_after_days=40000), "1..36500"),
        (daily(timezone="Mars/Base"), "timezone 'Mars/Base' must be an IANA time zone name"),
        (daily(name="daily kept"), "rule name 'daily kept' must match"),
    ],
)
def test_rules_aws_would_reject_fail_before_anything_is_registered(
    build: Build, rule: BackupRule, message: str
) -> None:
    run = build(lambda: BackupPlan("plan", plan_args(rules=[rule])), raise_errors=False)

    assert isinstance(run.error, ValueError)
    assert message in str(run.error)
    assert run.resources == []


def test_duplicate_rule_names_and_empty_selections_are_rejected(build: Build) -> None:
    run = build(
        lambda: BackupPlan("plan", plan_args(rules=[daily(), daily()], resource_arns=[])),
        raise_errors=False,
    )
    assert "rule name 'daily_kept_35_days' is used twice" in str(run.error)
    assert "a selection needs at least one resource ARN" in str(run.error)
    assert run.resources == []


def test_a_bad_selection_name_or_no_rules_fail_before_anything_is_registered(
    build: Build,
) -> None:
    run = build(
        lambda: BackupPlan("plan", plan_args(selection_name="protected data", rules=[])),
        raise_errors=False,
    )
    assert "selection name 'protected data' must match" in str(run.error)
    assert "a plan needs at least one rule" in str(run.error)
    assert run.resources == []


def test_region_settings_opt_in_and_enable_advanced_dynamodb_backup(build: Build) -> None:
    run = build(lambda: BackupRegionSettings("settings", BackupRegionSettingsArgs()))

    settings = run.one("aws:backup/regionSettings:RegionSettings")
    assert settings.inputs["resourceTypeOptInPreference"] == {"DynamoDB": True, "S3": True}
    assert settings.inputs["resourceTypeManagementPreference"] == {"DynamoDB": True}
    # An account-wide singleton other stacks may rely on: never reset on removal.
    assert settings.retain_on_delete is True


def test_region_settings_never_switch_a_type_off_nor_diff_forever(build: Build) -> None:
    """The provider reads back every type, so a two-type map would differ from the state on
    every preview: both maps are applied on create and not compared again. Only our types
    are named, and only ever set to true, so nobody else's type is switched off."""
    run = build(lambda: BackupRegionSettings("settings", BackupRegionSettingsArgs()))

    settings = run.one("aws:backup/regionSettings:RegionSettings")
    assert set(settings.ignore_changes) == {
        "resourceTypeOptInPreference",
        "resourceTypeManagementPreference",
    }
    for preference in ("resourceTypeOptInPreference", "resourceTypeManagementPreference"):
        assert set(settings.inputs[preference].values()) == {True}


def test_region_settings_reject_a_type_aws_backup_does_not_know(build: Build) -> None:
    run = build(
        lambda: BackupRegionSettings(
            "settings", BackupRegionSettingsArgs(opt_in_resource_types=("DynamoDB", "Dynamo"))
        ),
        raise_errors=False,
    )
    assert "resource type 'Dynamo' is not one AWS Backup knows" in str(run.error)
    assert run.resources == []


COPY_VAULT = "arn:aws:backup:us-west-2:111122223333:backup-vault:formkiq-prod-dr-backup-vault"


def test_a_copied_rule_keeps_its_copies_exactly_as_long_as_itself(build: Build) -> None:
    monthly = BackupRule(
        name="monthly_kept_400_days",
        schedule="cron(0 5 1 * ? *)",
        delete_after_days=400,
        cold_storage_after_days=90,
    )
    rules = [daily().copied_to(COPY_VAULT), monthly.copied_to(COPY_VAULT)]
    run = build(lambda: BackupPlan("plan", plan_args(rules=rules)))

    sent = {rule["ruleName"]: rule for rule in run.one("aws:backup/plan:Plan").inputs["rules"]}
    assert sent["daily_kept_35_days"]["copyActions"] == [
        {"destinationVaultArn": COPY_VAULT, "lifecycle": {"deleteAfter": 35}}
    ]
    assert sent["monthly_kept_400_days"]["copyActions"] == [
        {
            "destinationVaultArn": COPY_VAULT,
            "lifecycle": {"deleteAfter": 400, "coldStorageAfter": 90},
        }
    ]


def test_a_rule_without_copies_sends_no_copy_actions(build: Build) -> None:
    run = build(lambda: BackupPlan("plan", plan_args()))
    assert "copyActions" not in run.one("aws:backup/plan:Plan").inputs["rules"][0]


def test_a_copy_whose_cold_storage_breaks_the_90_day_rule_fails_before_registering(
    build: Build,
) -> None:
    from components import CopyAction

    bad = daily(copies=(CopyAction(COPY_VAULT, delete_after_days=100, cold_storage_after_days=30),))
    run = build(lambda: BackupPlan("plan", plan_args(rules=[bad])), raise_errors=False)

    assert "rule 'daily_kept_35_days': copy action: AWS Backup keeps cold recovery points" in str(
        run.error
    )
    assert run.resources == []
