"""A platform team's Python program: its own resources, and FormKiQ's backups beside them.

The tier is one component resource, `StandardBackup`, with typed arguments (as a stack's
settings, in snake_case) and typed outputs that feed the team's own resources.
"""

import json

import pulumi
import pulumi_aws as aws

from tiers.components import StandardBackup

backup = StandardBackup(
    "prod",
    {
        "app_environment": "prod",
        "notification_emails": ["platform-oncall@example.com"],
        "break_glass_role_arns": ["arn:aws:iam::111122223333:role/BackupBreakGlass"],
        "monthly_retention_days": 400,
        "cold_storage_after_days": 90,
    },
)

# The team's pager hears every backup alert, besides the e-mail subscription above.
aws.sns.TopicSubscription(
    "formkiq-backup-alerts-to-pager",
    topic=backup.alarm_topic_arn,
    protocol="https",
    endpoint="https://pager.example.com/hooks/formkiq-backup",
)

# The on-call role may see the recovery points, to answer "when was the last backup?".
aws.iam.Policy(
    "oncall-reads-formkiq-recovery-points",
    policy=backup.backup_vault_arn.apply(
        lambda vault_arn: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "backup:DescribeBackupVault",
                            "backup:ListRecoveryPointsByBackupVault",
                        ],
                        "Resource": vault_arn,
                    }
                ],
            }
        )
    ),
)

pulumi.export("backupVaultArn", backup.backup_vault_arn)
pulumi.export("recoveryObjectives", backup.recovery_objectives)
