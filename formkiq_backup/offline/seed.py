"""Recreate a sample FormKiQ deployment inside an AWS emulator (moto), through boto3.

moto cannot deploy FormKiQ's SAM template and ignores PITR and versioning properties in
CloudFormation, so the fixture is built with API calls, as FormKiQ's stack would leave it.
"""

import hashlib
import random
import uuid
from dataclasses import dataclass
from typing import Any

from formkiq_backup.formkiq import Parameter, TableRole, parameter_path
from formkiq_backup.offline.samples import SampleFormKiQ, SampleTable
from formkiq_backup.sites import site_prefix

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


@dataclass(frozen=True)
class SeededDocument:
    """A document written by `seed_documents`: its item key, object key and versions."""

    site: str
    document_id: str
    object_key: str
    versions: tuple[str, ...]
    """S3 version ids, oldest first; the metadata names the newest."""


def seed_documents(
    session: Any, sample: SampleFormKiQ, per_site: dict[str, int], seed: int = 7
) -> list[SeededDocument]:
    """Documents as FormKiQ stores them: metadata, tags, syncs and versioned content.

    Keys follow FormKiQ's site layout (`[site/]docs#<id>`, index keys prefixed too); each
    document gets two tags, two object versions, and a sync record. Each site gets an API key
    item, global in `PK` with its site only in the index keys.
    """
    rng = random.Random(seed)
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    names = {table.role: table.name for table in sample.tables}
    documents_table = names[TableRole.DOCUMENTS]
    syncs_table = names.get(TableRole.DOCUMENT_SYNCS)
    bucket = next(b for b in sample.buckets if "-documents-" in b)
    seeded = []
    items: list[tuple[str, dict[str, Any]]] = []
    for site, count in per_site.items():
        prefix = site_prefix(site)
        for number in range(count):
            document_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            key = f"{prefix}{document_id}"
            versions = []
            for revision in (1, 2):
                body = f"{site} document {number} revision {revision}\n".encode() * (number + 1)
                put = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain")
                versions.append(put["VersionId"])
            day = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
            stamp = f"{day}T{rng.randint(0, 23):02d}:00:00+0000"
            items.append(
                (
                    documents_table,
                    _document_item(
                        prefix,
                        document_id,
                        day=day,
                        stamp=stamp,
                        body=body,
                        version=versions[-1],
                        number=number,
                    ),
                )
            )
            for tag_key, tag_value in (
                ("category", rng.choice(["invoice", "contract"])),
                ("year", day[:4]),
            ):
                items.append(
                    (documents_table, tag_item(prefix, document_id, tag_key, tag_value, stamp))
                )
            if syncs_table:
                items.append(
                    (
                        syncs_table,
                        {
                            "PK": {"S": f"{prefix}docs#{document_id}"},
                            "SK": {"S": f"syncs#TYPESENSE#{stamp}"},
                            "documentId": {"S": document_id},
                            "service": {"S": "TYPESENSE"},
                            "status": {"S": "COMPLETE"},
                            "syncDate": {"S": stamp},
                        },
                    )
                )
            seeded.append(SeededDocument(site, document_id, key, tuple(versions)))
        items.append((documents_table, api_key_item(site, f"{rng.getrandbits(64):016x}")))
    write_items(dynamodb, items)
    return seeded


def _document_item(
    prefix: str, document_id: str, *, day: str, stamp: str, body: bytes, version: str, number: int
) -> dict[str, Any]:
    return {
        "PK": {"S": f"{prefix}docs#{document_id}"},
        "SK": {"S": "document"},
        "documentId": {"S": document_id},
        "path": {"S": f"invoices/{day[:7]}/document-{number:04d}.txt"},
        "contentType": {"S": "text/plain"},
        "contentLength": {"N": str(len(body))},
        "checksum": {"S": hashlib.md5(body, usedforsecurity=False).hexdigest()},
        "s3version": {"S": version},
        "userId": {"S": "admin@example.com"},
        "inserteddate": {"S": stamp},
        "lastModifiedDate": {"S": stamp},
        "GSI1PK": {"S": f"{prefix}docts#{day}"},
        "GSI1SK": {"S": f"{stamp}#{document_id}"},
    }


