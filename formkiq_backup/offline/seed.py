"""Recreate a sample FormKiQ deployment inside an AWS emulator (moto), through boto3.

moto cannot deploy FormKiQ's SAM template and ignores PITR and versioning properties in
CloudFormation, so the fixture is built with API calls, as FormKiQ's stack would leave it.
"""

from typing import Any

from formkiq_backup.offline.samples import SampleFormKiQ, SampleTable

# Buckets FormKiQ versions (documents, OCR, console); staging is unversioned by design.
_UNVERSIONED_BUCKET_MARKER = "-staging-"
# FormKiQ's GSIs project only these attributes (CF/storage/template.yaml).
_GSI_PROJECTED = ["inserteddate", "documentId", "tagKey", "tagValue"]


def seed_formkiq(session: Any, sample: SampleFormKiQ) -> None:
    """Create `sample`'s SSM parameters, tables and buckets with `session`'s clients."""
    ssm = session.client("ssm")
    for name, value in sample.parameters.items():
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    dynamodb = session.client("dynamodb")
    for table in sample.tables:
        create_formkiq_table(dynamodb, table)
    s3 = session.client("s3")
    for bucket in sample.buckets:
        _create_bucket(s3, bucket, sample.region)
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        if _UNVERSIONED_BUCKET_MARKER not in bucket:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def create_formkiq_table(dynamodb: Any, table: SampleTable, name: str | None = None) -> None:
    """A table shaped like FormKiQ's: PK/SK, its GSIs, stream, PITR and tags."""
    attributes = {"PK", "SK"}
    indexes = []
    for index in table.global_secondary_indexes:
        attributes |= {f"{index}PK", f"{index}SK"}
        indexes.append(
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": f"{index}PK", "KeyType": "HASH"},
                    {"AttributeName": f"{index}SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": _GSI_PROJECTED},
            }
        )
    request: dict[str, Any] = {
        "TableName": name or table.name,
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": "S"} for attribute in sorted(attributes)
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "Tags": [{"Key": key, "Value": value} for key, value in table.tags.items()],
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    if table.stream_view_type:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": table.stream_view_type,
        }
    dynamodb.create_table(**request)
    if table.pitr_enabled:
        dynamodb.update_continuous_backups(
            TableName=name or table.name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                "RecoveryPeriodInDays": table.pitr_recovery_period_days,
            },
        )


def _create_bucket(s3: Any, bucket: str, region: str) -> None:
    # us-east-1 rejects a LocationConstraint naming itself (S3 CreateBucket quirk).
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
