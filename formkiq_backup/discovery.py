"""Discovery of a deployed FormKiQ environment: one implementation, two ways to read AWS.

`discover` holds all the logic (which parameters matter, which tables are protected, what a
missing name means). It reads AWS through a `FormKiQReader`: the Pulumi program uses
`PulumiInvokeReader` (invokes, so previews use Pulumi's credentials and tests mock them), the
recovery CLI uses `Boto3Reader`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from formkiq_backup.formkiq import (
    EXCLUDED_TABLE_REASONS,
    BucketFacts,
    ExcludedTable,
    FormKiQEnvironment,
    Parameter,
    TableFacts,
    TableRole,
    parameter_path,
)

if TYPE_CHECKING:
    import boto3
    import pulumi


class DiscoveryError(RuntimeError):
    """FormKiQ is not where the configuration says it is."""


@dataclass(frozen=True)
class AccountIdentity:
    """Where discovery is looking: the caller's account, region and partition."""

    account_id: str
    region: str
    partition: str


class FormKiQReader(Protocol):
    """The reads discovery needs; each raises on AWS errors (a missing table, no access)."""

    def identity(self) -> AccountIdentity: ...

    def parameters_under(self, path: str) -> Mapping[str, str]:
        """All parameters below `path` (recursive), by full name."""
        ...

    def table(self, role: TableRole, name: str) -> TableFacts: ...

    def bucket(self, name: str, identity: AccountIdentity) -> BucketFacts: ...


def discover(reader: FormKiQReader, app_environment: str) -> FormKiQEnvironment:
    """Find the FormKiQ environment `app_environment` and the data we protect in it."""
    identity = reader.identity()
    path = parameter_path(app_environment)
    where = (
        f"appEnvironment {app_environment!r} (account {identity.account_id}, "
        f"region {identity.region})"
    )
    names = {
        name[len(path) + 1 :]: value
        for name, value in reader.parameters_under(path).items()
        if name.startswith(path + "/")
    }
    if not names:
        raise DiscoveryError(
            f"no FormKiQ parameters under {path}/ for {where}: is FormKiQ deployed there "
            f"with AppEnvironment={app_environment}?"
        )

    def required(parameter: Parameter) -> str:
        if parameter.value not in names:
            raise DiscoveryError(
                f"FormKiQ SSM parameter {path}/{parameter.value} is missing for {where}; "
                "this FormKiQ stack is incomplete or not a FormKiQ Core layout"
            )
        return names[parameter.value]

    def read_table(role: TableRole, parameter: Parameter) -> TableFacts:
        table_name = names[parameter.value]
        try:
            return reader.table(role, table_name)
        except Exception as error:
            raise DiscoveryError(
                f"table {table_name!r} named by {path}/{parameter.value} could not be read "
                f"for {where}: {error}"
            ) from error

    required(Parameter.DOCUMENTS_TABLE)
    bucket_name = required(Parameter.DOCUMENTS_BUCKET)
    documents = read_table(TableRole.DOCUMENTS, Parameter.DOCUMENTS_TABLE)
    document_syncs = (
        read_table(TableRole.DOCUMENT_SYNCS, Parameter.DOCUMENT_SYNCS_TABLE)
        if Parameter.DOCUMENT_SYNCS_TABLE.value in names
        else None
    )
    try:
        bucket = reader.bucket(bucket_name, identity)
    except Exception as error:
        raise DiscoveryError(
            f"bucket {bucket_name!r} named by {path}/{Parameter.DOCUMENTS_BUCKET.value} could "
            f"not be read for {where}: {error}"
        ) from error

    excluded = tuple(
        ExcludedTable(role, names[parameter.value], EXCLUDED_TABLE_REASONS[role])
        for role, parameter in (
            (TableRole.CACHE, Parameter.CACHE_TABLE),
            (TableRole.WEB_CONNECTIONS, Parameter.WEB_CONNECTIONS_TABLE),
        )
        if parameter.value in names
    )
    return FormKiQEnvironment(
        app_environment=app_environment,
        account_id=identity.account_id,
        region=identity.region,
        partition=identity.partition,
        version=names.get(Parameter.VERSION.value),
        edition=names.get(Parameter.EDITION.value),
        documents_table=documents,
        document_syncs_table=document_syncs,
        documents_bucket=bucket,
        staging_bucket_name=names.get(Parameter.STAGING_BUCKET.value),
        user_pool_id=names.get(Parameter.USER_POOL_ID.value),
        user_pool_arn=names.get(Parameter.USER_POOL_ARN.value),
        excluded_tables=excluded,
    )


