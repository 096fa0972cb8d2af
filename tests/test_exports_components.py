"""The system exports under Pulumi mocks: what AWS would receive for the bucket and the jobs."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws
import pytest

from components import (
    ExportsBucket,
    ExportsBucketArgs,
    ScheduledFunction,
    ScheduledFunctionArgs,
    TableExports,
    TableExportsArgs,
)
from formkiq_backup.lambdas import USERS_EXPORT
from formkiq_backup.offline.changes import removal_plan
from formkiq_backup.offline.program import ProgramRun, run_program

Build = Callable[..., ProgramRun]
ACCOUNT = "111122223333"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/BackupBreakGlass"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
BUCKET = f"formkiq-prod-exports-{ACCOUNT}"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/exports"


@dataclass(frozen=True)
class Table:
    name: str
    arn: str
    label: str


DOCUMENTS = Table(
    "formkiq-core-prod-documents",
    f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/formkiq-core-prod-documents",
    "documents",
)
SYNCS = Table(
    "formkiq-core-prod-documentsyncs",
    f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/formkiq-core-prod-documentsyncs",
    "documentsyncs",
)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    """The example standard stack, rendered once for the tests that only read it."""
    return run_program("prod")


@pytest.fixture(scope="module")
def unprotected_standard() -> ProgramRun:
    return run_program("prod", overrides={"protectBackups": False})


def bucket_args(**changes: object) -> ExportsBucketArgs:
    base: dict[str, Any] = {
        "bucket_name": BUCKET,
        "key_alias": "alias/formkiq-prod-backup-exports",
        "account_id": ACCOUNT,
        "partition": "aws",
        "retention_days": 365,
        "break_glass_role_arns": [BREAK_GLASS],
        "descriptor": {"maxAgeDays": 33},
    }
    return ExportsBucketArgs(**{**base, **changes})


def table_args(**changes: object) -> TableExportsArgs:
    base: dict[str, Any] = {
        "tables": [DOCUMENTS, SYNCS],
        "bucket_name": BUCKET,
        "bucket_arn": BUCKET_ARN,
        "key_arn": KEY,
        "schedule_expression": "cron(0 6 1 * ? *)",
        "schedule_timezone": "Europe/Berlin",
        "schedule_group_name": "formkiq-prod-exports",
        "name_prefix": "formkiq-prod",
        "account_id": ACCOUNT,
        "partition": "aws",
        "alarm_topic_arn": TOPIC,
    }
    return TableExportsArgs(**{**base, **changes})


def alarms_by_metric(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {
        a.inputs["metricName"]: a.inputs
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


# --- bucket -------------------------------------------------------------------------------------


def test_bucket_is_versioned_kms_encrypted_private_and_owner_enforced(build: Build) -> None:
    run = build(lambda: ExportsBucket("exports", bucket_args()))

    bucket = run.one("aws:s3/bucket:Bucket")
    assert (bucket.inputs["bucket"], bucket.inputs["forceDestroy"]) == (BUCKET, False)
    versioning = run.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    key = run.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    (rule,) = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"]
    assert rule == {
        "applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": key.state["arn"],
        },
        "bucketKeyEnabled": True,
    }
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[flag]
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    ownership = run.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def policy_statements(run: ProgramRun) -> dict[str, dict[str, Any]]:
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]
    return {s["Sid"]: s for s in json.loads(policy)["Statement"]}


def test_policy_denies_plain_http_and_every_way_to_delete_exports_to_all_but_break_glass(
    build: Build,
) -> None:
    """S3's PutBucketLifecycleConfiguration page: blocking deletion needs DeleteObject,
    DeleteObjectVersion and PutLifecycleConfiguration denied; then replacing or removing the
    policy and suspending versioning would lift it."""
    run = build(lambda: ExportsBucket("exports", bucket_args()))

    statements = policy_statements(run)
    tls = statements["DenyInsecureTransport"]
    assert (tls["Effect"], tls["Action"], tls["Condition"]) == (
        "Deny",
        "s3:*",
        {"Bool": {"aws:SecureTransport": "false"}},
    )
    assert tls["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    deletes = statements["OnlyBreakGlassDeletesExportsOrLiftsThisProtection"]
    assert (deletes["Effect"], deletes["Principal"]) == ("Deny", {"AWS": "*"})
    assert set(deletes["Action"]) == {
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:PutBucketVersioning",
    }
    # Bucket actions need the bucket's ARN, object actions the objects'.
    assert deletes["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert deletes["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [BREAK_GLASS]}}


def test_without_break_glass_roles_the_deny_has_no_exception(build: Build) -> None:
    run = build(lambda: ExportsBucket("exports", bucket_args(break_glass_role_arns=[])))

    deletes = policy_statements(run)["OnlyBreakGlassDeletesExportsOrLiftsThisProtection"]
    assert "Condition" not in deletes
    key = run.one("aws:kms/key:Key").inputs
    # Nobody could ever change a key policy that denied PutKeyPolicy to all.
    guard = json.loads(key["policy"])["Statement"][1]
    assert "kms:PutKeyPolicy" not in guard["Action"]
    assert key["bypassPolicyLockoutSafetyCheck"] is False


def test_exports_key_is_guarded_as_the_vault_key_is(build: Build) -> None:
    """kms:PutKeyPolicy denied with break-glass roles: otherwise whoever may deploy could lift
    the deny on ScheduleKeyDeletion and then delete the key."""
    key = build(lambda: ExportsBucket("exports", bucket_args())).one("aws:kms/key:Key").inputs

    guard = json.loads(key["policy"])["Statement"][1]
    assert guard["Sid"] == "OnlyBreakGlassDeletesKey"
    assert guard["Action"] == ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"]
    assert guard["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [BREAK_GLASS]}}
    assert key["bypassPolicyLockoutSafetyCheck"] is True


def test_policy_comes_after_the_versioning_and_lifecycle_it_freezes(build: Build) -> None:
    """The deployer may not put them once the policy is there: a first deploy must order them."""
    run = build(lambda: ExportsBucket("exports", bucket_args()))

    policy = run.one("aws:s3/bucketPolicy:BucketPolicy")
    for frozen in (
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    ):
        assert run.one(frozen).urn in policy.dependencies, frozen


def test_lifecycle_moves_exports_to_glacier_ir_at_60_days_and_expires_them(build: Build) -> None:
    run = build(lambda: ExportsBucket("exports", bucket_args(retention_days=400)))

    lifecycle = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs
    rules = lifecycle["rules"]
    data_rules = {r["filter"]["prefix"]: r for r in rules if r["filter"]["prefix"].endswith("/")}
    assert set(data_rules) == {"dynamodb/", "cognito/", "infrastructure/"}
    # Stated, not left to S3's default: objects under 128 KB do not move to GLACIER_IR.
    assert lifecycle["transitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    for rule in data_rules.values():
        assert rule["status"] == "Enabled"
        assert rule["transitions"] == [{"days": 60, "storageClass": "GLACIER_IR"}]
        assert rule["expiration"] == {"days": 400}
        assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    (tidy,) = [r for r in rules if not r["filter"]["prefix"]]
    # ExpiredObjectDeleteMarker cannot share an Expiration with Days: a rule of its own.
    assert tidy["expiration"] == {"expiredObjectDeleteMarker": True}
    assert tidy["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_old_versions_of_the_descriptor_expire(build: Build) -> None:
    """Every `pulumi up` that changes `exports.json` leaves a noncurrent version behind."""
    rules = (
        build(lambda: ExportsBucket("exports", bucket_args()))
        .one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        .inputs["rules"]
    )

    (descriptor,) = [r for r in rules if r["filter"]["prefix"] == "exports.json"]
    assert descriptor["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    # The current version is what the monitor and verify read: it never expires.
    assert "expiration" not in descriptor


def test_every_child_of_the_bucket_is_retained_and_all_but_the_descriptor_protected(
    build: Build,
) -> None:
    """The bucket stays, so everything it holds and everything configuring it stays: deleting
    `exports.json` means deleting each of its versions, which the policy denies."""
    run = build(lambda: ExportsBucket("exports", bucket_args()))

    children = [r for r in run.resources if r.custom]
    assert all(r.retain_on_delete for r in children), [
        r.name for r in children if not r.retain_on_delete
    ]
    assert {r.type.split(":")[-1] for r in children if not r.protect} == {"BucketObjectv2"}
    assert {r.type.split(":")[-1] for r in children} == {
        "Key",
        "Alias",
        "Bucket",
        "BucketVersioning",
        "BucketServerSideEncryptionConfiguration",
        "BucketPublicAccessBlock",
        "BucketOwnershipControls",
        "BucketPolicy",
        "BucketLifecycleConfiguration",
        "BucketObjectv2",
    }


def test_a_retention_change_stops_and_asks_because_s3_applies_it_to_existing_exports(
    build: Build,
) -> None:
    """Lower retention would expire older exports: every rules change replaces a protected
    resource (Pulumi refuses), and unprotected the replacement keeps the new configuration."""
    lifecycle = build(lambda: ExportsBucket("exports", bucket_args())).one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    assert lifecycle.replace_on_changes == ("rules",)
    assert (lifecycle.protect, lifecycle.retain_on_delete) == (True, True)

    unprotected = build(lambda: ExportsBucket("exports", bucket_args(protect=False))).one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    assert (unprotected.protect, unprotected.retain_on_delete) == (False, True)


def test_descriptor_says_what_the_exports_promise(build: Build) -> None:
    run = build(lambda: ExportsBucket("exports", bucket_args()))

    descriptor = run.one("aws:s3/bucketObjectv2:BucketObjectv2").inputs
    assert descriptor["key"] == "exports.json"
    assert json.loads(descriptor["content"]) == {"maxAgeDays": 33}
    assert descriptor["serverSideEncryption"] == "aws:kms"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"retention_days": 60}, "retention_days=60: must be more than 60 days"),
        ({"bucket_name": "Formkiq_Prod"}, "must be 3..63 lower-case"),
        ({"break_glass_role_arns": ["admin"]}, "'admin' is not an IAM role ARN"),
    ],
)
def test_bad_bucket_arguments_fail_before_anything_is_registered(
    build: Build, changes: dict[str, object], message: str
) -> None:
    run = build(lambda: ExportsBucket("exports", bucket_args(**changes)), raise_errors=False)

    assert isinstance(run.error, ValueError)
    assert message in str(run.error)
    assert run.resources == []


# --- DynamoDB exports ---------------------------------------------------------------------------


def test_each_table_has_a_schedule_calling_the_export_api_with_pascal_case_input(
    build: Build,
) -> None:
    run = build(lambda: TableExports("table-exports", table_args()))

    schedules = {s.inputs["name"]: s.inputs for s in run.of_type("aws:scheduler/schedule:Schedule")}
    assert set(schedules) == {"formkiq-prod-export-documents", "formkiq-prod-export-documentsyncs"}
    documents = schedules["formkiq-prod-export-documents"]
    assert documents["scheduleExpression"] == "cron(0 6 1 * ? *)"
    assert documents["scheduleExpressionTimezone"] == "Europe/Berlin"
    assert documents["groupName"] == "formkiq-prod-exports"
    target = documents["target"]
    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:dynamodb:exportTableToPointInTime"
    assert json.loads(target["input"]) == {
        "TableArn": DOCUMENTS.arn,
        "S3Bucket": BUCKET,
        "S3Prefix": "dynamodb/formkiq-core-prod-documents/",
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT",
        "S3SseAlgorithm": "KMS",
        "S3SseKmsKeyId": KEY,
    }
    assert "ClientToken" not in target["input"]
    queue = run.one("aws:sqs/queue:Queue")
    assert target["deadLetterConfig"] == {"arn": queue.state["arn"]}
    assert target["retryPolicy"]["maximumRetryAttempts"] == 3
    assert target["roleArn"] == run.one("aws:iam/role:Role").state["arn"]


def test_export_role_may_do_exactly_the_export_on_these_tables(build: Build) -> None:
    run = build(lambda: TableExports("table-exports", table_args()))

    trust = json.loads(run.one("aws:iam/role:Role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    statements = {
        s["Sid"]: s
        for s in json.loads(run.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    }
    assert statements["ExportTheseTables"]["Action"] == "dynamodb:ExportTableToPointInTime"
    assert statements["ExportTheseTables"]["Resource"] == [DOCUMENTS.arn, SYNCS.arn]
    assert statements["WriteTheirPrefixes"]["Resource"] == [
        f"{BUCKET_ARN}/dynamodb/formkiq-core-prod-documents/*",
        f"{BUCKET_ARN}/dynamodb/formkiq-core-prod-documentsyncs/*",
    ]
    assert statements["EncryptWithExportsKey"]["Resource"] == KEY
    assert statements["DeadLetters"]["Resource"] == run.one("aws:sqs/queue:Queue").state["arn"]
    assert set(statements) == {
        "ExportTheseTables",
        "WriteTheirPrefixes",
        "EncryptWithExportsKey",
        "DeadLetters",
    }
    assert all(s["Effect"] == "Allow" and s["Resource"] != "*" for s in statements.values())


def test_scheduler_and_dead_letter_alarms_watch_the_group_and_queue(build: Build) -> None:
    run = build(lambda: TableExports("table-exports", table_args()))

    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {
        "TargetErrorCount",
        "InvocationDroppedCount",
        "ApproximateNumberOfMessagesVisible",
    }
    for metric in ("TargetErrorCount", "InvocationDroppedCount"):
        assert alarms[metric]["namespace"] == "AWS/Scheduler"
        assert alarms[metric]["dimensions"] == {"ScheduleGroup": "formkiq-prod-exports"}
    depth = alarms["ApproximateNumberOfMessagesVisible"]
    assert depth["dimensions"] == {"QueueName": "formkiq-prod-table-exports-dlq"}
    for alarm in alarms.values():
        assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["alarmActions"] == [TOPIC]


# --- scheduled Lambdas ---------------------------------------------------------------------------


def job(build: Build, **changes: object) -> ProgramRun:
    base: dict[str, Any] = {
        "function_name": "formkiq-prod-users-export",
        "description": "Exports users",
        "bundle": USERS_EXPORT,
        "statements": [
            {"Sid": "Own", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "x"}
        ],
        "schedule_expression": "cron(0 6 1 * ? *)",
        "schedule_timezone": "UTC",
        "schedule_group_name": "formkiq-prod-exports",
        "account_id": ACCOUNT,
        "alarm_topic_arn": TOPIC,
    }
    raise_errors = bool(changes.pop("raise_errors", True))
    return build(
        lambda: ScheduledFunction("users", ScheduledFunctionArgs(**{**base, **changes})),
        raise_errors=raise_errors,
    )


def test_a_scheduled_function_has_a_dead_letter_queue_both_ways_and_alarms(build: Build) -> None:
    run = job(build)

    queue = run.one("aws:sqs/queue:Queue").state["arn"]
    function = run.one("aws:lambda/function:Function")
    assert function.inputs["deadLetterConfig"] == {"targetArn": queue}
    assert function.inputs["handler"] == "formkiq_backup.lambdas.cognito_export.handler"
    schedule = run.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["target"]["arn"] == function.state["arn"]
    assert schedule["target"]["deadLetterConfig"] == {"arn": queue}
    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert alarms["Errors"]["dimensions"] == {"FunctionName": "formkiq-prod-users-export"}
    assert alarms["ApproximateNumberOfMessagesVisible"]["dimensions"] == {
        "QueueName": "formkiq-prod-users-export-dlq"
    }
    invoker = next(
        json.loads(p.inputs["policy"])
        for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if "InvokeTheFunction" in p.inputs["policy"]
    )
    assert invoker["Statement"][0]["Resource"] == function.state["arn"]


def test_a_function_name_too_long_for_aws_fails_before_registration(build: Build) -> None:
    run = job(build, function_name="f" * 60, raise_errors=False)

    assert "longer than 64 characters" in str(run.error)
    assert run.resources == []


# --- the whole program ----------------------------------------------------------------------


def test_standard_stack_outputs_the_exports_and_what_verify_expects(prod: ProgramRun) -> None:
    run = prod

    assert run.outputs["exportsBucket"] == BUCKET
    assert run.outputs["exportSchedule"] == "cron(0 6 1 * ? *)"
    exports = run.outputs["verifyExpectations"]["exports"]
    assert exports["bucket"] == BUCKET
    assert (exports["scheduleExpression"], exports["maxAgeDays"]) == ("cron(0 6 1 * ? *)", 33)
    assert [t["name"] for t in exports["tables"]] == [DOCUMENTS.name, SYNCS.name]
    assert exports["userPoolId"]
    descriptor = json.loads(run.one("aws:s3/bucketObjectv2:BucketObjectv2").inputs["content"])
    assert descriptor == exports


def test_export_monitor_alarms_once_per_data_set_and_treats_silence_as_breaching(
    prod: ProgramRun,
) -> None:
    run = prod

    freshness = [
        a.inputs
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == "ExportHealthy"
    ]
    assert {a["dimensions"]["ExportSet"] for a in freshness} == {
        f"dynamodb/{DOCUMENTS.name}",
        f"dynamodb/{SYNCS.name}",
        "cognito",
        "infrastructure",
    }
    for alarm in freshness:
        assert (alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
            "Minimum",
            "LessThanThreshold",
            1,
        )
        assert alarm["treatMissingData"] == "breaching"


def test_basic_builds_no_exports() -> None:
    run = run_program("prod", overrides={"tier": "basic"})

    assert "exportsBucket" not in run.outputs
    assert run.of_type("aws:scheduler/schedule:Schedule") == []


def exports_bucket_children(run: ProgramRun) -> list[str]:
    (component,) = [r for r in run.resources if r.type == "formkiq-backup:index:ExportsBucket"]
    return [r.name for r in run.resources if r.parent_urn == component.urn]


def test_downgrade_keeps_every_export(prod: ProgramRun) -> None:
    plan = removal_plan(prod, run_program("prod", overrides={"tier": "basic"}))

    deleted = {r.type for r in plan.deleted}
    assert not deleted & {
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketVersioning:BucketVersioning",
    }
    assert {r.name for r in plan.blocked} >= {
        "formkiq-prod-exports-bucket",
        "formkiq-prod-exports-key",
        "formkiq-prod-exports-policy",
    }


@pytest.mark.parametrize("change", ["downgrade", "destroy"])
def test_an_unprotected_downgrade_or_destroy_leaves_every_child_of_the_bucket_in_aws(
    change: str, unprotected_standard: ProgramRun
) -> None:
    """README's downgrade (standard -> basic, protectBackups false) and `pulumi destroy` would
    stop half-way with AccessDenied on anything the bucket policy forbids deleting: nothing the
    exports bucket holds or is configured with is deleted."""
    standard = unprotected_standard
    after = (
        run_program("prod", overrides={"tier": "basic", "protectBackups": False})
        if change == "downgrade"
        else None
    )

    plan = removal_plan(standard, after)

    children = exports_bucket_children(standard)
    assert len(children) == 10
    assert plan.blocked == ()
    assert {r.name for r in plan.retained} >= set(children)
    assert not {r.name for r in plan.deleted} & set(children)


def test_names_fit_aws_limits_for_the_longest_app_environment() -> None:
    env = "a" * 27  # FormKiQ's longest AppEnvironment that still fits its bucket names
    run = run_program("prod", overrides={"appEnvironment": env})

    limits = {
        "aws:lambda/function:Function": 64,
        "aws:iam/role:Role": 64,
        "aws:scheduler/schedule:Schedule": 64,
        "aws:scheduler/scheduleGroup:ScheduleGroup": 64,
        "aws:sqs/queue:Queue": 80,
        "aws:s3/bucket:Bucket": 63,
    }
    checked = 0
    for resource in run.resources:
        limit = limits.get(resource.type)
        name = resource.inputs.get("name") or resource.inputs.get("bucket")
        if limit and name:
            assert len(name) <= limit, (resource.type, name)
            checked += 1
    assert checked >= 15


def test_preview_shows_the_exports_their_schedule_and_retention(prod: ProgramRun) -> None:
    from rich.console import Console

    from formkiq_backup.offline.preview import render

    console = Console(record=True, width=200, color_system=None)
    render(prod, console)
    text = console.export_text()

    for expected in (
        "dynamodb/: GLACIER_IR after 60 d (objects of 128 KB or more), expire after 365 d, "
        "noncurrent versions after 30 d",
        "exports.json: noncurrent versions after 30 d",
        "denies DeleteObject, DeleteObjectVersion, PutLifecycleConfiguration, PutBucketPolicy, "
        "DeleteBucketPolicy, PutBucketVersioning to everyone but",
        "a change to this policy, the lifecycle or versioning must be applied by a break-glass "
        "role",
        "(whole bucket): remove expired delete markers, abort uploads after 7 d",
        "cron(0 6 1 * ? *) UTC: exportTableToPointInTime formkiq-core-prod-documents to "
        "dynamodb/formkiq-core-prod-documents/ (FULL_EXPORT, KMS)",
        "aws:kms with formkiq-prod-exports-key; bucket key on",
        "object ownership BucketOwnerEnforced",
        "AWS/Scheduler TargetErrorCount [ScheduleGroup=formkiq-prod-exports] Sum > 0",
        "FormKiQ/Backup ExportHealthy [AppEnvironment=prod, ExportSet=cognito] Minimum < 1",
        "exportsBucket",
    ):
        assert expected in text, expected


def test_a_table_without_pitr_is_still_exported_and_the_preview_warns() -> None:
    """FormKiQ 1.10-1.15 leave DocumentSyncs without PITR: its export would fail, and says so."""
    run = run_program("prod", version="1.15.0")

    names = {s.inputs["name"] for s in run.of_type("aws:scheduler/schedule:Schedule")}
    assert "formkiq-prod-export-documentsyncs" in names
    assert any(
        severity == "warning" and "formkiq-core-prod-documentsyncs has PITR off" in message
        for severity, message in run.diagnostics
    )


def test_the_monitors_first_run_comes_after_exports_json_exists(prod: ProgramRun) -> None:
    """A rate() schedule without a start date invokes its target as soon as it is created
    (EventBridge Scheduler, rate-based schedules): created before the descriptor, the first
    check would find no exports.json and fail."""
    run = prod

    descriptor = run.one("aws:s3/bucketObjectv2:BucketObjectv2")
    schedule = run.named("formkiq-prod-export-monitor-job-schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(6 hours)"
    assert "startDate" not in schedule.inputs
    assert descriptor.urn in schedule.dependencies


def test_a_scheduled_function_waits_for_what_its_first_run_needs(build: Build) -> None:
    def body() -> None:
        needed = aws.s3.BucketObjectv2("needed", bucket=BUCKET, key="exports.json", content="{}")
        ScheduledFunction(
            "users",
            ScheduledFunctionArgs(
                function_name="formkiq-prod-users-export",
                description="Exports users",
                bundle=USERS_EXPORT,
                statements=[],
                schedule_expression="rate(1 day)",
                schedule_timezone="UTC",
                schedule_group_name="formkiq-prod-exports",
                account_id=ACCOUNT,
                alarm_topic_arn=TOPIC,
                schedule_dependencies=[needed],
            ),
        )

    run = build(body)

    assert run.named("needed").urn in run.named("users-schedule").dependencies
