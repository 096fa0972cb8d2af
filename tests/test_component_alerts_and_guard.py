"""BackupJobAlerts and PostureGuard: failures and silence reach the topic, the guard is alarmed."""

import json
from collections.abc import Callable
from dataclasses import dataclass

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
    }
    raise_errors = bool(changes.pop("raise_errors", True))
    return build(
        lambda: PostureGuard("guard", PostureGuardArgs(**{**args, **changes})),  # type: ignore[arg-type]
        raise_errors=raise_errors,
    )


def test_failed_aborted_and_expired_jobs_use_detail_state(build: Build) -> None:
    run = alerts(build)
    rules = {
        r.name: json.loads(r.inputs["eventPattern"])
        for r in run.of_type("aws:cloudwatch/eventRule:EventRule")
    }

    assert rules["alerts-job-failures"] == {
        "source": ["aws.backup"],
        "detail-type": ["Backup Job State Change", "Copy Job State Change"],
        "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"]},
    }


def test_failed_restores_use_detail_status(build: Build) -> None:
    """Restore job events carry detail.status, not detail.state (events-ref-backup)."""
    run = alerts(build)
    pattern = json.loads(run.named("alerts-restore-failures").inputs["eventPattern"])
    assert pattern == {
        "source": ["aws.backup"],
        "detail-type": ["Restore Job State Change"],
        "detail": {"status": ["FAILED"]},
    }


def test_both_rules_deliver_readable_messages_to_the_topic(build: Build) -> None:
    run = alerts(build)
    targets = run.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 2
    for target in targets:
        assert target.inputs["arn"] == TOPIC
        transformer = target.inputs["inputTransformer"]
        assert transformer["inputPaths"]["resource"] == "$.detail.resourceArn"
        assert "<resource>" in json.loads(transformer["inputTemplate"])


def test_silence_alarms_after_26_hours_without_a_completed_backup(build: Build) -> None:
    run = alerts(build)
    alarm = run.one("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["namespace"] == "AWS/Backup"
    assert alarm.inputs["metricName"] == "NumberOfBackupJobsCompleted"
    assert alarm.inputs["dimensions"] == {"BackupVaultName": "formkiq-prod-backup-vault"}
    assert (
        alarm.inputs["period"],
        alarm.inputs["evaluationPeriods"],
        alarm.inputs["datapointsToAlarm"],
    ) == (
        3600,
        26,
        26,
    )
    assert (
        alarm.inputs["statistic"],
        alarm.inputs["comparisonOperator"],
        alarm.inputs["threshold"],
    ) == (
        "Sum",
        "LessThanThreshold",
        1,
    )
    # AWS/Backup publishes only non-zero values: no data means nothing completed.
    assert alarm.inputs["treatMissingData"] == "breaching"
    assert alarm.inputs["alarmActions"] == [TOPIC]


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
        a.inputs["name"]: a.inputs for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
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
    ],
)
def test_bad_guard_arguments_fail_before_anything_is_registered(
    build: Build, changes: dict[str, object], message: str
) -> None:
    run = guard(build, raise_errors=False, **changes)
    assert message in str(run.error)
    assert run.resources == []
