"""The restore-validation Lambda: each restore test's copy checked against its source.

DynamoDB, S3 and CloudWatch are moto, in-process. moto has no AWS Backup restore jobs (nor
restore testing), so the backup client is botocore's Stubber on a real client: every request
and answer is checked against the API model (DescribeRestoreJob, DescribeRecoveryPoint,
PutRestoreValidationResult), the model the Lambda ships.
"""

import builtins
import hashlib
import importlib
import json
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from formkiq_backup import items
from formkiq_backup.integrity import Outcome, table_verdict
from formkiq_backup.items import TableDigest, canonical
from formkiq_backup.lambdas import MODELS_DIR, RESTORE_VALIDATION
from formkiq_backup.lambdas import restore_validation as validation
from formkiq_backup.lambdas.restore_validation import Clients, ValidatorSettings, validate

ACCOUNT = "123456789012"
DOCUMENTS = "formkiq-core-prod-documents"
SYNCS = "formkiq-core-prod-documentsyncs"
BUCKET = "formkiq-core-prod-documents-123456789012"
RESTORED_TABLE = "awsbackup-restore-test-6f1c2a"
RESTORED_BUCKET = "awsbackup-restore-test-81e5b0"
PLAN_ARN = (
    f"arn:aws:backup:us-east-1:{ACCOUNT}:restore-testing-plan:formkiq_prod_restore_tests-1a2b"
)
VAULT_ARN = f"arn:aws:backup:us-east-1:{ACCOUNT}:backup-vault:formkiq-prod-backup-vault"
POINT_ARN = f"arn:aws:backup:us-east-1:{ACCOUNT}:recovery-point:0b1c-2d3e"
JOB = "C7F2B0B0-7E1D-4C67-8B3A-000000000001"
SETTINGS = ValidatorSettings(
    app_environment="prod",
    tables={DOCUMENTS: "documents", SYNCS: "documentsyncs"},
    buckets=(BUCKET,),
    documents_bucket=BUCKET,
    plan_arn=PLAN_ARN,
    sample_size=20,
    metric_namespace="FormKiQ/Backup",
)
CONTENTS = {f"{n:08x}-0000-4000-8000-00000000000{n}": f"document {n}".encode() for n in range(1, 4)}


