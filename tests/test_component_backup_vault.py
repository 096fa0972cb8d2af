"""BackupVault: own key, deny-delete policy for everyone but break-glass roles, always retained."""

import json
from collections.abc import Callable

import pytest

from components import BackupVault, BackupVaultArgs
from formkiq_backup.offline.program import ProgramRun

Build = Callable[..., ProgramRun]
BREAK_GLASS = "arn:aws:iam::111122223333:role/BackupBreakGlass"


def vault_args(**changes: object) -> BackupVaultArgs:
    base = {
        "vault_name": "formkiq-prod-backup-vault",
        "key_alias": "alias/formkiq-prod-backup-vault",
        "account_id": "111122223333",
        "partition": "aws",
        "break_glass_role_arns": [BREAK_GLASS],
        "notification_topic_arn": "arn:aws:sns:us-east-1:111122223333:alerts",
    }
    return BackupVaultArgs(**{**base, **changes})  # type: ignore[arg-type]


def test_vault_is_encrypted_with_a_rotating_customer_managed_key(build: Build) -> None:
    run = build(lambda: BackupVault("vault", vault_args()))

    key = run.one("aws:kms/key:Key")
    assert (key.inputs["enableKeyRotation"], key.inputs["deletionWindowInDays"]) == (True, 30)
    vault = run.one("aws:backup/vault:Vault")
    assert vault.inputs["name"] == "formkiq-prod-backup-vault"
    assert vault.inputs["kmsKeyArn"] == key.state["arn"]
    assert vault.inputs["forceDestroy"] is False


def test_access_policy_denies_deletion_to_all_but_break_glass_roles(build: Build) -> None:
    run = build(lambda: BackupVault("vault", vault_args()))

    policy = json.loads(run.one("aws:backup/vaultPolicy:VaultPolicy").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Action"] == [
        "backup:DeleteRecoveryPoint",
        "backup:UpdateRecoveryPointLifecycle",
        "backup:DeleteBackupVault*",
    ]
    assert statement["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [BREAK_GLASS]}}


def test_without_break_glass_roles_nobody_may_delete(build: Build) -> None:
    run = build(lambda: BackupVault("vault", vault_args(break_glass_role_arns=[])))

    statement = json.loads(run.one("aws:backup/vaultPolicy:VaultPolicy").inputs["policy"])[
        "Statement"
    ][0]
    assert statement["Effect"] == "Deny"
    assert "Condition" not in statement


def test_only_break_glass_roles_may_delete_or_disable_the_key(build: Build) -> None:
    run = build(lambda: BackupVault("vault", vault_args()))

    statements = json.loads(run.one("aws:kms/key:Key").inputs["policy"])["Statement"]
    guard = next(s for s in statements if s["Sid"] == "OnlyBreakGlassDeletesKey")
    assert guard["Effect"] == "Deny"
    assert guard["Action"] == ["kms:ScheduleKeyDeletion", "kms:DisableKey"]
    assert guard["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [BREAK_GLASS]}}
    admin = next(s for s in statements if s["Sid"] == "AccountAdministersKey")
    assert admin["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}


def test_vault_notifies_only_events_aws_still_delivers(build: Build) -> None:
    run = build(lambda: BackupVault("vault", vault_args()))

    notifications = run.one("aws:backup/vaultNotifications:VaultNotifications")
    assert notifications.inputs["backupVaultEvents"] == [
        "COPY_JOB_FAILED",
        "RECOVERY_POINT_MODIFIED",
        "S3_BACKUP_OBJECT_FAILED",
        "S3_RESTORE_OBJECT_FAILED",
    ]
    assert notifications.inputs["snsTopicArn"] == "arn:aws:sns:us-east-1:111122223333:alerts"
    # The access policy denies DeleteBackupVaultNotifications: replacing must not call it.
    assert notifications.retain_on_delete is True


@pytest.mark.parametrize("protect", [True, False])
def test_vault_key_and_policy_are_always_retained_and_protected_on_request(
    build: Build, protect: bool
) -> None:
    run = build(lambda: BackupVault("vault", vault_args(protect=protect)))

    for resource_type in (
        "aws:backup/vault:Vault",
        "aws:kms/key:Key",
        "aws:backup/vaultPolicy:VaultPolicy",
    ):
        resource = run.one(resource_type)
        assert resource.retain_on_delete is True, resource_type
        assert resource.protect is protect, resource_type


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vault_name": "formkiq.prod"}, "vault name 'formkiq.prod' must match"),
        ({"break_glass_role_arns": ["arn:aws:iam::111122223333:user/bob"]}, "not an IAM role ARN"),
        (
            {"notification_events": ["BACKUP_JOB_FAILED"]},
            "'BACKUP_JOB_FAILED' is not one AWS delivers",
        ),
    ],
)
def test_bad_arguments_fail_before_anything_is_registered(
    build: Build, changes: dict[str, object], message: str
) -> None:
    run = build(lambda: BackupVault("vault", vault_args(**changes)), raise_errors=False)
    assert isinstance(run.error, ValueError)
    assert message in str(run.error)
    assert run.resources == []
