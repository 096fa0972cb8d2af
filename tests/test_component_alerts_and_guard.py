"""BackupJobAlerts and PostureGuard: failures and silence reach the topic, the guard is alarmed."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from components import BackupJobAlerts, BackupJobAlertsArgs, PostureGuard, PostureGuardArgs
from formkiq_backup.lambdas import POSTURE_GUARD
from formkiq_backup.offline.program import ProgramRun
from formkiq_backup.posture import Check

Build = Callable[..., ProgramRun]
TOPIC = "arn:aws:sns:us-east-1:111122223333:alerts"


@dataclass(frozen=True)
class Named:
    name: str
    arn: str


DOCUMENTS = Named(
    "formkiq-core-prod-documents",
    "arn:aws:dynamodb:us-east-1:111122223333:table/formkiq-core-prod-documents",
)
SYNCS = Named(
    "formkiq-core-prod-documentsyncs",
    "arn:aws:dynamodb:us-east-1:111122223333:table/formkiq-core-prod-documentsyncs",
)
BUCKET = Named(
    "formkiq-core-prod-documents-111122223333",
    "arn:aws:s3:::formkiq-core-prod-documents-111122223333",
)


def alerts(build: Build, **changes: object) -> ProgramRun:
    args = {
        "topic_arn": TOPIC,
        "vault_name": "formkiq-prod-backup-vault",
        "name_prefix": "formkiq-prod",
    }
    return build(lambda: BackupJobAlerts("alerts", BackupJobAlertsArgs(**{**args, **changes})))  # type: ignore[arg-type]


def guard(build: Build, **changes: object) -> ProgramRun:
    args = {
        "app_environment": "prod",
        "account_id": "111122223333",
        "tables": [DOCUMENTS, SYNCS],
        "buckets": [BUCKET],
        "alarm_topic_arn": TOPIC,
        "alarm_topic_key_arn": "arn:aws:kms:us-east-1:111122223333:key/alerts",
        "alarm_name_prefix": "formkiq-prod",
        "function_name": "formkiq-prod-posture-guard",
        "role_name": "formkiq-prod-posture-guard",
        "schedule_name": "formkiq-prod-posture-guard",
    }
    raise_errors = bool(changes.pop("raise_errors", True))
    return build(
        lambda: PostureGuard("guard", PostureGuardArgs(**{**args, **changes})),  # type: ignore[arg-type]
        raise_errors=raise_errors,
    )


def test_failed_aborted_expired_and_partial_jobs_use_detail_state(build: Build) -> None:
    run = alerts(build)
    rules = {
        r.name: json.loads(r.inputs["eventPattern"])
        for r in run.of_type("aws:cloudwatch/eventRule:EventRule")
    }

    # Backup jobs also end PARTIAL, copy jobs PARTIAL (aws-backup eventbridge events).
    assert rules["alerts-job-failures"] == {
        "source": ["aws.backup"],
        "detail-type": ["Backup Job State Change", "Copy Job State Change"],
        "detail": {"state": ["ABORTED", "EXPIRED", "FAILED", "PARTIAL"]},
    }


def test_failed_and_aborted_restores_use_detail_status(build: Build) -> None:
    """Restore job events carry detail.status, not detail.state (events-ref-backup)."""
    run = alerts(build)
    pattern = json.loads(run.named("alerts-restore-failures").inputs["eventPattern"])
    assert pattern == {
        "source": ["aws.backup"],
        "detail-type": ["Restore Job State Change"],
        "detail": {"status": ["ABORTED", "FAILED"]},
    }


def test_completed_jobs_with_a_status_message_are_alerted(build: Build) -> None:
    """The console's "completed with issues": COMPLETED and a non-empty statusMessage."""
    run = alerts(build)
    rule = run.named("alerts-completed-with-issues")
    assert rule.inputs["name"] == "formkiq-prod-completed-with-issues"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.backup"],
        "detail-type": ["Backup Job State Change"],
        "detail": {"state": ["COMPLETED"], "statusMessage": [{"anything-but": [""]}]},
    }
    target = run.named("alerts-completed-with-issues-to-topic")
    assert "<state> with issues for <resource>" in delivered(target.inputs)["alert"]


