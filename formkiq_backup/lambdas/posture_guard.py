"""Scheduled Lambda: check (and optionally restore) FormKiQ's PITR and versioning, that every
protected resource has a fresh recovery point in the backup vault (Standard and up), and that
our replication rules are still on their buckets, complete (Enhanced and up).

It publishes one metric per check for the CloudWatch alarms, which treat missing data as
breaching, so a guard that stops running alarms too. It publishes to the alarm topic only when
it remediated something: violations themselves reach people through the alarms.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from formkiq_backup.posture import (
    METRIC_NAMESPACE,
    REQUIRED_PITR_DAYS,
    Check,
    ExpectedReplication,
    PostureFinding,
    check_recovery_point,
    check_replication,
    evaluate_posture,
    remediation_notice,
)

# Adaptive retries: throttling of Describe* calls must not turn into a false alarm.
_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})
# PutMetricData takes at most 1,000 datums a call; stay far below it.
_METRIC_BATCH = 20


@dataclass(frozen=True)
class GuardSettings:
    """What the Pulumi component tells the guard, through environment variables."""

    app_environment: str
    tables: tuple[str, ...]
    buckets: tuple[str, ...]
    topic_arn: str
    minimum_pitr_days: int = REQUIRED_PITR_DAYS
    remediate: bool = False
    metric_namespace: str = METRIC_NAMESPACE
    backup_vault: str = ""
    """The vault the plan backs up into; empty: no recovery point checks (Basic)."""
    backed_up_resources: tuple[tuple[str, str], ...] = ()
    """(name, ARN) of every resource the plan selects."""
    recovery_point_max_age_hours: int = 26
    copy_vault: str = ""
    """The DR region's vault the plan copies into; empty: no copy checks (below Enhanced)."""
    copy_region: str = ""
    replications: tuple[ExpectedReplication, ...] = ()
    """Our replication rules on their source buckets (Enhanced and up)."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "GuardSettings":
        """Read the settings the PostureGuard component writes."""
        return cls(
            app_environment=environ["APP_ENVIRONMENT"],
            tables=tuple(json.loads(environ["PROTECTED_TABLES"])),
            buckets=tuple(json.loads(environ["PROTECTED_BUCKETS"])),
            topic_arn=environ["ALARM_TOPIC_ARN"],
            minimum_pitr_days=int(environ.get("MINIMUM_PITR_DAYS", REQUIRED_PITR_DAYS)),
            remediate=environ.get("REMEDIATE", "false").lower() == "true",
            metric_namespace=environ.get("METRIC_NAMESPACE", METRIC_NAMESPACE),
            backup_vault=environ.get("BACKUP_VAULT_NAME", ""),
            backed_up_resources=tuple(json.loads(environ.get("BACKED_UP_RESOURCES", "{}")).items()),
            recovery_point_max_age_hours=int(environ.get("RECOVERY_POINT_MAX_AGE_HOURS", 26)),
            copy_vault=environ.get("COPY_VAULT_NAME", ""),
            copy_region=environ.get("COPY_VAULT_REGION", ""),
            replications=tuple(
                ExpectedReplication.from_json(rule)
                for rule in json.loads(environ.get("REPLICATION_RULES", "[]"))
            ),
        )


def run_guard(settings: GuardSettings, session: Any) -> list[PostureFinding]:
    """Check, optionally remediate, publish metrics and any remediation notice."""
    dynamodb = session.client("dynamodb", config=_CLIENT_CONFIG)
    s3 = session.client("s3", config=_CLIENT_CONFIG)
    findings = evaluate_posture(
        settings.tables,
        settings.buckets,
        dynamodb,
        s3,
        minimum_pitr_days=settings.minimum_pitr_days,
        remediate_violations=settings.remediate,
    )
    if settings.backup_vault:
        backup = session.client("backup", config=_CLIENT_CONFIG)
        findings += [
            check_recovery_point(
                backup,
                name,
                arn,
                settings.backup_vault,
                max_age_hours=settings.recovery_point_max_age_hours,
            )
            for name, arn in settings.backed_up_resources
        ]
    if settings.copy_vault:
        copies = session.client(
            "backup", region_name=settings.copy_region or None, config=_CLIENT_CONFIG
        )
        findings += [
            check_recovery_point(
                copies,
                name,
                arn,
                settings.copy_vault,
                max_age_hours=settings.recovery_point_max_age_hours,
                check=Check.COPY,
            )
            for name, arn in settings.backed_up_resources
        ]
    findings += [check_replication(s3, rule) for rule in settings.replications]
    cloudwatch = session.client("cloudwatch", config=_CLIENT_CONFIG)
    datums = [finding.metric_datum(settings.app_environment) for finding in findings]
    for start in range(0, len(datums), _METRIC_BATCH):
        cloudwatch.put_metric_data(
            Namespace=settings.metric_namespace, MetricData=datums[start : start + _METRIC_BATCH]
        )
    notice = remediation_notice(findings, settings.app_environment)
    if notice:
        session.client("sns", config=_CLIENT_CONFIG).publish(
            TopicArn=settings.topic_arn,
            Subject=f"FormKiQ backup posture remediated ({settings.app_environment})"[:100],
            Message=notice,
        )
    return findings


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point; the event (a schedule tick) carries nothing we need."""
    findings = run_guard(GuardSettings.from_environment(os.environ), boto3.session.Session())
    for finding in findings:
        print(finding.describe())  # one CloudWatch Logs line per check
    return {
        "compliant": all(finding.compliant for finding in findings),
        "findings": [finding.describe() for finding in findings],
    }
