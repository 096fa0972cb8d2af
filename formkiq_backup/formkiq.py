"""What a deployed FormKiQ stack exposes, and which of its data this package protects.

FormKiQ publishes its resource names as SSM parameters under /formkiq/<AppEnvironment>/
(CloudFormation `CF/storage/template.yaml`, `CF/ssm-template.yaml`); root stack outputs lack the
DocumentSyncs and Cache names, so SSM is the one complete source. We read these resources and
never own them: FormKiQ's CloudFormation stack stays their only manager.
"""

from dataclasses import dataclass, field
from enum import StrEnum


def parameter_path(app_environment: str) -> str:
    """The SSM hierarchy FormKiQ writes its names under."""
    return f"/formkiq/{app_environment}"


class Parameter(StrEnum):
    """SSM parameter names relative to /formkiq/<AppEnvironment>/ that discovery reads."""

    DOCUMENTS_TABLE = "dynamodb/DocumentsTableName"
    # DocumentSyncs appeared in v1.10.0; older stacks have no such parameter.
    DOCUMENT_SYNCS_TABLE = "dynamodb/DocumentSyncsTableName"
    CACHE_TABLE = "dynamodb/CacheTableName"
    # Websocket module, v1.14 to v1.17 only.
    WEB_CONNECTIONS_TABLE = "dynamodb/WebConnectionsTableName"
    DOCUMENTS_BUCKET = "s3/DocumentsS3Bucket"
    STAGING_BUCKET = "s3/DocumentsStageS3Bucket"
    USER_POOL_ID = "cognito/UserPoolId"
    USER_POOL_ARN = "cognito/UserPoolArn"
    VERSION = "version"
    EDITION = "edition"


class TableRole(StrEnum):
    """What a FormKiQ table holds, which decides whether it is backed up."""

    DOCUMENTS = "documents"
    DOCUMENT_SYNCS = "documentsyncs"
    CACHE = "cache"
    WEB_CONNECTIONS = "webconnections"


# Tables we never protect, and why (FormKiQ docs: PITR "for critical tables, except cache").
EXCLUDED_TABLE_REASONS = {
    TableRole.CACHE: "derived cache with TTL items; FormKiQ keeps PITR off by design",
    TableRole.WEB_CONNECTIONS: "ephemeral websocket connections; rebuilt as clients reconnect",
}


@dataclass(frozen=True)
class TableFacts:
    """A FormKiQ DynamoDB table as read from AWS."""

    role: TableRole
    name: str
    arn: str
    stream_view_type: str | None
    pitr_enabled: bool
    pitr_recovery_period_days: int | None
    billing_mode: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BucketFacts:
    """A FormKiQ S3 bucket as read from AWS."""

    name: str
    arn: str
    region: str


@dataclass(frozen=True)
class ExcludedTable:
    """A FormKiQ table left out of backups on purpose."""

    role: TableRole
    name: str
    reason: str


@dataclass(frozen=True)
class FormKiQEnvironment:
    """Everything the backup tiers need to know about one deployed FormKiQ environment."""

    app_environment: str
    account_id: str
    region: str
    partition: str
    version: str | None
    edition: str | None
    documents_table: TableFacts
    document_syncs_table: TableFacts | None
    documents_bucket: BucketFacts
    staging_bucket_name: str | None = None
    user_pool_id: str | None = None
    user_pool_arn: str | None = None
    excluded_tables: tuple[ExcludedTable, ...] = ()

    @property
    def protected_tables(self) -> tuple[TableFacts, ...]:
        """Documents (metadata, tags, API keys, site config) and DocumentSyncs when present."""
        tables = [self.documents_table]
        if self.document_syncs_table is not None:
            tables.append(self.document_syncs_table)
        return tuple(tables)

    @property
    def protected_buckets(self) -> tuple[BucketFacts, ...]:
        """The documents bucket: permanent document content. Staging and OCR are transient."""
        return (self.documents_bucket,)