class PulumiInvokeReader:
    """Reads through Pulumi invokes: the program's credentials, mockable in tests.

    `opts` (a tier component passes `parent=self`) makes every read go through the AWS provider
    the component's resources use, so they look where the resources will be built.
    """

    def __init__(self, opts: "pulumi.InvokeOptions | None" = None) -> None:
        self._opts = opts

    def identity(self) -> AccountIdentity:
        import pulumi_aws as aws

        return AccountIdentity(
            account_id=aws.get_caller_identity(opts=self._opts).account_id,
            region=aws.get_region(opts=self._opts).region,
            partition=aws.get_partition(opts=self._opts).partition,
        )

    def parameters_under(self, path: str) -> Mapping[str, str]:
        import pulumi_aws as aws

        # FormKiQ writes plain String parameters, so no decryption (and no kms:Decrypt) is needed.
        result = aws.ssm.get_parameters_by_path(
            path=path, recursive=True, with_decryption=False, opts=self._opts
        )
        return dict(zip(result.names, result.values, strict=True))

    def table(self, role: TableRole, name: str) -> TableFacts:
        import pulumi_aws as aws

        table = aws.dynamodb.get_table(name=name, opts=self._opts)
        pitr = table.point_in_time_recovery
        return TableFacts(
            role=role,
            name=table.name,
            arn=table.arn,
            stream_view_type=table.stream_view_type or None,
            pitr_enabled=bool(pitr and pitr.enabled),
            pitr_recovery_period_days=(pitr.recovery_period_in_days or None) if pitr else None,
            billing_mode=table.billing_mode,
            tags=dict(table.tags or {}),
        )

    def bucket(self, name: str, identity: AccountIdentity) -> BucketFacts:
        import pulumi_aws as aws

        bucket = aws.s3.get_bucket(bucket=name, opts=self._opts)
        return BucketFacts(
            name=bucket.bucket, arn=bucket.arn, region=bucket.bucket_region or identity.region
        )


class Boto3Reader:
    """Reads through boto3: the recovery CLI's credentials (profile, region, endpoint URL)."""

    def __init__(
        self,
        session: "boto3.session.Session",
        client_config: Any = None,
        region: str | None = None,
    ) -> None:
        self._session = session
        self._config = client_config
        self._region = region
        """Where to read, when not the session's region."""

    def _client(self, service: str) -> Any:
        return self._session.client(  # type: ignore[call-overload]
            service, region_name=self._region, config=self._config
        )

    def identity(self) -> AccountIdentity:
        caller = self._client("sts").get_caller_identity()
        return AccountIdentity(
            account_id=caller["Account"],
            region=self._region or self._session.region_name or "us-east-1",
            partition=caller["Arn"].split(":")[1],
        )

    def parameters_under(self, path: str) -> Mapping[str, str]:
        pages = (
            self._client("ssm")
            .get_paginator("get_parameters_by_path")
            .paginate(Path=path, Recursive=True, WithDecryption=False)
        )
        return {p["Name"]: p["Value"] for page in pages for p in page["Parameters"]}

    def table(self, role: TableRole, name: str) -> TableFacts:
        dynamodb = self._client("dynamodb")
        table = dynamodb.describe_table(TableName=name)["Table"]
        backups = dynamodb.describe_continuous_backups(TableName=name)
        pitr = backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
        stream = table.get("StreamSpecification") or {}
        tags = dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
        return TableFacts(
            role=role,
            name=table["TableName"],
            arn=table["TableArn"],
            stream_view_type=stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
            pitr_enabled=pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
            pitr_recovery_period_days=pitr.get("RecoveryPeriodInDays"),
            billing_mode=(table.get("BillingModeSummary") or {}).get("BillingMode"),
            tags={tag["Key"]: tag["Value"] for tag in tags},
        )

    def bucket(self, name: str, identity: AccountIdentity) -> BucketFacts:
        location = self._client("s3").get_bucket_location(Bucket=name)
        # GetBucketLocation answers None for us-east-1 (a historical quirk of the API).
        region = location.get("LocationConstraint") or "us-east-1"
        return BucketFacts(name=name, arn=f"arn:{identity.partition}:s3:::{name}", region=region)
