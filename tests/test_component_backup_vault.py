"""BackupVault: own key, deny-delete policy for everyone but break-glass roles, always retained."""

import json
from collections.abc import Callable

import pulumi
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
    # Named one by one: vault access policies take no wildcard in Action.
    assert statement["Action"] == [
        "backup:DeleteRecoveryPoint",
        "backup:UpdateRecoveryPointLifecycle",
        "backup:PutBackupVaultAccessPolicy",
        "backup:DeleteBackupVaultAccessPolicy",
        "backup:DeleteBackupVaultNotifications",
        "backup:DeleteBackupVaultLockConfiguration",
        "backup:DeleteBackupVault",
    ]
    assert not [action for action in statement["Action"] if "*" in action]
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [BREAK_GLASS]}}


def test_access_policy_passes_aws_configs_manual_deletion_rule(build: Build) -> None:
    """backup-recovery-point-manual-deletion-disabled: one Deny with Principal and Resource
    wildcards naming DeleteRecoveryPoint, UpdateRecoveryPointLifecycle and
    PutBackupVaultAccessPolicy (so nobody lifts the deny and then deletes)."""
    run = build(lambda: BackupVault("vault", vault_args()))

    (statement,) = json.loads(run.one("aws:backup/vaultPolicy:VaultPolicy").inputs["policy"])[
        "Statement"
    ]
    assert (statement["Principal"], statement["Resource"]) == ({"AWS": "*"}, "*")
    assert {
        "backup:DeleteRecoveryPoint",
        "backup:UpdateRecoveryPointLifecycle",
        "backup:PutBackupVaultAccessPolicy",
    } <= set(statement["Action"])


@pytest.mark.parametrize(
    "action", ["backup:DeleteBackupVault*", "backup:*", "backup:Delete?ecoveryPoint", "*"]
)
def test_a_wildcard_action_fails_before_anything_is_registered(build: Build, action: str) -> None:
    run = build(
        lambda: BackupVault(
            "vault",
            vault_args(protected_actions=["backup:DeleteRecoveryPoint", action]),
        ),
        raise_errors=False,
    )
    assert isinstance(run.error, ValueError)
    assert f"vault policy action {action!r} has a wildcard" in str(run.error)
    assert run.resources == []


def test_without_break_glass_roles_nobody_may_delete(build: Build) -> None:
    run = build(lambda: BackupVault("vault", vault_args(break_glass_role_arns=[])))

    statement = json.loads(run.one("aws:backup/vaultPolicy:VaultPolicy").inputs["policy"])[
        "Statement"
    ][0]
    assert statement["Effect"] == "Deny"
    assert "Condition" not in statement


def test_only_break_glass_roles_may_delete_or_disable_the_key(build: Build) -> None:
    run = build(lambda: BackupVault("vault", vault_args()))

    key = run.one("aws:kms/key:Key")
    statements = json.loads(key.inputs["policy"])["Statement"]
    guard = next(s for s in statements if s["Sid"] == "OnlyBreakGlassDeletesKey")
    assert guard["Effect"] == "Deny"
    # Rewriting the policy is denied too, or a KMS admin would lift the deny and then delete.
    assert guard["Action"] == ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"]
    assert guard["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [BREAK_GLASS]}}
    admin = next(s for s in statements if s["Sid"] == "AccountAdministersKey")
    assert admin["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    # The deployer is not break-glass: KMS's lockout safety check would refuse the policy.
    assert key.inputs["bypassPolicyLockoutSafetyCheck"] is True


def test_without_break_glass_roles_the_key_policy_stays_changeable(build: Build) -> None:
    """Denying PutKeyPolicy to everyone would make the key unmanageable for good."""
    run = build(lambda: BackupVault("vault", vault_args(break_glass_role_arns=[])))

    key = run.one("aws:kms/key:Key")
    statements = json.loads(key.inputs["policy"])["Statement"]
    guard = next(s for s in statements if s["Sid"] == "OnlyBreakGlassDeletesKey")
    assert guard["Action"] == ["kms:ScheduleKeyDeletion", "kms:DisableKey"]
    assert "Condition" not in guard
    assert key.inputs.get("bypassPolicyLockoutSafetyCheck") is False


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


def test_vault_notifications_wait_for_what_they_are_given_to_wait_for(build: Build) -> None:
    """The topic policy admitting AWS Backup must exist first, or the put is AccessDenied."""

    def body() -> None:
        gate = pulumi.CustomResource("test:index:Gate", "topic-policy", {})
        BackupVault("vault", vault_args(notification_dependencies=[gate]))

    run = build(body)
    gate = run.named("topic-policy")
    notifications = run.one("aws:backup/vaultNotifications:VaultNotifications")
    assert gate.urn in notifications.dependencies
    assert gate.urn not in run.one("aws:backup/vault:Vault").dependencies


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
