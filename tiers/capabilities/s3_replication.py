"""Enhanced's S3 cross-region replication: FormKiQ's documents and our exports, to drRegion.

Per replicated bucket: a replica bucket in drRegion, our one replication rule on the source (on
FormKiQ's bucket that is the only thing added: no versioning, lifecycle or notification), and
alarms on the rule's metrics in the region S3 publishes each in. One role for S3 Batch
Replication serves `formkiq-dr replicate-existing` for both.

An S3 event notification for s3:Replication:OperationFailedReplication is NOT added: a bucket
has one notification configuration and PutBucketNotificationConfiguration replaces it whole
(AmazonS3 API_PutBucketNotificationConfiguration), so it would remove FormKiQ's own
notifications to its DocumentsS3Update Lambda. The OperationsFailedReplication metric alarm
says the same without touching them.
"""

from collections.abc import Mapping
from typing import ClassVar

from components import (
    BatchReplicationRole,
    BatchReplicationRoleArgs,
    BucketReplication,
    BucketReplicationArgs,
    ExportsBucket,
    ReplicaBucket,
    ReplicaBucketArgs,
    ReplicationAlarms,
    ReplicationAlarmsArgs,
    Side,
)
from components.exports_bucket import lifecycle_rules
from components.replication_alarms import WatchedRule, replication_widgets
from formkiq_backup import aws_rules
from formkiq_backup.replication import (
    BATCH_REPORT_PREFIX,
    RULE_ID,
    RULE_PRIORITY,
    Replicated,
    ReplicationPlan,
    batch_replication_role_name,
    planned_replications,
    replication_role_name,
)
from tiers.capabilities.base import Alarm, BuildContext, Contribution, Product
from tiers.definitions import Capability
from tiers.scope import ScopeRole

# The stack output naming each replica bucket.
REPLICA_OUTPUTS = {
    Replicated.DOCUMENTS: "documentsReplicaBucket",
    Replicated.EXPORTS: "exportsReplicaBucket",
}


def replication_plans(context: BuildContext) -> list[ReplicationPlan]:
    """What the stack replicates, named as the posture guard and `formkiq-dr` expect it."""
    environment = context.environment
    return planned_replications(
        app_environment=environment.app_environment,
        account_id=environment.account_id,
        partition=environment.partition,
        prefix=context.primary.naming.prefix,
        documents_bucket=environment.documents_bucket.name,
        dr_region=context.dr.where.region_name,
        with_exports=Capability.SYSTEM_EXPORTS in context.spec.capabilities,
    )


