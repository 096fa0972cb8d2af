"""Sample FormKiQ Core deployments by version, for offline previews, tests and the demo.

Built from what a deployed stack really contains: the SSM parameters FormKiQ's templates write
(50 for a default v1.19.0 install without Typesense), its tables with their streams, PITR and
tags, and its buckets. What changed between versions (FormKiQ tags and templates):

| version      | difference                                                                  |
|--------------|-----------------------------------------------------------------------------|
| 1.9          | no DocumentSyncs table (added 1.10); Application tag "FormKiQ core"         |
| 1.10 - 1.15  | DocumentSyncs without PITR (added 1.16) or stream (added 1.17)              |
| 1.14 - 1.17  | websocket module: WebConnections table and its parameters                   |
| 1.17         | Application tag becomes "FormKiQ"                                           |
| 1.18         | websocket removed; DocumentSyncs gains GSI1                                  |
| 1.19         | api/UserAuthApiUrl added; api/CognitoApiId, lambda/ConsoleInstaller removed |

Parameters that discovery does not read are approximations for versions before 1.17.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from formkiq_backup.aws_rules import region_partitions
from formkiq_backup.formkiq import Parameter, TableRole, parameter_path

SAMPLE_VERSIONS = ("1.9.0", "1.15.0", "1.17.1", "1.18.2", "1.19.0")
DEFAULT_VERSION = "1.19.0"
SAMPLE_ACCOUNT = "111122223333"


@dataclass(frozen=True)
class SampleTable:
    """A FormKiQ table as DynamoDB would describe it."""

    role: TableRole
    name: str
    stream_view_type: str | None
    pitr_enabled: bool
    global_secondary_indexes: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    pitr_recovery_period_days: int = 35


@dataclass(frozen=True)
class SampleFormKiQ:
    """One deployed FormKiQ environment: its SSM parameters, tables and buckets."""

    version: str
    app_environment: str
    account_id: str
    region: str
    parameters: Mapping[str, str]
    """Full SSM names (including ones outside /formkiq/<env>/) to values."""
    tables: tuple[SampleTable, ...]
    buckets: tuple[str, ...]
    partition: str = "aws"

    def table(self, name: str) -> SampleTable | None:
        """The table called `name`, if this deployment has one."""
        return next((table for table in self.tables if table.name == name), None)

    def table_arn(self, name: str) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account_id}:table/{name}"

    def stream_arn(self, name: str) -> str:
        return f"{self.table_arn(name)}/stream/2026-03-02T10:15:30.123"


def sample_formkiq(
    version: str = DEFAULT_VERSION,
    app_environment: str = "prod",
    account_id: str = SAMPLE_ACCOUNT,
    region: str = "us-east-1",
) -> SampleFormKiQ:
    """A FormKiQ Core deployment of `version` as its CloudFormation stack leaves it."""
    release = _release(version)
    names = _names(app_environment, account_id)
    tables = _tables(release, app_environment, names)
    # The partition follows the region, as it does in AWS: cn-north-1 is aws-cn.
    partition = region_partitions().get(region, "aws")
    relative = _parameters(
        release,
        version,
        names,
        env=app_environment,
        account=account_id,
        region=region,
        partition=partition,
    )
    path = parameter_path(app_environment)
    parameters = {f"{path}/{name}": value for name, value in relative.items()}
    # Cognito message subjects live outside the environment's hierarchy (CF/ssm-template.yaml).
    domain = f"{app_environment}{account_id}"
    for message in (
        "CustomMessage_AdminCreateUser",
        "CustomMessage_SignUp",
        "CustomMessage_ForgotPassword",
    ):
        parameters[f"/formkiq/cognito/{domain}/{message}/Subject"] = "Your FormKiQ account"
    buckets = (
        names["documents_bucket"],
        names["staging_bucket"],
        names["ocr_bucket"],
        names["console_bucket"],
    )
    return SampleFormKiQ(
        version=version,
        app_environment=app_environment,
        account_id=account_id,
        region=region,
        parameters=parameters,
        tables=tables,
        buckets=buckets,
        partition=partition,
    )


def _release(version: str) -> tuple[int, int]:
    major, minor, *_ = (int(part) for part in version.split("."))
    return major, minor


def _names(env: str, account: str) -> dict[str, str]:
    """Physical names FormKiQ Core derives from AppEnvironment (FormKiQType is "core")."""
    return {
        "documents_table": f"formkiq-core-{env}-documents",
        "document_syncs_table": f"formkiq-core-{env}-documentsyncs",
        "cache_table": f"formkiq-core-{env}-cache",
        "web_connections_table": f"formkiq-core-{env}-webconnections",
        "documents_bucket": f"formkiq-core-{env}-documents-{account}",
        "staging_bucket": f"formkiq-core-{env}-staging-{account}",
        "ocr_bucket": f"formkiq-core-{env}-ocr-{account}",
        "console_bucket": f"formkiq-{env}-web-ui-{account}",
    }


def _tables(
    release: tuple[int, int], env: str, names: Mapping[str, str]
) -> tuple[SampleTable, ...]:
    tags = {
        "Application": "FormKiQ" if release >= (1, 17) else "FormKiQ core",
        "AppEnvironment": env,
    }
    tables = [
        SampleTable(
            TableRole.DOCUMENTS,
            names["documents_table"],
            stream_view_type="NEW_AND_OLD_IMAGES" if release >= (1, 9) else "NEW_IMAGE",
            pitr_enabled=True,
            global_secondary_indexes=("GSI1", "GSI2"),
            tags=tags,
        ),
        # The cache table has neither PITR nor a stream, by FormKiQ's design.
        SampleTable(
            TableRole.CACHE,
            names["cache_table"],
            stream_view_type=None,
            pitr_enabled=False,
            tags=tags,
        ),
    ]
    if release >= (1, 10):
        tables.append(
            SampleTable(
                TableRole.DOCUMENT_SYNCS,
                names["document_syncs_table"],
                stream_view_type="NEW_AND_OLD_IMAGES" if release >= (1, 17) else None,
                pitr_enabled=release >= (1, 16),
                global_secondary_indexes=("GSI1",) if release >= (1, 18) else (),
                tags=tags,
            )
        )
    if (1, 14) <= release <= (1, 17):
        tables.append(
            SampleTable(
                TableRole.WEB_CONNECTIONS,
                names["web_connections_table"],
                stream_view_type="NEW_IMAGE",
                pitr_enabled=False,
                tags=tags,
            )
        )
    return tuple(tables)


def _parameters(
    release: tuple[int, int],
    version: str,
    names: Mapping[str, str],
    *,
    env: str,
    account: str,
    region: str,
    partition: str,
) -> dict[str, str]:
    """The /formkiq/<env>/ parameters of a default install without Typesense."""
    arn = f"arn:{partition}:{{service}}:{region}:{account}:{{resource}}"
    role = f"arn:{partition}:iam::{account}:role"
    group = f"arn:{partition}:iam::{account}:group"
    queue = f"https://sqs.{region}.amazonaws.com/{account}"
    api = f"https://{{id}}.execute-api.{region}.amazonaws.com"
    stack = f"formkiq-core-{env}"
    parameters = {
        Parameter.DOCUMENTS_TABLE.value: names["documents_table"],
        "dynamodb/DocumentsStreamArn": arn.format(
            service="dynamodb",
            resource=f"table/{names['documents_table']}/stream/2026-03-02T10:15:30.123",
        ),
        Parameter.CACHE_TABLE.value: names["cache_table"],
        Parameter.DOCUMENTS_BUCKET.value: names["documents_bucket"],
        Parameter.STAGING_BUCKET.value: names["staging_bucket"],
        "s3/OcrBucket": names["ocr_bucket"],
        "s3/Console": names["console_bucket"],
        "s3/ConsoleArn": f"arn:{partition}:s3:::{names['console_bucket']}",
        "s3/ConsoleDomainName": "d1a2b3c4d5e6f7.cloudfront.net",
        "s3/ConsoleRegionalDomainName": f"{names['console_bucket']}.s3.{region}.amazonaws.com",
        "sns/DocumentEventArn": arn.format(
            service="sns", resource=f"{stack}-CoreStorage-SnsDocumentEvent-1Q2W3E4R5T6Y"
        ),
        "sns/DlqAlarm": arn.format(service="sns", resource=f"FormKiQ-DLQ-{env}-Alert"),
        "sqs/DocumentsDeadLetterQueueArn": arn.format(
            service="sqs", resource=f"{stack}-DocumentsDeadLetterQueue-7U8I9O0P"
        ),
        "sqs/DocumentsDeadLetterQueueName": f"{stack}-DocumentsDeadLetterQueue-7U8I9O0P",
        "sqs/DocumentsUpdateUrl": f"{queue}/{stack}-DocumentsUpdateQueue-A1S2D3F4",
        "sqs/DocumentsUpdateArn": arn.format(
            service="sqs", resource=f"{stack}-DocumentsUpdateQueue-A1S2D3F4"
        ),
        "sqs/OcrQueue": f"{queue}/{stack}-OcrQueue-G5H6J7K8",
        "sqs/OcrQueueUrl": f"{queue}/{stack}-OcrQueue-G5H6J7K8",
        "sqs/OcrQueueArn": arn.format(service="sqs", resource=f"{stack}-OcrQueue-G5H6J7K8"),
        "lambda/DocumentActionsProcessor": f"{stack}-DocumentActionsProcessor-Z1X2C3",
        "lambda/StagingCreateObject": f"{stack}-StagingS3Create-V4B5N6",
        "lambda/DocumentsUpdateObject": f"{stack}-DocumentsS3Update-M7Q8W9",
        "lambda/DocumentsApiRequests": f"{stack}-DocumentsApiRequests-E1R2T3",
        "lambda/OcrTesseractProcessor": f"{stack}-OcrProcessor-Y4U5I6",
        "api/DocumentsHttpId": "a1b2c3d4e5",
        "api/DocumentsHttpUrl": api.format(id="a1b2c3d4e5"),
        "api/DocumentsPublicHttpUrl": api.format(id="a1b2c3d4e5") + "/public",
        "api/DocumentsIamId": "f6g7h8i9j0",
        "api/DocumentsIamUrl": api.format(id="f6g7h8i9j0"),
        "api/DocumentsKeyId": "k1l2m3n4o5",
        "api/DocumentsKeyUrl": api.format(id="k1l2m3n4o5"),
        "iam/ApiGatewayInvokeRole": f"{stack}-ApiGatewayInvokeRole-P6Q7R8",
        "iam/ApiGatewayInvokeRoleArn": f"{role}/{stack}-ApiGatewayInvokeRole-P6Q7R8",
        "iam/AdminGroupRole": f"{stack}-AdminGroupRole-S9T0U1",
        "iam/AdminGroupRoleArn": f"{role}/{stack}-AdminGroupRole-S9T0U1",
        Parameter.USER_POOL_ID.value: f"{region}_Ab12Cd34E",
        Parameter.USER_POOL_ARN.value: arn.format(
            service="cognito-idp", resource=f"userpool/{region}_Ab12Cd34E"
        ),
        "cognito/UserPoolClientId": "1example23456789abcdefghij",
        "cognito/IdentityPoolId": f"{region}:0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        "cognito/AdminGroup": "Admins",
        "console/AdminEmail": "admin@example.com",
        "console/version": "v3.8.1",
        "console/Url": "https://d1a2b3c4d5e6f7.cloudfront.net",
        Parameter.EDITION.value: "core",
        Parameter.VERSION.value: version,
    }
    if release >= (1, 10):
        parameters[Parameter.DOCUMENT_SYNCS_TABLE.value] = names["document_syncs_table"]
    if release >= (1, 19):
        parameters["api/UserAuthApiUrl"] = api.format(id="v6w7x8y9z0")
    else:
        parameters["api/CognitoApiId"] = "c0g1n2i3t4"
        parameters["lambda/ConsoleInstaller"] = f"{stack}-ConsoleInstaller-B2N3M4"
    if (1, 14) <= release <= (1, 17):
        parameters.update(
            {
                Parameter.WEB_CONNECTIONS_TABLE.value: names["web_connections_table"],
                "api/WebsocketUrl": f"wss://w1e2b3s4k5.execute-api.{region}.amazonaws.com/{env}",
                "sqs/WebsocketArn": arn.format(service="sqs", resource=f"{stack}-Websocket-H1J2"),
                "sqs/WebsocketUrl": f"{queue}/{stack}-Websocket-H1J2",
                "iam/ApiGatewayInvokeGroup": f"{stack}-ApiGatewayInvokeGroup-K3L4",
                "iam/ApiGatewayInvokeGroupArn": f"{group}/{stack}-ApiGatewayInvokeGroup-K3L4",
            }
        )
    return parameters