def _key_schema() -> dict[str, Any]:
    return {
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


@pytest.fixture
def formkiq(aws_session: boto3.session.Session) -> dict[str, Any]:
    """FormKiQ's Documents table and bucket: three documents, each with a tag, content at the
    version its metadata names."""
    dynamodb, s3 = aws_session.client("dynamodb"), aws_session.client("s3")
    dynamodb.create_table(TableName=DOCUMENTS, **_key_schema())
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    table_items = []
    for document_id, body in CONTENTS.items():
        version = s3.put_object(Bucket=BUCKET, Key=document_id, Body=body)["VersionId"]
        table_items.append(
            {
                "PK": {"S": f"docs#{document_id}"},
                "SK": {"S": "document"},
                "documentId": {"S": document_id},
                "s3version": {"S": version},
                "checksum": {"S": hashlib.md5(body, usedforsecurity=False).hexdigest()},
                "contentLength": {"N": str(len(body))},
            }
        )
        table_items.append(
            {"PK": {"S": f"docs#{document_id}"}, "SK": {"S": "tags#category"}, "v": {"S": "x"}}
        )
    for item in table_items:
        dynamodb.put_item(TableName=DOCUMENTS, Item=item)
    return {"session": aws_session, "items": table_items}


def restore_table(session: boto3.session.Session, table_items: list[dict[str, Any]]) -> None:
    """What AWS Backup's restore test would leave: a new table holding these items."""
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(TableName=RESTORED_TABLE, **_key_schema())
    for item in table_items:
        dynamodb.put_item(TableName=RESTORED_TABLE, Item=item)


def job(
    source_arn: str, created_arn: str, kind: str, created: datetime, **changes: Any
) -> dict[str, Any]:
    """DescribeRestoreJob's answer for a completed restore test."""
    return {
        "AccountId": ACCOUNT,
        "RestoreJobId": JOB,
        "RecoveryPointArn": POINT_ARN,
        "SourceResourceArn": source_arn,
        "BackupVaultArn": VAULT_ARN,
        "CreationDate": created + timedelta(hours=3),
        "CompletionDate": created + timedelta(hours=4),
        "Status": "COMPLETED",
        "CreatedResourceArn": created_arn,
        "ResourceType": kind,
        "RecoveryPointCreationDate": created,
        "CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN},
        **changes,
    }


def table_job(created: datetime, **changes: Any) -> dict[str, Any]:
    return job(
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{DOCUMENTS}",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{RESTORED_TABLE}",
        "DynamoDB",
        created,
        **changes,
    )


class _AnyMessage:
    """Stubber compares expected params by equality: any non-empty message up to 1,000."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and 0 < len(other) <= 1_000

    def __repr__(self) -> str:
        return "<a validation message>"

    __hash__ = None  # type: ignore[assignment]


ANY_MESSAGE = _AnyMessage()


class Validation:
    """validate() with the backup client under Stubber; what it reported, and the metric."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.session = session
        self.backup = session.client("backup")
        self.stubber = Stubber(self.backup)

    def run(
        self,
        described: dict[str, Any],
        *,
        expected_status: str | None,
        recovery_point: dict[str, Any] | None = None,
        seconds_left: float = 900.0,
    ) -> validation.Result:
        self.stubber.add_response(
            "describe_restore_job", described, expected_params={"RestoreJobId": JOB}
        )
        if recovery_point is not None:
            self.stubber.add_response(
                "describe_recovery_point",
                recovery_point,
                expected_params={
                    "BackupVaultName": "formkiq-prod-backup-vault",
                    "RecoveryPointArn": POINT_ARN,
                },
            )
        if expected_status is not None:
            self.stubber.add_response(
                "put_restore_validation_result",
                {},
                expected_params={
                    "RestoreJobId": JOB,
                    "ValidationStatus": expected_status,
                    "ValidationStatusMessage": ANY_MESSAGE,
                },
            )
        clients = Clients(
            backup=self.backup,
            dynamodb=self.session.client("dynamodb"),
            s3=self.session.client("s3"),
            cloudwatch=self.session.client("cloudwatch"),
        )
        with self.stubber:
            result = validate(event(), SETTINGS, clients, lambda: seconds_left)
            self.stubber.assert_no_pending_responses()
        return result

    def metric(self, resource: str) -> float | None:
        points = self.session.client("cloudwatch").get_metric_statistics(
            Namespace="FormKiQ/Backup",
            MetricName="RestoreTestValidated",
            Dimensions=[
                {"Name": "AppEnvironment", "Value": "prod"},
                {"Name": "ResourceName", "Value": resource},
            ],
            StartTime=datetime.now(UTC) - timedelta(minutes=10),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Minimum"],
        )["Datapoints"]
        return min(point["Minimum"] for point in points) if points else None


def event() -> dict[str, Any]:
    """EventBridge's Restore Job State Change for a completed restore test (restore-testing-
    validation: detail.restoreJobId, detail.restoreTestingPlanArn, detail.status)."""
    return {
        "source": "aws.backup",
        "detail-type": "Restore Job State Change",
        "detail": {
            "restoreJobId": JOB,
            "status": "COMPLETED",
            "restoreTestingPlanArn": PLAN_ARN,
            "resourceType": "DynamoDB",
        },
    }


# --- tables -----------------------------------------------------------------------------------


def test_a_restored_table_identical_to_its_source_passes_with_its_documents_checked(
    formkiq: dict[str, Any],
) -> None:
    restore_table(formkiq["session"], formkiq["items"])
    check = Validation(formkiq["session"])

    result = check.run(
        table_job(datetime.now(UTC) - timedelta(hours=5)), expected_status="SUCCESSFUL"
    )

    assert result.status == "SUCCESSFUL"
    assert "6 items, digest" in result.message and "identical" in result.message
    assert "3 of 3 documents sampled" in result.message
    assert check.metric(DOCUMENTS) == 1.0


def test_a_restored_table_that_lost_items_fails_when_the_source_has_not_changed_since(
    formkiq: dict[str, Any],
) -> None:
    restore_table(formkiq["session"], formkiq["items"][:-2])
    check = Validation(formkiq["session"])

    result = check.run(table_job(datetime.now(UTC) - timedelta(hours=5)), expected_status="FAILED")

    assert "restored 4 items vs 6 live, digests differ" in result.message
    assert "source took no write since the recovery point" in result.message
    assert check.metric(DOCUMENTS) == 0.0


def test_a_difference_the_sources_writes_since_the_recovery_point_explain_passes(
    formkiq: dict[str, Any],
) -> None:
    restore_table(formkiq["session"], formkiq["items"][:-2])
    since = datetime.now(UTC) - timedelta(hours=2)
    formkiq["session"].client("cloudwatch").put_metric_data(
        Namespace="AWS/DynamoDB",
        MetricData=[
            {
                "MetricName": "ConsumedWriteCapacityUnits",
                "Dimensions": [{"Name": "TableName", "Value": DOCUMENTS}],
                "Value": 2.0,
                "Timestamp": datetime.now(UTC) - timedelta(minutes=30),
            }
        ],
    )

    result = Validation(formkiq["session"]).run(table_job(since), expected_status="SUCCESSFUL")

    assert "digests differ (expected when the table changed" in result.message
    assert "the source took 2 writes or TTL deletes since the recovery point" in result.message


def test_restored_metadata_naming_a_version_that_no_longer_exists_fails(
    formkiq: dict[str, Any],
) -> None:
    session = formkiq["session"]
    gone = formkiq["items"][0]
    session.client("s3").delete_object(
        Bucket=BUCKET, Key=gone["documentId"]["S"], VersionId=gone["s3version"]["S"]
    )
    restore_table(session, formkiq["items"])

    result = Validation(session).run(
        table_job(datetime.now(UTC) - timedelta(hours=5)), expected_status="FAILED"
    )

    assert "documents:" in result.message
    assert gone["documentId"]["S"] in result.message


def test_a_copy_not_named_as_restore_testing_names_it_is_not_read(
    formkiq: dict[str, Any],
) -> None:
    described = table_job(
        datetime.now(UTC),
        CreatedResourceArn=f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{SYNCS}",
    )

    result = Validation(formkiq["session"]).run(described, expected_status="FAILED")

    assert f"restored resource '{SYNCS}' is not a restore test copy" in result.message


def test_another_plans_restore_is_neither_validated_nor_reported(
    formkiq: dict[str, Any],
) -> None:
    described = table_job(datetime.now(UTC), CreatedBy={"RestoreTestingPlanArn": "other"})

    result = Validation(formkiq["session"]).run(described, expected_status=None)

    assert result.status == "NOT_VALIDATED"


def test_a_table_too_large_for_one_run_is_reported_timed_out(formkiq: dict[str, Any]) -> None:
    restore_table(formkiq["session"], formkiq["items"])
    check = Validation(formkiq["session"])

    result = check.run(
        table_job(datetime.now(UTC) - timedelta(hours=5)),
        expected_status="TIMED_OUT",
        seconds_left=validation.REPORT_MARGIN_SECONDS - 1,
    )

    assert "could not be read within this run" in result.message
    assert "formkiq-dr drill --from-table" in result.message
    assert check.metric(DOCUMENTS) == 0.0


# --- buckets ----------------------------------------------------------------------------------


def bucket_job(created: datetime) -> dict[str, Any]:
    return job(f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{RESTORED_BUCKET}", "S3", created)


def point(created: datetime) -> dict[str, Any]:
    """DescribeRecoveryPoint's answer: the S3 backup ran from `created` for a few seconds."""
    return {
        "RecoveryPointArn": POINT_ARN,
        "BackupVaultArn": VAULT_ARN,
        "ResourceArn": f"arn:aws:s3:::{BUCKET}",
        "ResourceType": "S3",
        "CreationDate": created,
        "CompletionDate": created,
        "Status": "COMPLETED",
    }


def restore_bucket(session: boto3.session.Session, keys: list[str]) -> None:
    s3 = session.client("s3")
    s3.create_bucket(Bucket=RESTORED_BUCKET)
    for key in keys:
        s3.put_object(Bucket=RESTORED_BUCKET, Key=key, Body=CONTENTS[key])


@pytest.fixture
def at_recovery_point(formkiq: dict[str, Any]) -> Iterator[datetime]:
    """A recovery point taken after the three documents were written; the clock then moves on
    a second (moto keeps LastModified to the second) before the test changes the bucket."""
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(max(0.0, (later - datetime.now(UTC)).total_seconds()) + 0.05)
    yield later - timedelta(milliseconds=500)


def test_a_restored_bucket_holding_every_object_of_the_recovery_point_passes(
    formkiq: dict[str, Any], at_recovery_point: datetime
) -> None:
    session = formkiq["session"]
    # Written after the recovery point: not in the restore, and rightly so.
    session.client("s3").put_object(Bucket=BUCKET, Key="written-later", Body=b"new")
    restore_bucket(session, list(CONTENTS))
    check = Validation(session)

    result = check.run(
        bucket_job(at_recovery_point),
        expected_status="SUCCESSFUL",
        recovery_point=point(at_recovery_point),
    )

    assert result.message == "3 objects, 3 sampled objects identical to the source"
    assert check.metric(BUCKET) == 1.0


def test_a_restored_bucket_missing_objects_fails_naming_them(
    formkiq: dict[str, Any], at_recovery_point: datetime
) -> None:
    session = formkiq["session"]
    missing = sorted(CONTENTS)[-1]
    restore_bucket(session, sorted(CONTENTS)[:-1])

    result = Validation(session).run(
        bucket_job(at_recovery_point),
        expected_status="FAILED",
        recovery_point=point(at_recovery_point),
    )

    assert result.message == f"1 of 3 objects missing from the restore: {missing}"


def test_a_restored_object_whose_bytes_differ_fails(
    formkiq: dict[str, Any], at_recovery_point: datetime
) -> None:
    session = formkiq["session"]
    restore_bucket(session, list(CONTENTS))
    tampered = sorted(CONTENTS)[0]
    session.client("s3").put_object(Bucket=RESTORED_BUCKET, Key=tampered, Body=b"other bytes")

    result = Validation(session).run(
        bucket_job(at_recovery_point),
        expected_status="FAILED",
        recovery_point=point(at_recovery_point),
    )

    assert result.message == f"1 of 3 sampled objects differ from the source: {tampered}"


# --- the handler as Lambda runs it ------------------------------------------------------------


def test_the_handler_reads_its_settings_from_the_environment_the_component_writes(
    formkiq: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.restore_validator import RestoreValidatorArgs, ValidatedResource, _environment

    args = RestoreValidatorArgs(
        app_environment="prod",
        plan_arn=PLAN_ARN,
        resources=[
            ValidatedResource(
                DOCUMENTS,
                f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{DOCUMENTS}",
                "table",
                "documents",
            ),
            ValidatedResource(BUCKET, f"arn:aws:s3:::{BUCKET}", "bucket"),
        ],
        documents_bucket=BUCKET,
        sample_size=5,
        function_name="formkiq-prod-restore-validator",
        rule_name="formkiq-prod-restore-test-completed",
        account_id=ACCOUNT,
        partition="aws",
        region_name="us-east-1",
        alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:alerts",
        alarm_name_prefix="formkiq-prod",
    )
    for name, value in _environment(args).items():
        monkeypatch.setenv(name, str(value))
    restore_table(formkiq["session"], formkiq["items"])
    check = Validation(formkiq["session"])
    monkeypatch.setattr(
        Clients,
        "create",
        classmethod(
            lambda cls: cls(
                check.backup,
                formkiq["session"].client("dynamodb"),
                formkiq["session"].client("s3"),
                formkiq["session"].client("cloudwatch"),
            )
        ),
    )
    check.stubber.add_response(
        "describe_restore_job", table_job(datetime.now(UTC) - timedelta(hours=5))
    )
    check.stubber.add_response("put_restore_validation_result", {})
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 900_000)

    with check.stubber:
        answer = validation.handler(event(), context)

    assert answer["validationStatus"] == "SUCCESSFUL"
    assert answer["source"] == DOCUMENTS
    assert "3 of 3 documents sampled" in answer["message"]


# --- what the Lambda ships --------------------------------------------------------------------


def test_the_shipped_backup_model_is_found_before_the_runtimes_and_has_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_DATA_PATH puts the shipped model ahead of botocore's own, so a runtime whose boto3
    predates restore testing still calls PutRestoreValidationResult."""
    for archive_path, text in RESTORE_VALIDATION.models().items():
        target = tmp_path / archive_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    ((variable, value),) = RESTORE_VALIDATION.environment().items()
    assert (variable, value) == ("AWS_DATA_PATH", f"/var/task/{MODELS_DIR}")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / MODELS_DIR))

    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    version = loader.determine_latest_version("backup", "service-2")
    _, path = loader.load_data_with_path(f"backup/{version}/service-2")
    client = session.create_client("backup", region_name="us-east-1")

    assert path.startswith(str(tmp_path))
    assert "PutRestoreValidationResult" in client.meta.service_model.operation_names
    shipped = json.loads(next(iter(RESTORE_VALIDATION.models().values())))
    assert "documentation" not in json.dumps(shipped)
    assert len(json.dumps(shipped)) < 250_000


def test_the_bundle_ships_exactly_the_handlers_imports_and_the_model(tmp_path: Path) -> None:
    """The runtime has boto3 and nothing else we depend on: every import of the bundle is the
    standard library, boto3, or a file it ships; orjson only where its absence is handled."""
    import ast

    bundled = {
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in RESTORE_VALIDATION.files
    }
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore"}
    for archive_path, path in RESTORE_VALIDATION.paths().items():
        tree = ast.parse(path.read_text())
        optional = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Try)
            and any(
                isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
            )
            for statement in node.body
            if isinstance(statement, ast.Import)
            for alias in statement.names
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module in bundled or module.split(".")[0] in allowed or module in optional, (
                    f"{archive_path} imports {module}, which the Lambda package does not ship"
                )
    assert RESTORE_VALIDATION.handler.rsplit(".", 1)[0] in bundled
    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, path in RESTORE_VALIDATION.paths().items():
            zipped.write(path, name)
        for name, text in RESTORE_VALIDATION.models().items():
            zipped.writestr(name, text)
    assert archive.stat().st_size < 100_000


# --- one digest, with or without orjson ---------------------------------------------------------

KINDS_OF_VALUE: list[dict[str, Any]] = [
    {"PK": {"S": "docs#1"}, "SK": {"S": "document"}},
    {"PK": {"S": 'a\u2028b\x00\x1f\x7f\t\n"\\/é😀'}, "Z": {"NULL": True}, "B": {"BOOL": False}},
    {"PK": {"S": "x"}, "n": {"N": "-1.5e3"}, "é": {"S": "accent key"}, "Z": {"S": "upper"}},
    {"PK": {"S": "x"}, "m": {"M": {"b": {"S": "1"}, "a": {"L": [{"S": "x"}, {"N": "2"}]}}}},
    {"PK": {"S": "x"}, "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["2", "10"]}},
    {"PK": {"S": "x"}, "bin": {"B": b"\x00\xff"}, "bs": {"BS": [b"b", b"a"]}},
]


def test_the_lambdas_digest_equals_drills_though_it_ships_without_orjson(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_orjson = [canonical(item) for item in KINDS_OF_VALUE]
    real_import = builtins.__import__

    def no_orjson(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "orjson":
            raise ImportError("not in the Lambda package")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_orjson)
    monkeypatch.delitem(sys.modules, "orjson", raising=False)
    stdlib = importlib.reload(items)
    try:
        assert stdlib._dumps_sorted is stdlib._stdlib_sorted_dumps
        assert [stdlib.canonical(item) for item in KINDS_OF_VALUE] == with_orjson
        assert stdlib.from_canonical(with_orjson[-1]) == KINDS_OF_VALUE[-1] | {
            "bs": {"BS": [b"a", b"b"]}
        }
    finally:
        monkeypatch.undo()
        importlib.reload(items)


def test_a_table_verdict_is_the_drills() -> None:
    """One verdict for drill and Lambda: empty fails, identical passes, a difference warns
    unless nothing can explain it."""
    source = TableDigest().add_all(KINDS_OF_VALUE[:4])
    assert table_verdict(source, TableDigest(), strict=False).outcome is Outcome.FAIL
    assert (
        table_verdict(source, TableDigest().add_all(KINDS_OF_VALUE[:4]), strict=True).outcome
        is Outcome.PASS
    )
    fewer = TableDigest().add_all(KINDS_OF_VALUE[:3])
    assert table_verdict(source, fewer, strict=False).outcome is Outcome.WARN
    assert table_verdict(source, fewer, strict=True).outcome is Outcome.FAIL