class S3ReplicationBuilder:
    """Replica buckets in drRegion, replication rules with RTC, alarms in both regions."""

    capability: ClassVar[Capability] = Capability.S3_REPLICATION
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY, ScopeRole.DR})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {
        ScopeRole.PRIMARY: frozenset({"cloudwatch.amazonaws.com"}),
        ScopeRole.DR: frozenset({"cloudwatch.amazonaws.com"}),
    }
    needs: ClassVar[frozenset[Product]] = frozenset({Product.EXPORTS_BUCKET})
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        exports = context.product(Product.EXPORTS_BUCKET, ExportsBucket)
        plans = replication_plans(context)
        outputs: dict[str, object] = {}
        alarms: list[Alarm] = []
        for plan in plans:
            replica, plan_alarms = self._replicate(context, plan, exports)
            outputs[REPLICA_OUTPUTS[plan.replicated]] = replica.bucket_name
            alarms += plan_alarms
        batch = self._batch_role(context, plans, exports)
        outputs["batchReplicationRoleArn"] = batch.role_arn
        return Contribution(
            outputs=outputs,
            alarms=alarms,
            # The alarmed metrics, each read where S3 publishes it, as its alarm is.
            widgets=replication_widgets(
                [
                    WatchedRule(
                        plan.replicated.value, plan.source_bucket, plan.replica_bucket, RULE_ID
                    )
                    for plan in plans
                ],
                {
                    Side.SOURCE: (context.primary.region, context.primary.where.region_name),
                    Side.DESTINATION: (context.dr.region, context.dr.where.region_name),
                },
            ),
            verify={
                "replication": [plan.as_output() for plan in plans],
                "batchReplication": {
                    "roleArn": batch.role_arn,
                    "reportBucket": exports.bucket_name,
                    "reportPrefix": BATCH_REPORT_PREFIX,
                },
            },
        )

    @classmethod
    def _replicate(
        cls, context: BuildContext, plan: ReplicationPlan, exports: ExportsBucket
    ) -> tuple[ReplicaBucket, list[Alarm]]:
        """One source: its replica, our rule on it, and the rule's alarms on both sides."""
        replica = cls._replica(context, plan)
        replication = cls._rule(context, plan, replica, exports)
        return replica, cls._alarms(context, plan, replica, replication)

    @staticmethod
    def _replica(context: BuildContext, plan: ReplicationPlan) -> ReplicaBucket:
        """The replica bucket in drRegion, guarded as the exports bucket is."""
        dr, settings, environment = context.dr, context.settings, context.environment
        kind = plan.replicated.value
        return ReplicaBucket(
            dr.naming.resource(f"{kind}-replica"),
            ReplicaBucketArgs(
                bucket_name=plan.replica_bucket,
                key_alias=dr.naming.key_alias(f"{kind}-replica"),
                account_id=environment.account_id,
                partition=environment.partition,
                break_glass_role_arns=settings.break_glass_role_arns,
                # S3 does not replicate lifecycle actions: the exports replica expires like the
                # exports bucket; the documents replica keeps every version, as FormKiQ's does.
                lifecycle_rules=lifecycle_rules(
                    settings.export_retention_days, aws_rules.GLACIER_IR_TRANSITION_DAYS
                )
                if plan.replicated is Replicated.EXPORTS
                else (),
                protect=settings.protect_backups,
                region=dr.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )

    @staticmethod
    def _rule(
        context: BuildContext,
        plan: ReplicationPlan,
        replica: ReplicaBucket,
        exports: ExportsBucket,
    ) -> BucketReplication:
        """Our replication rule on the source bucket, and the role it runs as."""
        primary, environment = context.primary, context.environment
        kind = plan.replicated.value
        is_exports = plan.replicated is Replicated.EXPORTS
        return BucketReplication(
            primary.naming.resource(f"{kind}-replication"),
            BucketReplicationArgs(
                source_bucket=plan.source_bucket,
                source_bucket_arn=plan.expected.source_bucket_arn,
                destination_bucket_arn=replica.bucket_arn,
                destination_region=context.dr.where.region_name,
                destination_key_arn=replica.key_arn,
                destination_versioning=replica.versioning,
                role_name=replication_role_name(primary.naming.prefix, plan.replicated),
                rule_id=RULE_ID,
                priority=RULE_PRIORITY,
                source_region=primary.where.region_name,
                account_id=environment.account_id,
                partition=environment.partition,
                # The exports bucket is SSE-KMS with its own key; FormKiQ's is SSE-S3.
                source_key_arn=exports.key_arn if is_exports else None,
                source_dependencies=[exports] if is_exports else [],
                region=primary.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )

    @staticmethod
    def _alarms(
        context: BuildContext,
        plan: ReplicationPlan,
        replica: ReplicaBucket,
        replication: BucketReplication,
    ) -> list[Alarm]:
        """The rule's metrics alarmed where S3 publishes each: on the source and the replica."""
        kind = plan.replicated.value
        alarms = []
        for side, scope, role in (
            (Side.SOURCE, context.primary, ScopeRole.PRIMARY),
            (Side.DESTINATION, context.dr, ScopeRole.DR),
        ):
            watched = ReplicationAlarms(
                scope.naming.resource(f"{kind}-replication-alarms"),
                ReplicationAlarmsArgs(
                    side=side,
                    source_bucket=plan.source_bucket,
                    destination_bucket=replica.bucket_name,
                    rule_id=replication.rule_id,
                    topic_arn=scope.alerts.topic_arn,
                    alarm_name_prefix=scope.naming.resource(kind),
                    region=scope.region,
                    tags=context.tags,
                ),
                context.child_opts(),
            )
            alarms += [Alarm(role, name) for name in watched.alarm_names]
        return alarms

    @staticmethod
    def _batch_role(
        context: BuildContext, plans: list[ReplicationPlan], exports: ExportsBucket
    ) -> BatchReplicationRole:
        """The role replicate-existing's jobs run as; manifests and reports in the exports
        bucket, under their own prefix."""
        primary = context.primary
        return BatchReplicationRole(
            primary.naming.resource("batch-replication"),
            BatchReplicationRoleArgs(
                role_name=batch_replication_role_name(primary.naming.prefix),
                source_bucket_arns=[plan.expected.source_bucket_arn for plan in plans],
                report_bucket_arn=exports.bucket_arn,
                report_prefix=BATCH_REPORT_PREFIX,
                report_key_arn=exports.key_arn,
                region=primary.where.region_name,
                partition=context.environment.partition,
                tags=context.tags,
            ),
            context.child_opts(),
        )
