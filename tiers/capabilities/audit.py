"""Audit evidence: a Backup Audit Manager framework of what the tier promises, and its reports.

The controls are those the capabilities before this one contributed (each evidences what it
built, parameters from the stack's settings), so a capability added later adds its controls
without this module changing. Reports of the backup, copy and restore jobs and of the
framework's compliance land daily in a bucket of their own. AWS Config must record the backup
resource types for the controls to evaluate: `audit.configRecorder` makes a recorder where the
region has none (README, "AWS Config prerequisite").
"""

from collections.abc import Mapping
from typing import ClassVar

from components.audit_framework import AuditFramework, AuditFrameworkArgs
from components.config_recorder import ConfigRecorder, ConfigRecorderArgs
from components.reports_bucket import ReportsBucket, ReportsBucketArgs
from tiers.capabilities.base import BuildContext, Contribution, Product
from tiers.definitions import Capability
from tiers.scope import Naming, ScopeRole

REPORT_PREFIX = "reports"
CONFIG_PREFIX = "config"


class AuditBuilder:
    """The framework, its report plans, the reports bucket and, if asked, a Config recorder.

    Registered after every capability that contributes controls (tiers/capabilities/__init__).
    """

    capability: ClassVar[Capability] = Capability.AUDIT
    scopes: ClassVar[frozenset[ScopeRole]] = frozenset({ScopeRole.PRIMARY})
    publishers: ClassVar[Mapping[ScopeRole, frozenset[str]]] = {}
    needs: ClassVar[frozenset[Product]] = frozenset()
    makes: ClassVar[frozenset[Product]] = frozenset()

    def build(self, context: BuildContext) -> Contribution:
        scope = context.primary
        naming = scope.naming
        environment = context.environment
        wanted = context.settings.audit
        bucket = ReportsBucket(
            naming.resource("audit-reports"),
            ReportsBucketArgs(
                bucket_name=Naming.bucket(
                    "reports", environment.app_environment, environment.account_id
                ),
                key_alias=naming.key_alias("reports"),
                account_id=environment.account_id,
                partition=environment.partition,
                retention_days=wanted.report_retention_days,
                report_prefix=REPORT_PREFIX,
                other_prefixes=(CONFIG_PREFIX,) if wanted.config_recorder else (),
                break_glass_role_arns=context.settings.break_glass_role_arns,
                protect=context.settings.protect_backups,
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(),
        )
        framework = AuditFramework(
            naming.resource("audit"),
            AuditFrameworkArgs(
                framework_name=naming.underscored("backup_evidence"),
                description=(
                    f"What the {context.spec.tier.value} tier of FormKiQ "
                    f"{environment.app_environment}'s backups promises, with its settings"
                ),
                controls=[
                    control
                    for contribution in context.contributions
                    for control in contribution.audit_controls
                ],
                report_bucket_name=bucket.bucket_name,
                report_prefix=REPORT_PREFIX,
                report_plan_prefix=naming.underscored("backup"),
                region=scope.region,
                tags=context.tags,
            ),
            context.child_opts(depends_on=[bucket]),
        )
        if wanted.config_recorder:
            ConfigRecorder(
                naming.resource("config-recorder"),
                ConfigRecorderArgs(
                    recorder_name=naming.resource("backup-resources"),
                    role_name=naming.role("config-recorder"),
                    bucket_name=bucket.bucket_name,
                    bucket_arn=bucket.bucket_arn,
                    key_arn=bucket.key_arn,
                    account_id=environment.account_id,
                    partition=environment.partition,
                    key_prefix=CONFIG_PREFIX,
                    region=scope.region,
                    tags=context.tags,
                ),
                context.child_opts(),
            )
        return Contribution(
            outputs={
                "auditFrameworkArn": framework.framework_arn,
                "reportsBucket": bucket.bucket_name,
            }
        )