def delivered(inputs: dict[str, Any], message: str = "") -> dict[str, str]:
    """The alert as EventBridge would send it: a value placeholder becomes a JSON string."""
    template = inputs["inputTransformer"]["inputTemplate"]
    return json.loads(template.replace("<message>", json.dumps(message)))  # type: ignore[no-any-return]


def test_every_rule_delivers_readable_messages_to_the_topic(build: Build) -> None:
    run = alerts(build)
    targets = run.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 3
    for target in targets:
        assert target.inputs["arn"] == TOPIC
        transformer = target.inputs["inputTransformer"]
        assert transformer["inputPaths"]["resource"] == "$.detail.resourceArn"
        assert "<resource>" in delivered(target.inputs)["alert"]
        # AWS Backup's message travels as a JSON value: a quote in it cannot break the alert.
        assert delivered(target.inputs, 'say "no"')["statusMessage"] == 'say "no"'


def _alarms(run: ProgramRun) -> dict[str, dict[str, object]]:
    return {
        a.inputs["name"]: a.inputs for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def test_a_rule_that_cannot_deliver_to_the_topic_alarms(build: Build) -> None:
    """A topic that refuses EventBridge shows only as AWS/Events FailedInvocations."""
    run = alerts(build)
    alarms = _alarms(run)

    rules = {r.inputs["name"] for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert rules == {
        "formkiq-prod-job-failures",
        "formkiq-prod-restore-failures",
        "formkiq-prod-completed-with-issues",
    }
    for rule in rules:
        alarm = alarms[f"{rule}-delivery-failed"]
        assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Events", "FailedInvocations")
        assert alarm["dimensions"] == {"RuleName": rule}
        assert (alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
        )
        # Only failures are published: no data is no failure.
        assert alarm["treatMissingData"] == "notBreaching"
        # A CloudWatch alarm action: a path that does not depend on EventBridge.
        assert alarm["alarmActions"] == [TOPIC]


def test_silence_alarms_per_resource_type_after_26_hours(build: Build) -> None:
    """Summed over the vault, healthy tables would hide a bucket that never backs up."""
    run = alerts(build)
    alarms = _alarms(run)
    silence = {name: a for name, a in alarms.items() if a["namespace"] == "AWS/Backup"}

    assert set(silence) == {
        "formkiq-prod-no-completed-dynamodb-backup-26h",
        "formkiq-prod-no-completed-s3-backup-26h",
    }
    for resource_type, alarm in (
        ("DynamoDB", silence["formkiq-prod-no-completed-dynamodb-backup-26h"]),
        ("S3", silence["formkiq-prod-no-completed-s3-backup-26h"]),
    ):
        assert alarm["metricName"] == "NumberOfBackupJobsCompleted"
        # The dimension set AWS Backup publishes (aws-backup devguide, cloudwatch).
        assert alarm["dimensions"] == {
            "BackupVaultName": "formkiq-prod-backup-vault",
            "ResourceType": resource_type,
        }
        assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (
            3600,
            26,
            26,
        )
        assert (alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
            "Sum",
            "LessThanThreshold",
            1,
        )
        # AWS/Backup publishes only non-zero values: no data means nothing completed.
        assert alarm["treatMissingData"] == "breaching"
        assert alarm["alarmActions"] == [TOPIC]


def test_only_the_given_resource_types_get_a_silence_alarm(build: Build) -> None:
    run = alerts(build, resource_types=["DynamoDB"])
    silence = [a for a in _alarms(run).values() if a["namespace"] == "AWS/Backup"]
    assert [a["dimensions"]["ResourceType"] for a in silence] == ["DynamoDB"]  # type: ignore[index]


def test_a_vault_that_only_receives_copies_gets_the_failure_rules_but_no_silence_alarm(
    build: Build,
) -> None:
    """No backup job completes into a copy destination: a silence alarm would never clear."""
    run = alerts(build, resource_types=[])
    assert [a for a in _alarms(run).values() if a["namespace"] == "AWS/Backup"] == []
    assert len(run.of_type("aws:cloudwatch/eventRule:EventRule")) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resource_types": ["Dynamo"]}, "resource type 'Dynamo' is not one AWS Backup"),
        ({"name_prefix": "p" * 60}, "EventBridge rule name"),
    ],
)
def test_bad_alert_arguments_fail_before_anything_is_registered(
    build: Build, changes: dict[str, object], message: str
) -> None:
    run = build(
        lambda: BackupJobAlerts(
            "alerts",
            BackupJobAlertsArgs(
                **{"topic_arn": TOPIC, "vault_name": "v", "name_prefix": "p", **changes}  # type: ignore[arg-type]
            ),
        ),
        raise_errors=False,
    )
    assert message in str(run.error)
    assert run.resources == []


