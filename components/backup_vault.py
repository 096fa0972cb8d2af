"""BackupVault: an AWS Backup vault, its customer-managed key and its deny-delete policy."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.guarded_key import guarded_key
from components.policies import break_glass_only, policy_document
from formkiq_backup import aws_rules

# Vault events worth a message: failures AWS still delivers, and RECOVERY_POINT_MODIFIED (a
# lifecycle change or deletion). Failed backup jobs arrive through EventBridge instead, because
# BACKUP_JOB_FAILED is a deprecated vault event that AWS never sends.
FAILURE_AND_CHANGE_EVENTS = (
    "COPY_JOB_FAILED",
    "RECOVERY_POINT_MODIFIED",
    "S3_BACKUP_OBJECT_FAILED",
    "S3_RESTORE_OBJECT_FAILED",
)

# What the access policy denies to everyone but the break-glass roles: deleting recovery
# points, shortening their lives, and removing or rewriting the vault, its policy, lock or
# notifications. Named one by one: vault access policies take no wildcard in Action
# (aws-backup/latest/devguide/create-a-vault-access-policy.html). The first three are what AWS
# Config's backup-recovery-point-manual-deletion-disabled rule looks for
# (config/latest/developerguide/backup-recovery-point-manual-deletion-disabled.html).
# Denying PutBackupVaultAccessPolicy means a later change of this policy must be applied by a
# break-glass role: otherwise anyone allowed to deploy could first lift the deny.
PROTECTED_ACTIONS = (
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:PutBackupVaultAccessPolicy",
    "backup:DeleteBackupVaultAccessPolicy",
    "backup:DeleteBackupVaultNotifications",
    "backup:DeleteBackupVaultLockConfiguration",
    "backup:DeleteBackupVault",
)

# What a role copying recovery points into the vault does with its key: encrypt the copy, and
# let AWS Backup hold grants for the job. "Your IAM role must have access to the KMS key ...
# Otherwise the job is successful but the objects are not backed up" (AWS Backup developer
# guide, "Encryption for backups in AWS Backup"; "The permissions in IAM policy and KMS key
# policy must be consistent"), so the key policy and the role's own policy both grant it.
KEY_USE_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)


@dataclass(frozen=True)
class BackupVaultArgs:
    """A vault's name, who may still delete from it, and where its events go."""

    vault_name: str
    key_alias: str
    account_id: str
    partition: str
    break_glass_role_arns: Sequence[str] = ()
    """The only principals allowed the PROTECTED_ACTIONS and to delete or disable the key."""
    notification_topic_arn: pulumi.Input[str] | None = None
    notification_events: Sequence[str] = FAILURE_AND_CHANGE_EVENTS
    notification_dependencies: Sequence[pulumi.Resource] = ()
    """What must exist before AWS Backup may publish, e.g. the topic policy admitting it."""
    protected_actions: Sequence[str] = PROTECTED_ACTIONS
    """Actions the access policy denies to all but the break-glass roles; no wildcards."""
    copy_role_arns: Sequence[pulumi.Input[str]] = ()
    """Roles whose jobs copy recovery points into this vault (a plan's backup role): the key
    policy and each role's own policy let them use the key."""
    protect: bool = True
    """Pulumi refuses to delete the vault, key and policy while this is on."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = aws_rules.vault_name_problems(self.vault_name)
        found += [
            f"break-glass principal {arn!r} is not an IAM role ARN"
            for arn in self.break_glass_role_arns
            if not aws_rules.is_iam_role_arn(arn)
        ]
        found += [
            f"vault event {event!r} is not one AWS delivers (supported: "
            f"{', '.join(sorted(aws_rules.SUPPORTED_VAULT_EVENTS))})"
            for event in self.notification_events
            if event not in aws_rules.SUPPORTED_VAULT_EVENTS
        ]
        found += aws_rules.vault_policy_action_problems(self.protected_actions)
        return found


class BackupVault(pulumi.ComponentResource):
    """A vault whose recovery points only break-glass roles can delete.

    The vault, its key and its policy are always retained when removed from the program:
    deleting the key would make every recovery point unreadable, and the vault cannot be
    deleted while it holds recovery points anyway. A tier downgrade therefore leaves all of
    them in AWS, where existing recovery points expire only by their own lifecycle.
    """

    vault_name: pulumi.Output[str]
    vault_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    """The key encrypting recovery points (advanced DynamoDB and S3 backups)."""

    def __init__(
        self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"BackupVault {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:BackupVault", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # retain_on_delete is unconditional (see the class docstring); protect follows the arg.
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True)
        tags = dict(args.tags)

        key = guarded_key(
            f"{name}-key",
            description=f"Encrypts recovery points in backup vault {args.vault_name}",
            partition=args.partition,
            account_id=args.account_id,
            break_glass_role_arns=args.break_glass_role_arns,
            extra_statements=self._copy_role_grants(args.copy_role_arns),
            tags=tags,
            region=args.region,
            opts=kept,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=args.key_alias,
            target_key_id=key.key_id,
            region=args.region,
            opts=child,
        )
        vault = aws.backup.Vault(
            f"{name}-vault",
            name=args.vault_name,
            kms_key_arn=key.arn,
            force_destroy=False,
            tags=tags,
            region=args.region,
            opts=kept,
        )
        aws.backup.VaultPolicy(
            f"{name}-access-policy",
            backup_vault_name=vault.name,
            policy=policy_document(
                [
                    break_glass_only(
                        "OnlyBreakGlassDeletesRecoveryPointsOrChangesThisPolicy",
                        args.protected_actions,
                        "*",
                        args.break_glass_role_arns,
                    )
                ]
            ),
            region=args.region,
            opts=kept,
        )
        if args.notification_topic_arn is not None:
            aws.backup.VaultNotifications(
                f"{name}-notifications",
                backup_vault_name=vault.name,
                sns_topic_arn=args.notification_topic_arn,
                backup_vault_events=list(args.notification_events),
                # The access policy denies DeleteBackupVaultNotifications, and every change to
                # this resource is a replacement: retaining skips the delete AWS would refuse.
                # AWS Backup must already be allowed to publish, or the put fails with
                # AccessDenied on a first deploy: wait for the topic policy.
                region=args.region,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    retain_on_delete=True,
                    depends_on=list(args.notification_dependencies),
                ),
            )

        for index, role in enumerate(args.copy_role_arns):
            aws.iam.RolePolicy(
                f"{name}-copy-role-{index}",
                role=pulumi.Output.from_input(role).apply(lambda arn: arn.rsplit("/", 1)[-1]),
                policy=policy_document(
                    [
                        {
                            "Sid": "UseCopyDestinationKey",
                            "Effect": "Allow",
                            "Action": list(KEY_USE_ACTIONS),
                            "Resource": key.arn,
                        },
                        {
                            "Sid": "LetAwsBackupHoldGrants",
                            "Effect": "Allow",
                            "Action": "kms:CreateGrant",
                            "Resource": key.arn,
                            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                        },
                    ]
                ),
                opts=child,
            )

        self.vault_name = vault.name
        self.vault_arn = vault.arn
        self.key_arn = key.arn
        self.register_outputs({"vaultArn": vault.arn, "keyArn": key.arn})

    @staticmethod
    def _copy_role_grants(roles: Sequence[pulumi.Input[str]]) -> list[dict[str, object]]:
        """Key policy statements letting copying roles use the key (none without roles)."""
        if not roles:
            return []
        principal = {"AWS": list(roles)}
        return [
            {
                "Sid": "CopyRolesUseKey",
                "Effect": "Allow",
                "Principal": principal,
                "Action": list(KEY_USE_ACTIONS),
                "Resource": "*",
            },
            {
                # Grants only for AWS resources: AWS Backup holds them while a job runs.
                "Sid": "CopyRolesLetAwsBackupHoldGrants",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ]
