"""Pulumi components, one per AWS concern. None of them knows about tiers.

| component              | AWS concern                                                   |
|------------------------|---------------------------------------------------------------|
| NotificationTopic      | KMS-encrypted SNS topic for every alarm and alert             |
| PostureGuard           | scheduled PITR/versioning checks, metrics and alarms          |
| BackupVault            | vault, its key, deny-delete policy, vault notifications       |
| BackupPlan             | plan rules, selection by ARN, AWS Backup service role         |
| BackupRegionSettings   | per-region opt-in and advanced DynamoDB backup                |
| BackupJobAlerts        | EventBridge rules for failed jobs, "no backup" alarm          |
| ExportsBucket          | versioned, KMS-encrypted, deny-delete bucket for exports      |
| TableExports           | Scheduler-started DynamoDB exports, their role, DLQ, alarms   |
| ScheduledFunction      | a Scheduler-run Lambda with its DLQ and failure alarms        |
| ExportMonitor          | checks each newest export, one freshness alarm per data set   |
| ReplicaBucket          | versioned, KMS-encrypted, deny-delete replica in the DR region |
| BucketReplication      | our one replication rule on a source bucket, and its role     |
| ReplicationAlarms      | a rule's replication metrics, alarmed where S3 publishes them |
| BatchReplicationRole   | the role S3 Batch Replication jobs run as                     |
| RestoreTesting         | restore testing plan, its selections and restore role         |
| RestoreValidator       | Lambda validating each restore test, its trigger and alarms   |
| AuditFramework         | Backup Audit Manager framework and its report plans           |
| ReportsBucket          | versioned, KMS-encrypted, deny-delete bucket for audit reports|
| ConfigRecorder         | AWS Config recorder of the backup resource types (opt-in)     |
| Dashboard              | one CloudWatch dashboard from contributed widgets and alarms  |

ExportsBucket, ReportsBucket and ReplicaBucket each register one `PrivateBucket`
(components/private_bucket.py): the private, versioned, KMS-encrypted, kept bucket they share,
its resources under their own component so deployed URNs stay as they were.

Beside them, plain data the builders pass around: `Widget`/`MetricLine` (components/dashboard.py)
and `AuditControl` with one maker per control (components/audit_controls.py).
"""

from components.audit_framework import AuditFramework, AuditFrameworkArgs
from components.backup_alerts import BackupJobAlerts, BackupJobAlertsArgs
from components.backup_plan import BackupPlan, BackupPlanArgs, BackupRule, CopyAction
from components.backup_region_settings import BackupRegionSettings, BackupRegionSettingsArgs
from components.backup_vault import BackupVault, BackupVaultArgs
from components.batch_replication_role import BatchReplicationRole, BatchReplicationRoleArgs
from components.bucket_replication import BucketReplication, BucketReplicationArgs
from components.config_recorder import ConfigRecorder, ConfigRecorderArgs
from components.dashboard import Dashboard, DashboardArgs
from components.export_monitor import ExportMonitor, ExportMonitorArgs
from components.exports_bucket import ExportsBucket, ExportsBucketArgs
from components.notification_topic import NotificationTopic, NotificationTopicArgs
from components.posture_guard import PostureGuard, PostureGuardArgs
from components.replica_bucket import ReplicaBucket, ReplicaBucketArgs
from components.replication_alarms import ReplicationAlarms, ReplicationAlarmsArgs, Side
from components.reports_bucket import ReportsBucket, ReportsBucketArgs
from components.restore_testing import RestoreTesting, RestoreTestingArgs
from components.restore_validator import RestoreValidator, RestoreValidatorArgs
from components.scheduled_function import ScheduledFunction, ScheduledFunctionArgs
from components.table_exports import TableExports, TableExportsArgs

__all__ = [
    "AuditFramework",
    "AuditFrameworkArgs",
    "BackupJobAlerts",
    "BackupJobAlertsArgs",
    "BackupPlan",
    "BackupPlanArgs",
    "BackupRegionSettings",
    "BackupRegionSettingsArgs",
    "BackupRule",
    "BackupVault",
    "BackupVaultArgs",
    "BatchReplicationRole",
    "BatchReplicationRoleArgs",
    "BucketReplication",
    "BucketReplicationArgs",
    "ConfigRecorder",
    "ConfigRecorderArgs",
    "CopyAction",
    "Dashboard",
    "DashboardArgs",
    "ExportMonitor",
    "ExportMonitorArgs",
    "ExportsBucket",
    "ExportsBucketArgs",
    "NotificationTopic",
    "NotificationTopicArgs",
    "PostureGuard",
    "PostureGuardArgs",
    "ReplicaBucket",
    "ReplicaBucketArgs",
    "ReplicationAlarms",
    "ReplicationAlarmsArgs",
    "ReportsBucket",
    "ReportsBucketArgs",
    "RestoreTesting",
    "RestoreTestingArgs",
    "RestoreValidator",
    "RestoreValidatorArgs",
    "ScheduledFunction",
    "ScheduledFunctionArgs",
    "Side",
    "TableExports",
    "TableExportsArgs",
]