def test_silence_window_beyond_cloudwatch_limits_is_rejected(build: Build) -> None:
    run = build(
        lambda: BackupJobAlerts(
            "alerts",
            BackupJobAlertsArgs(
                topic_arn=TOPIC, vault_name="v", name_prefix="p", hours_without_completed_backup=200
            ),
        ),
        raise_errors=False,
    )
    assert "must be 1 period up to 604800s" in str(run.error)
    assert run.resources == []


def test_guard_runs_the_bundled_handler_on_a_schedule_with_its_targets(build: Build) -> None:
    run = guard(build)

    function = run.one("aws:lambda/function:Function")
    assert function.inputs["handler"] == POSTURE_GUARD.handler
    assert function.inputs["runtime"] == "python3.12"
    variables = function.inputs["environment"]["variables"]
    assert json.loads(variables["PROTECTED_TABLES"]) == [DOCUMENTS.name, SYNCS.name]
    assert json.loads(variables["PROTECTED_BUCKETS"]) == [BUCKET.name]
    assert (variables["MINIMUM_PITR_DAYS"], variables["REMEDIATE"]) == ("35", "false")
    assert variables["ALARM_TOPIC_ARN"] == TOPIC

    schedule = run.one("aws:cloudwatch/eventRule:EventRule")
    assert schedule.inputs["scheduleExpression"] == "rate(15 minutes)"
    assert run.one("aws:cloudwatch/eventTarget:EventTarget").inputs["arn"] == function.state["arn"]
    permission = run.one("aws:lambda/permission:Permission")
    assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == (
        "events.amazonaws.com",
        schedule.state["arn"],
    )


def test_one_alarm_per_check_treating_silence_as_a_breach(build: Build) -> None:
    run = guard(build)

    alarms = {
        a.inputs["name"]: a.inputs
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["namespace"] == "FormKiQ/Backup"
    }
    assert set(alarms) == {
        "formkiq-prod-pitr-formkiq-core-prod-documents",
        "formkiq-prod-pitr-formkiq-core-prod-documentsyncs",
        "formkiq-prod-versioning-formkiq-core-prod-documents-111122223333",
    }
    pitr = alarms["formkiq-prod-pitr-formkiq-core-prod-documents"]
    # The alarm watches exactly what the Lambda publishes (formkiq_backup.posture).
    assert (pitr["namespace"], pitr["metricName"]) == ("FormKiQ/Backup", Check.PITR.value)
    assert pitr["dimensions"] == {"AppEnvironment": "prod", "TableName": DOCUMENTS.name}
    versioning = alarms["formkiq-prod-versioning-formkiq-core-prod-documents-111122223333"]
    assert versioning["dimensions"] == {"AppEnvironment": "prod", "BucketName": BUCKET.name}
    for alarm in alarms.values():
        assert alarm["treatMissingData"] == "breaching"
        assert (alarm["statistic"], alarm["threshold"], alarm["comparisonOperator"]) == (
            "Minimum",
            1,
            "LessThanThreshold",
        )
        assert alarm["period"] == 1800  # two check intervals: one late run is tolerated
        assert alarm["alarmActions"] == alarm["okActions"] == [TOPIC]


