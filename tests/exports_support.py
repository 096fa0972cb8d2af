"""A deployed exports bucket in moto, and exports in it, as the scheduled jobs leave them."""

import gzip
import hashlib
import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import orjson

from formkiq_backup.aws_rules import parse_export_schedule
from formkiq_backup.config import DEFAULT_EXPORT_SCHEDULE
from formkiq_backup.exportdiff.manifest import manifest_entry
from formkiq_backup.exports import (
    DESCRIPTOR_KEY,
    ExportExpectations,
    TableExpectation,
    exports_bucket_name,
    max_age_days,
    table_prefix,
)
from formkiq_backup.lambdas import cognito_export, infrastructure_export
from formkiq_backup.lambdas.cognito_export import UsersExportSettings
from formkiq_backup.lambdas.infrastructure_export import InfrastructureExportSettings
from formkiq_backup.offline.samples import SampleFormKiQ


def create_exports_bucket(session: boto3.session.Session, account_id: str) -> tuple[str, str]:
    """The exports bucket and its own KMS key, as the ExportsBucket component makes them."""
    key = session.client("kms").create_key()["KeyMetadata"]["Arn"]
    bucket = exports_bucket_name("prod", account_id)
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket, str(key)


def write_descriptor(
    session: boto3.session.Session,
    sample: SampleFormKiQ,
    bucket: str,
    pool_id: str | None,
    schedule_expression: str = DEFAULT_EXPORT_SCHEDULE,
) -> ExportExpectations:
    """`exports.json` as the program writes it (the default monthly schedule unless given)."""
    schedule = parse_export_schedule(schedule_expression)
    expectations = ExportExpectations(
        app_environment=sample.app_environment,
        bucket=bucket,
        schedule=schedule.expression,
        max_age_days=max_age_days(schedule.longest_gap),
        retention_days=365,
        tables=tuple(
            TableExpectation(t.name, sample.table_arn(t.name))
            for t in sample.tables
            if t.pitr_enabled
        ),
        user_pool_id=pool_id,
    )
    session.client("s3").put_object(
        Bucket=bucket, Key=DESCRIPTOR_KEY, Body=json.dumps(expectations.descriptor())
    )
    return expectations


def export_tables(session: boto3.session.Session, expectations: ExportExpectations) -> None:
    """What the Scheduler target sends, one call per table (moto completes it at once)."""
    dynamodb = session.client("dynamodb")
    for table in expectations.tables:
        dynamodb.export_table_to_point_in_time(
            TableArn=table.arn,
            S3Bucket=expectations.bucket,
            S3Prefix=table_prefix(table.name),
            ExportFormat="DYNAMODB_JSON",
            ExportType="FULL_EXPORT",
        )


def write_completed_table_export(
    session: boto3.session.Session,
    bucket: str,
    key_arn: str,
    table: TableExpectation,
    *,
    when: datetime,
    item_count: int,
) -> str:
    """A completed export of `table` as DynamoDB leaves it in S3, exported at `when`.

    moto writes no manifests, and lists every export it ever made where ListExports lists only
    the past 90 days: this writes the documented layout alone (DynamoDB developer guide,
    S3DataExport.Output: `_started`, data, manifest-files and manifest-summary with their
    checksums), as the bucket holds an export that ListExports no longer lists. Returns the
    summary's key.
    """
    s3 = session.client("s3")
    millis = int(when.timestamp() * 1000)
    export_id = f"{millis:014d}-{hashlib.sha256(table.arn.encode()).hexdigest()[:8]}"
    base = f"{table_prefix(table.name)}AWSDynamoDB/{export_id}"
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    data_key = f"{base}/data/{export_id[-8:]}.json.gz"
    files = json.dumps({"itemCount": item_count, "dataFileS3Key": data_key}) + "\n"
    summary = json.dumps(
        {
            "version": "2020-06-30",
            "exportArn": f"{table.arn}/export/{export_id}",
            "startTime": stamp,
            "endTime": stamp,
            "tableArn": table.arn,
            "tableId": "12345a12-abcd-123a-ab12-1234abc12345",
            "exportTime": stamp,
            "s3Bucket": bucket,
            "s3Prefix": table_prefix(table.name),
            "s3SseAlgorithm": "KMS",
            "s3SseKmsKeyId": key_arn,
            "manifestFilesS3Key": f"{base}/manifest-files.json",
            "billedSizeBytes": 0,
            "itemCount": item_count,
            "outputFormat": "DYNAMODB_JSON",
            "exportType": "FULL_EXPORT",
        }
    )
    for name, body in (
        ("_started", ""),
        (f"data/{export_id[-8:]}.json.gz", ""),
        ("manifest-files.json", files),
        ("manifest-files.checksum", hashlib.md5(files.encode()).hexdigest()),
        ("manifest-summary.json", summary),
        ("manifest-summary.checksum", hashlib.md5(summary.encode()).hexdigest()),
    ):
        s3.put_object(Bucket=bucket, Key=f"{base}/{name}", Body=body.encode())
    return f"{base}/manifest-summary.json"


