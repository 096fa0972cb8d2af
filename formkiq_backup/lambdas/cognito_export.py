"""Scheduled Lambda: every Cognito user with their groups, gzipped, to the exports bucket.

Writes `cognito/<date>/users.jsonl.gz` (exactly `formkiq-dr users export`'s lines, gzipped)
and then `cognito/<date>/manifest.json` with the count and the sha256 of the object: a
manifest exists only for a finished export. Passwords are not exportable; the manifest says so.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from formkiq_backup.exports import COGNITO_PREFIX, MANIFEST_NAME, USERS_OBJECT_NAME, dated_prefix
from formkiq_backup.userexport import manifest, spool, write_gzip

# Adaptive retries: ListUsers shares a per-account quota with FormKiQ's own calls.
_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})


@dataclass(frozen=True)
class UsersExportSettings:
    """What the component tells the Lambda, through environment variables."""

    user_pool_id: str
    bucket: str
    kms_key_arn: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "UsersExportSettings":
        return cls(environ["USER_POOL_ID"], environ["EXPORTS_BUCKET"], environ["KMS_KEY_ARN"])


def run_export(
    settings: UsersExportSettings, session: Any, now: datetime | None = None
) -> dict[str, Any]:
    """Export the pool; returns the manifest written."""
    now = now or datetime.now(UTC)
    cognito = session.client("cognito-idp", config=_CLIENT_CONFIG)
    s3 = session.client("s3", config=_CLIENT_CONFIG)
    folder = dated_prefix(COGNITO_PREFIX, now)
    key = f"{folder}{USERS_OBJECT_NAME}"
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings.kms_key_arn}
    with spool() as buffer:
        export = write_gzip(cognito, settings.user_pool_id, buffer)
        buffer.seek(0)
        # upload_fileobj switches to a multipart upload for large files (boto3 transfer).
        s3.upload_fileobj(
            buffer,
            settings.bucket,
            key,
            ExtraArgs={"ContentType": "application/gzip", **encryption},
        )
    document = manifest(settings.user_pool_id, export, key, now)
    s3.put_object(
        Bucket=settings.bucket,
        Key=f"{folder}{MANIFEST_NAME}",
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
        **encryption,
    )
    return document


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point; the event (a schedule tick) carries nothing we need."""
    document = run_export(UsersExportSettings.from_environment(os.environ), boto3.session.Session())
    print(f"exported {document['count']} users to {document['object']}")
    return document
