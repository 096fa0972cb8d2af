"""Scheduled Lambda: FormKiQ's CloudFormation definition and SSM parameters, as files.

The guide's "CloudFormation Stack Backup": the root stack's template and every nested stack's
(FormKiQ is a SAM template of nested stacks), each with its parameters and outputs, and every
parameter under /formkiq/<env>/, to `infrastructure/<date>/`. The manifest, written last,
lists every file with its size and sha256.

The root stack is found, not configured: the stack without a parent whose `CognitoUserPoolId`
output is the pool FormKiQ names in SSM (unique to one deployment), else the one whose
`AppEnvironment` parameter is this environment. ROOT_STACK_NAME overrides both.
"""

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from formkiq_backup.exports import INFRASTRUCTURE_PREFIX, MANIFEST_NAME, dated_prefix, file_entry

_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
_NESTED_STACK = "AWS::CloudFormation::Stack"


class RootStackNotFoundError(LookupError):
    """No single CloudFormation stack is this FormKiQ environment's root stack."""


@dataclass(frozen=True)
class InfrastructureExportSettings:
    app_environment: str
    bucket: str
    kms_key_arn: str
    user_pool_id: str | None = None
    root_stack_name: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "InfrastructureExportSettings":
        return cls(
            app_environment=environ["APP_ENVIRONMENT"],
            bucket=environ["EXPORTS_BUCKET"],
            kms_key_arn=environ["KMS_KEY_ARN"],
            user_pool_id=environ.get("USER_POOL_ID") or None,
            root_stack_name=environ.get("ROOT_STACK_NAME") or None,
        )


def find_root_stack(cfn: Any, app_environment: str, user_pool_id: str | None) -> str:
    """The name of FormKiQ's root stack (see the module docstring for how)."""
    by_pool, by_environment = [], []
    for page in cfn.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            if stack.get("ParentId") or stack["StackStatus"].startswith("DELETE"):
                continue
            outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])}
            parameters = {
                p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])
            }
            if user_pool_id and outputs.get("CognitoUserPoolId") == user_pool_id:
                by_pool.append(stack["StackName"])
            elif parameters.get("AppEnvironment") == app_environment:
                by_environment.append(stack["StackName"])
    found = by_pool or by_environment
    if len(found) != 1:
        listed = ", ".join(sorted(found)) or "none"
        raise RootStackNotFoundError(
            f"expected one root stack with AppEnvironment={app_environment!r} (or output "
            f"CognitoUserPoolId={user_pool_id!r}), found {listed}; set ROOT_STACK_NAME"
        )
    return str(found[0])


def stack_tree(cfn: Any, root: str) -> Iterator[tuple[dict[str, Any], str | None]]:
    """The root stack and every nested stack below it, each with its logical id in its parent."""
    pending: list[tuple[str, str | None]] = [(root, None)]
    while pending:
        name, logical_id = pending.pop(0)
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        yield stack, logical_id
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"])
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == _NESTED_STACK and resource.get("PhysicalResourceId"):
                    pending.append((resource["PhysicalResourceId"], resource["LogicalResourceId"]))


def run_export(
    settings: InfrastructureExportSettings, session: Any, now: datetime | None = None
) -> dict[str, Any]:
    """Export the stacks and parameters; returns the manifest written."""
    now = now or datetime.now(UTC)
    cfn = session.client("cloudformation", config=_CLIENT_CONFIG)
    ssm = session.client("ssm", config=_CLIENT_CONFIG)
    s3 = session.client("s3", config=_CLIENT_CONFIG)
    folder = dated_prefix(INFRASTRUCTURE_PREFIX, now)
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings.kms_key_arn}
    files: list[dict[str, Any]] = []

    def put(key: str, body: bytes, content_type: str) -> None:
        s3.put_object(
            Bucket=settings.bucket, Key=key, Body=body, ContentType=content_type, **encryption
        )
        files.append(file_entry(key, body))

    root = settings.root_stack_name or find_root_stack(
        cfn, settings.app_environment, settings.user_pool_id
    )
    stacks = []
    for stack, logical_id in stack_tree(cfn, root):
        name = stack["StackName"]
        # The template as submitted (SAM transform not applied), JSON or YAML as written.
        body = cfn.get_template(StackName=stack["StackId"], TemplateStage="Original")[
            "TemplateBody"
        ]
        if isinstance(body, str):
            is_json = body.lstrip().startswith("{")
            put(
                f"{folder}stacks/{name}/template.{'json' if is_json else 'yaml'}",
                body.encode(),
                "application/json" if is_json else "application/yaml",
            )
        else:  # boto3 hands JSON templates back parsed
            put(
                f"{folder}stacks/{name}/template.json",
                json.dumps(body, indent=2).encode(),
                "application/json",
            )
        description = {
            "stackName": name,
            "stackId": stack["StackId"],
            "logicalIdInParent": logical_id,
            "status": stack["StackStatus"],
            "parameters": {
                p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])
            },
            "outputs": {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])},
            "capabilities": stack.get("Capabilities", []),
            "tags": {t["Key"]: t["Value"] for t in stack.get("Tags", [])},
        }
        put(
            f"{folder}stacks/{name}/stack.json",
            json.dumps(description, indent=2, default=str).encode(),
            "application/json",
        )
        stacks.append(name)

    # String parameters hold FormKiQ's names; a SecureString stays encrypted (no decryption).
    parameters = [
        {
            "name": p["Name"],
            "type": p["Type"],
            "value": p["Value"],
            "version": p.get("Version"),
            "lastModified": p["LastModifiedDate"].isoformat() if "LastModifiedDate" in p else None,
        }
        for page in ssm.get_paginator("get_parameters_by_path").paginate(
            Path=f"/formkiq/{settings.app_environment}", Recursive=True, WithDecryption=False
        )
        for p in page["Parameters"]
    ]
    put(
        f"{folder}ssm-parameters.json",
        json.dumps(sorted(parameters, key=lambda p: p["name"]), indent=2).encode(),
        "application/json",
    )
    document = {
        "format": "formkiq-backup/infrastructure/v1",
        "appEnvironment": settings.app_environment,
        "rootStack": root,
        "stacks": stacks,
        "parameterCount": len(parameters),
        "files": files,
        "exportedAt": now.astimezone(UTC).isoformat(),
    }
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
    document = run_export(
        InfrastructureExportSettings.from_environment(os.environ), boto3.session.Session()
    )
    print(
        f"exported {len(document['stacks'])} stacks and {document['parameterCount']} "
        f"parameters of {document['rootStack']}"
    )
    return {key: document[key] for key in ("rootStack", "stacks", "parameterCount", "exportedAt")}