def formkiq_stacks(session: boto3.session.Session, pool_id: str, env: str = "prod") -> str:
    """A root stack with two nested stacks, one nesting a third (moto runs no SAM: flat JSON)."""
    s3 = session.client("s3")
    templates = f"templates-{env}"
    s3.create_bucket(Bucket=templates)

    def template(name: str, body: dict[str, Any]) -> str:
        s3.put_object(Bucket=templates, Key=name, Body=json.dumps(body))
        return f"https://{templates}.s3.amazonaws.com/{name}"

    topic = {"Type": "AWS::SNS::Topic", "Properties": {}}
    ocr = template("ocr.json", {"Resources": {"OcrTopic": topic}})
    api = template(
        "api.json",
        {
            "Resources": {
                "Ocr": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": ocr}},
                "ApiTopic": topic,
            },
            "Outputs": {"HttpApiUrl": {"Value": "https://api.example.com"}},
        },
    )
    storage = template("storage.json", {"Resources": {"StorageTopic": topic}})
    root = {
        "Parameters": {"AppEnvironment": {"Type": "String"}},
        "Resources": {
            "CoreStorage": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": storage},
            },
            "CoreApi": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": api}},
        },
        "Outputs": {
            "AppEnvironment": {"Value": {"Ref": "AppEnvironment"}},
            "CognitoUserPoolId": {"Value": pool_id},
        },
    }
    name = f"formkiq-core-{env}"
    session.client("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps(root),
        Parameters=[{"ParameterKey": "AppEnvironment", "ParameterValue": env}],
    )
    return name


def good_exports(
    session: boto3.session.Session,
    sample: SampleFormKiQ,
    pool_id: str,
    when: datetime | None = None,
) -> ExportExpectations:
    """Every export the stack promises, fresh and whole."""
    when = when or datetime.now(UTC)
    bucket, key = create_exports_bucket(session, sample.account_id)
    expectations = write_descriptor(session, sample, bucket, pool_id)
    export_tables(session, expectations)
    cognito_export.run_export(UsersExportSettings(pool_id, bucket, key), session, when)
    formkiq_stacks(session, pool_id)
    infrastructure_export.run_export(
        InfrastructureExportSettings("prod", bucket, key, user_pool_id=pool_id), session, when
    )
    return expectations


def record_export_times(session: boto3.session.Session, monkeypatch: Any) -> dict[str, datetime]:
    """Give moto's DescribeExport the StartTime, ExportTime and EndTime AWS's answer has.

    moto answers DescribeExport without them (AWS always sends them for a started export); the
    times are recorded when ExportTableToPointInTime is called, on `session`'s clients and on
    every formkiq-dr client.
    """
    from formkiq_backup.dr import context as dr_context

    started: dict[str, datetime] = {}

    def on_export(parsed: dict[str, Any], **_: Any) -> None:
        described = parsed.get("ExportDescription", {})
        if "ExportArn" in described:
            started.setdefault(described["ExportArn"], datetime.now(UTC))

    def on_describe(parsed: dict[str, Any], **_: Any) -> None:
        described = parsed.get("ExportDescription", {})
        when = started.get(described.get("ExportArn", ""))
        if when is not None:
            for key in ("StartTime", "ExportTime", "EndTime"):
                described.setdefault(key, when)

    def hook(events: Any) -> None:
        events.register("after-call.dynamodb.ExportTableToPointInTime", on_export)
        events.register("after-call.dynamodb.DescribeExport", on_describe)

    hook(session.events)
    original = dr_context.DrContext.client

    def client(self: Any, service: str, region: str | None = None) -> Any:
        made = original(self, service, region)
        if service == "dynamodb" and not getattr(made, "_export_times_hooked", False):
            hook(made.meta.events)
            made._export_times_hooked = True
        return made

    monkeypatch.setattr(dr_context.DrContext, "client", client)
    return started


# --- DynamoDB exports as DynamoDB writes them ---------------------------------------------------
# moto's ExportTableToPointInTime writes one data file and no manifests, so tests write the
# layout of "DynamoDB table export output format" (Amazon DynamoDB developer guide) themselves.