def test_guard_resources_carry_the_names_they_are_given(build: Build) -> None:
    """Auto-names are logical name + 8 characters: too long for AWS with long environments."""
    run = guard(build)

    assert run.one("aws:lambda/function:Function").inputs["name"] == "formkiq-prod-posture-guard"
    assert run.one("aws:iam/role:Role").inputs["name"] == "formkiq-prod-posture-guard"
    assert run.one("aws:cloudwatch/eventRule:EventRule").inputs["name"] == (
        "formkiq-prod-posture-guard"
    )
    log_group = run.one("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["name"] == "/aws/lambda/formkiq-prod-posture-guard"


def test_a_schedule_that_cannot_invoke_the_guard_alarms_by_name(build: Build) -> None:
    run = guard(build)
    alarm = run.named("guard-schedule-delivery").inputs

    assert alarm["name"] == "formkiq-prod-posture-guard-delivery-failed"
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Events", "FailedInvocations")
    assert alarm["dimensions"] == {"RuleName": "formkiq-prod-posture-guard"}
    assert alarm["alarmActions"] == [TOPIC]


VAULT = "formkiq-prod-backup-vault"


def test_with_a_vault_each_backed_up_resource_gets_a_recovery_point_alarm(build: Build) -> None:
    """Per resource: one failing resource cannot hide behind healthy ones."""
    run = guard(build, backup_vault_name=VAULT, backed_up=[DOCUMENTS, SYNCS, BUCKET])

    alarms = {
        a.inputs["name"]: a.inputs
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == Check.RECOVERY_POINT.value
    }
    assert set(alarms) == {
        f"formkiq-prod-recovery-point-{DOCUMENTS.name}",
        f"formkiq-prod-recovery-point-{SYNCS.name}",
        f"formkiq-prod-recovery-point-{BUCKET.name}",
    }
    bucket = alarms[f"formkiq-prod-recovery-point-{BUCKET.name}"]
    # Exactly what the Lambda publishes (formkiq_backup.posture.PostureFinding.metric_datum).
    assert bucket["namespace"] == "FormKiQ/Backup"
    assert bucket["dimensions"] == {"AppEnvironment": "prod", "ResourceName": BUCKET.name}
    assert (bucket["statistic"], bucket["threshold"], bucket["treatMissingData"]) == (
        "Minimum",
        1,
        "breaching",
    )

    variables = run.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    assert variables["BACKUP_VAULT_NAME"] == VAULT
    assert json.loads(variables["BACKED_UP_RESOURCES"]) == {
        DOCUMENTS.name: DOCUMENTS.arn,
        SYNCS.name: SYNCS.arn,
        BUCKET.name: BUCKET.arn,
    }
    assert variables["RECOVERY_POINT_MAX_AGE_HOURS"] == "26"
    assert _statements(run)["ReadRecoveryPoints"] == {
        "Sid": "ReadRecoveryPoints",
        "Effect": "Allow",
        "Action": "backup:ListRecoveryPointsByResource",
        "Resource": "*",
    }


def test_without_a_vault_the_guard_checks_no_recovery_points(build: Build) -> None:
    run = guard(build)
    variables = run.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    assert "BACKUP_VAULT_NAME" not in variables
    assert "ReadRecoveryPoints" not in _statements(run)


def _statements(run: ProgramRun) -> dict[str, dict[str, object]]:
    policy = json.loads(run.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_guard_role_is_read_only_without_remediation(build: Build) -> None:
    statements = _statements(guard(build))

    assert statements["CheckTablePitr"]["Action"] == ["dynamodb:DescribeContinuousBackups"]
    assert statements["CheckTablePitr"]["Resource"] == [DOCUMENTS.arn, SYNCS.arn]
    assert statements["CheckBucketVersioning"]["Action"] == ["s3:GetBucketVersioning"]
    assert statements["PublishPostureMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "FormKiQ/Backup"}
    }
    assert statements["EncryptForAlarmTopic"]["Resource"] == (
        "arn:aws:kms:us-east-1:111122223333:key/alerts"
    )


def test_remediation_adds_only_the_two_write_actions(build: Build) -> None:
    run = guard(build, remediate=True)
    statements = _statements(run)

    assert statements["CheckTablePitr"]["Action"] == [
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:UpdateContinuousBackups",
    ]
    assert statements["CheckBucketVersioning"]["Action"] == [
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
    ]
    variables = run.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    assert variables["REMEDIATE"] == "true"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"minimum_pitr_days": 40}, "minimum_pitr_days=40: DynamoDB keeps 1..35 days"),
        ({"tables": [], "buckets": []}, "nothing to watch"),
        ({"check_every_minutes": 1000}, "check_every_minutes=1000"),
        ({"function_name": "f" * 65}, "Lambda function name 'fff"),
        ({"schedule_name": "guard schedule"}, "EventBridge rule name 'guard schedule' must match"),
        ({"backup_vault_name": VAULT}, "backed_up names no resource"),
    ],
)
def test_bad_guard_arguments_fail_before_anything_is_registered(
    build: Build, changes: dict[str, object], message: str
) -> None:
    run = guard(build, raise_errors=False, **changes)
    assert message in str(run.error)
    assert run.resources == []
