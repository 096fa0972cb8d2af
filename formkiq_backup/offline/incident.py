"""A realistic data-loss incident in one FormKiQ site, for the demo and the recovery tests.

A script with a site's credentials rewrites tag values, deletes documents the way FormKiQ does
(metadata items gone, a delete marker on the object) and overwrites one document's content;
meanwhile a user adds a legitimate new document, which a repair must keep.
"""

from dataclasses import dataclass, field
from typing import Any

from formkiq_backup.offline.seed import SeededDocument


@dataclass
class Incident:
    """What the incident changed, so a test or the demo can check it was undone."""

    overwritten_items: list[tuple[str, str]] = field(default_factory=list)
    deleted_items: list[tuple[str, str]] = field(default_factory=list)
    deleted_objects: list[str] = field(default_factory=list)
    overwritten_objects: list[str] = field(default_factory=list)
    created_items: list[tuple[str, str]] = field(default_factory=list)


def break_site(
    session: Any, documents_table: str, bucket: str, documents: list[SeededDocument], site: str
) -> Incident:
    """Damage `site`: needs at least four of its documents."""
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    victims = [document for document in documents if document.site == site][:4]
    if len(victims) < 4:
        raise ValueError(f"site {site} needs four documents for the incident")
    incident = Incident()
    prefix = f"{site}/" if site != "default" else ""

    for document in victims[:2]:  # tag values rewritten
        key = {"PK": {"S": f"{prefix}docs#{document.document_id}"}, "SK": {"S": "tags#category"}}
        dynamodb.update_item(
            TableName=documents_table,
            Key=key,
            UpdateExpression="SET tagValue = :v",
            ExpressionAttributeValues={":v": {"S": "ransomed"}},
        )
        incident.overwritten_items.append((key["PK"]["S"], key["SK"]["S"]))

    for document in victims[2:4]:  # documents deleted: metadata items and the object
        partition = f"{prefix}docs#{document.document_id}"
        for sort_key in ("document", "tags#category", "tags#year"):
            dynamodb.delete_item(
                TableName=documents_table, Key={"PK": {"S": partition}, "SK": {"S": sort_key}}
            )
            incident.deleted_items.append((partition, sort_key))
        s3.delete_object(Bucket=bucket, Key=document.object_key)
        incident.deleted_objects.append(document.object_key)

    # The site's API key removed: global in PK, found by its index keys.
    for page in dynamodb.get_paginator("query").paginate(
        TableName=documents_table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "apikeys#"}},
    ):
        for item in page["Items"]:
            if item.get("GSI1PK", {}).get("S") == f"{prefix}apikeys#":
                dynamodb.delete_item(
                    TableName=documents_table, Key={"PK": item["PK"], "SK": item["SK"]}
                )
                incident.deleted_items.append((item["PK"]["S"], item["SK"]["S"]))

    # One document's content replaced (a new version on top).
    s3.put_object(Bucket=bucket, Key=victims[0].object_key, Body=b"encrypted by attacker")
    incident.overwritten_objects.append(victims[0].object_key)

    # Meanwhile a user adds a document: legitimate work after the recovery point, which
    # `formkiq-dr repair` keeps unless told `--delete-new`.
    new_item = {
        "PK": {"S": f"{prefix}docs#00000000-0000-4000-8000-000000000001"},
        "SK": {"S": "document"},
        "documentId": {"S": "00000000-0000-4000-8000-000000000001"},
        "path": {"S": "created-after-the-incident.txt"},
    }
    dynamodb.put_item(TableName=documents_table, Item=new_item)
    incident.created_items.append((new_item["PK"]["S"], new_item["SK"]["S"]))
    return incident