def export_json(item: dict[str, Any], rng: random.Random | None = None) -> dict[str, Any]:
    """An item as an export writes it: binary as base64; attributes (and map keys) in the
    order `rng` shuffles them to, since an export keeps no order."""
    from formkiq_backup.items import canonical

    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            names = list(value)
            if rng is not None:
                rng.shuffle(names)
            return {name: shuffled(value[name]) for name in names}
        if isinstance(value, list):
            return [shuffled(inner) for inner in value]
        return value

    return dict(shuffled(orjson.loads(canonical(item))))


def write_export(
    s3: Any,
    bucket: str,
    prefix: str,
    table_arn: str,
    lines: Sequence[dict[str, Any]],
    *,
    export_time: datetime,
    files: int = 2,
    incremental_from: datetime | None = None,
    export_id: str | None = None,
) -> str:
    """An export of `lines` (`{"Item": ...}` or incremental records) in `files` data files, with
    both manifests; returns its folder's S3 URL."""
    export_id = export_id or f"{int(export_time.timestamp() * 1000):014d}-{len(lines):08x}"
    root = f"{prefix}AWSDynamoDB/{export_id}/"
    entries = []
    for number in range(files):
        part = lines[number::files]
        body = gzip.compress(b"".join(orjson.dumps(line) + b"\n" for line in part))
        key = f"{root}data/{number:04d}{export_id[-6:]}.json.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        entries.append(manifest_entry(key, body, len(part)))
    s3.put_object(
        Bucket=bucket,
        Key=f"{root}manifest-files.json",
        Body="".join(json.dumps(entry) + "\n" for entry in entries),
    )
    summary: dict[str, Any] = {
        "version": "2023-08-01" if incremental_from else "2020-06-30",
        "exportArn": f"{table_arn}/export/{export_id}",
        "startTime": _iso_z(export_time),
        "endTime": _iso_z(export_time),
        "tableArn": table_arn,
        "tableId": "12345a12-abcd-123a-ab12-1234abc12345",
        "exportTime": _iso_z(export_time),
        "s3Bucket": bucket,
        "s3Prefix": prefix,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{root}manifest-files.json",
        "billedSizeBytes": sum(len(json.dumps(line)) for line in lines),
        "itemCount": len(lines),
        "outputFormat": "DYNAMODB_JSON",
    }
    if incremental_from is not None:
        summary.update(
            exportType="INCREMENTAL_EXPORT",
            exportFromTime=_iso_z(incremental_from),
            exportToTime=_iso_z(export_time),
            outputView="NEW_AND_OLD_IMAGES",
        )
    s3.put_object(Bucket=bucket, Key=f"{root}manifest-summary.json", Body=json.dumps(summary))
    return f"s3://{bucket}/{root}"


def full_lines(items: Sequence[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"Item": export_json(item, rng)} for item in items]


def incremental_record(
    keys: dict[str, Any], old: dict[str, Any] | None, new: dict[str, Any] | None
) -> dict[str, Any]:
    """One line of an incremental export (NEW_AND_OLD_IMAGES): an insert has no OldImage, a
    delete no NewImage."""
    record: dict[str, Any] = {
        "Metadata": {"WriteTimestampMicros": {"N": "1700000000000000"}},
        "Keys": export_json(keys),
    }
    if old is not None:
        record["OldImage"] = export_json(old)
    if new is not None:
        record["NewImage"] = export_json(new)
    return record


def add_manifests(s3: Any, described: dict[str, Any], export_time: datetime) -> str:
    """The manifests DynamoDB writes beside an export's data, for an export moto made (moto
    writes the data file only); returns the export's folder URL."""
    bucket, prefix = described["S3Bucket"], described["S3Prefix"]
    listed = [
        entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    ]
    finished = {key.removesuffix("manifest-summary.json") for key in listed}
    root = next(
        k.split("data/")[0] for k in listed if "/data/" in k and k.split("data/")[0] not in finished
    )
    data = [key for key in listed if key.startswith(f"{root}data/")]
    entries = []
    for key in data:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        count = sum(1 for line in gzip.decompress(body).splitlines() if line.strip())
        entries.append(manifest_entry(key, body, count))
    s3.put_object(
        Bucket=bucket,
        Key=f"{root}manifest-files.json",
        Body="".join(json.dumps(entry) + "\n" for entry in entries),
    )
    summary = {
        "version": "2020-06-30",
        "exportArn": described["ExportArn"],
        "tableArn": described["TableArn"],
        "exportTime": _iso_z(export_time),
        "s3Bucket": bucket,
        "s3Prefix": prefix,
        "manifestFilesS3Key": f"{root}manifest-files.json",
        "itemCount": sum(entry["itemCount"] for entry in entries),
        "outputFormat": "DYNAMODB_JSON",
    }
    s3.put_object(Bucket=bucket, Key=f"{root}manifest-summary.json", Body=json.dumps(summary))
    return f"s3://{bucket}/{root}"


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