def tag_item(prefix: str, document_id: str, tag_key: str, value: str, stamp: str) -> dict[str, Any]:
    """One of a document's tags, indexed by key and value (GSI1) and by key (GSI2)."""
    return {
        "PK": {"S": f"{prefix}docs#{document_id}"},
        "SK": {"S": f"tags#{tag_key}"},
        "documentId": {"S": document_id},
        "tagKey": {"S": tag_key},
        "tagValue": {"S": value},
        "type": {"S": "USERDEFINED"},
        "inserteddate": {"S": stamp},
        "GSI1PK": {"S": f"{prefix}tag#{tag_key}#{value}"},
        "GSI1SK": {"S": f"{stamp}#{document_id}"},
        "GSI2PK": {"S": f"{prefix}tag#{tag_key}"},
        "GSI2SK": {"S": value},
    }


def api_key_item(site: str, suffix: str) -> dict[str, Any]:
    """A site's API key: a global partition, the site only in the index keys (FormKiQ's
    ApiKey record, SK apikey#<key>)."""
    prefix = site_prefix(site)
    return {
        "PK": {"S": "apikeys#"},
        "SK": {"S": f"apikey#{site}-{suffix}"},
        "name": {"S": f"{site} integration"},
        "siteId": {"S": site},
        "GSI1PK": {"S": f"{prefix}apikeys#"},
        "GSI1SK": {"S": f"{site} integration"},
        "GSI2PK": {"S": f"{prefix}apikeys#"},
        "GSI2SK": {"S": "READ,WRITE"},
    }


def write_items(dynamodb: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
    """BatchWriteItem in chunks of 25, retrying what DynamoDB hands back unprocessed."""
    for start in range(0, len(items), 25):
        requests: dict[str, list[dict[str, Any]]] = {}
        for table, item in items[start : start + 25]:
            requests.setdefault(table, []).append({"PutRequest": {"Item": item}})
        while requests:
            requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems", {})


# FormKiQ's groups (CF/console/template-users.yaml): Admins, then `<site>` and `<site>_read`.
USERS = {
    "admin@example.com": ("Admins", "default"),
    "alice@example.com": ("finance",),
    "bob@example.com": ("finance_read",),
    "carol@example.com": ("default", "default_read"),
}


def seed_users(
    session: Any, sample: SampleFormKiQ, users: dict[str, tuple[str, ...]] = USERS
) -> str:
    """A Cognito pool shaped like FormKiQ's (e-mail sign-in), its groups and users.

    Writes the pool's real id and ARN to the sample's SSM parameters, as FormKiQ's stack does.
    """
    cognito = session.client("cognito-idp")
    pool = cognito.create_user_pool(
        PoolName=f"formkiq-core-{sample.app_environment}", UsernameAttributes=["email"]
    )["UserPool"]
    groups = sorted(
        {group for memberships in users.values() for group in memberships} | {"authentication_only"}
    )
    for group in groups:
        cognito.create_group(UserPoolId=pool["Id"], GroupName=group)
    for email, memberships in users.items():
        username = cognito.admin_create_user(
            UserPoolId=pool["Id"],
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
        )["User"]["Username"]
        for group in memberships:
            cognito.admin_add_user_to_group(
                UserPoolId=pool["Id"], Username=username, GroupName=group
            )
    ssm = session.client("ssm")
    path = parameter_path(sample.app_environment)
    ssm.put_parameter(
        Name=f"{path}/{Parameter.USER_POOL_ID.value}",
        Value=pool["Id"],
        Type="String",
        Overwrite=True,
    )
    ssm.put_parameter(
        Name=f"{path}/{Parameter.USER_POOL_ARN.value}",
        Value=pool["Arn"],
        Type="String",
        Overwrite=True,
    )
    return str(pool["Id"])
