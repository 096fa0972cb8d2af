"""The export Lambdas against moto, handlers called directly (moto cannot invoke Lambdas)."""

import contextlib
import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from formkiq_backup.exports import exports_bucket_name
from formkiq_backup.lambdas import cognito_export, infrastructure_export
from formkiq_backup.lambdas.cognito_export import UsersExportSettings
from formkiq_backup.lambdas.infrastructure_export import (
    InfrastructureExportSettings,
    RootStackNotFoundError,
)
from formkiq_backup.offline.samples import sample_formkiq
from formkiq_backup.offline.seed import seed_formkiq, seed_users
from formkiq_backup.userexport import PASSWORDS_NOTE
from tests.dr_support import MOTO_ACCOUNT, World
from tests.exports_support import create_exports_bucket, formkiq_stacks

NOW = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
BUCKET = exports_bucket_name("prod", MOTO_ACCOUNT)


def exports_bucket(session: boto3.session.Session) -> str:
    return create_exports_bucket(session, MOTO_ACCOUNT)[1]


def many_users(count: int) -> dict[str, tuple[str, ...]]:
    """`count` users: some in one site, some in two, some read-only, every fifth in none."""
    layouts: list[tuple[str, ...]] = [
        ("default",),
        ("finance", "default_read"),
        ("finance_read",),
        ("Admins", "default"),
        (),
    ]
    return {f"user{n:04d}@example.com": layouts[n % len(layouts)] for n in range(count)}


def read_export(s3: Any, key: str) -> tuple[bytes, list[dict[str, Any]]]:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    return body, [json.loads(line) for line in lines]


# --- Cognito users ------------------------------------------------------------------------------


def test_users_export_pages_130_users_with_their_groups_and_a_matching_manifest(
    aws_session: boto3.session.Session,
) -> None:
    sample = sample_formkiq(account_id=MOTO_ACCOUNT)
    seed_formkiq(aws_session, sample)
    users = many_users(133)  # three ListUsers pages of 60; "default" has 54 members: two pages
    pool = seed_users(aws_session, sample, users=users)
    key = exports_bucket(aws_session)
    calls: list[dict[str, Any]] = []
    aws_session.events.register(
        "provide-client-params.cognito-idp.ListUsers", lambda params, **_: calls.append(params)
    )

    document = cognito_export.run_export(UsersExportSettings(pool, BUCKET, key), aws_session, NOW)

    s3 = aws_session.client("s3")
    assert document["object"] == "cognito/2027-03-01/users.jsonl.gz"
    body, lines = read_export(s3, document["object"])
    by_email = {line["attributes"]["email"]: line for line in lines}
    assert len(lines) == document["count"] == 133
    assert {email: tuple(sorted(line["groups"])) for email, line in by_email.items()} == {
        email: tuple(sorted(groups)) for email, groups in users.items()
    }
    assert by_email["user0004@example.com"]["groups"] == []
    assert document["sha256"] == hashlib.sha256(body).hexdigest()
    stored = json.loads(
        s3.get_object(Bucket=BUCKET, Key="cognito/2027-03-01/manifest.json")["Body"].read()
    )
    assert stored == document
    assert stored["passwords"] == PASSWORDS_NOTE and "not exportable" in stored["passwords"]
    assert stored["userPoolId"] == pool
    assert [call.get("Limit") for call in calls] == [60, 60, 60]
    head = s3.head_object(Bucket=BUCKET, Key=document["object"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key


def test_users_export_of_an_empty_pool_is_an_empty_file_not_an_error(
    aws_session: boto3.session.Session,
) -> None:
    sample = sample_formkiq(account_id=MOTO_ACCOUNT)
    seed_formkiq(aws_session, sample)
    pool = seed_users(aws_session, sample, users={})
    key = exports_bucket(aws_session)

    document = cognito_export.run_export(UsersExportSettings(pool, BUCKET, key), aws_session, NOW)

    body, lines = read_export(aws_session.client("s3"), document["object"])
    assert (document["count"], lines) == (0, [])
    assert document["sha256"] == hashlib.sha256(body).hexdigest()


def test_the_scheduled_file_is_exactly_what_the_cli_writes(world: World, tmp_path: Path) -> None:
    key = exports_bucket(world.session)
    document = cognito_export.run_export(
        UsersExportSettings(world.pool_id, BUCKET, key), world.session, NOW
    )
    out = tmp_path / "users.jsonl"
    assert world.run("users", "export", "--out", str(out)).exit_code == 0

    body, _ = read_export(world.client("s3"), document["object"])
    assert gzip.decompress(body).decode() == out.read_text()


def test_users_import_reads_the_scheduled_gzip_into_an_empty_pool(
    world: World, tmp_path: Path
) -> None:
    cognito = world.client("cognito-idp")
    extra = many_users(131)
    for email, groups in extra.items():
        username = cognito.admin_create_user(
            UserPoolId=world.pool_id,
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}],
        )["User"]["Username"]
        for group in groups:
            with contextlib.suppress(cognito.exceptions.GroupExistsException):
                cognito.create_group(UserPoolId=world.pool_id, GroupName=group)
            cognito.admin_add_user_to_group(
                UserPoolId=world.pool_id, Username=username, GroupName=group
            )
    key = exports_bucket(world.session)
    document = cognito_export.run_export(
        UsersExportSettings(world.pool_id, BUCKET, key), world.session, NOW
    )
    downloaded = tmp_path / "users.jsonl.gz"
    world.client("s3").download_file(BUCKET, document["object"], str(downloaded))
    target = sample_formkiq(app_environment="dr", account_id=MOTO_ACCOUNT)
    seed_formkiq(world.session, target)
    empty_pool = seed_users(world.session, target, users={})

    outcome = world.run("users", "import", str(downloaded), app_env="dr")

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["created"] == document["count"] == 131 + 4
    username = cognito.list_users(UserPoolId=empty_pool, Filter='email = "user0001@example.com"')[
        "Users"
    ][0]["Username"]
    groups = cognito.admin_list_groups_for_user(UserPoolId=empty_pool, Username=username)
    assert sorted(g["GroupName"] for g in groups["Groups"]) == ["default_read", "finance"]


# --- Infrastructure -----------------------------------------------------------------------------


def test_infrastructure_export_saves_every_nested_stack_and_all_ssm_parameters(
    aws_session: boto3.session.Session,
) -> None:
    sample = sample_formkiq(account_id=MOTO_ACCOUNT)
    seed_formkiq(aws_session, sample)
    pool = seed_users(aws_session, sample)
    # A decoy: another environment's root stack, found by neither rule.
    formkiq_stacks(aws_session, "eu-west-1_other", env="staging")
    root = formkiq_stacks(aws_session, pool)
    key = exports_bucket(aws_session)
    pages: list[dict[str, Any]] = []
    aws_session.events.register(
        "provide-client-params.ssm.GetParametersByPath", lambda params, **_: pages.append(params)
    )
    settings = InfrastructureExportSettings("prod", BUCKET, key, user_pool_id=pool)

    document = infrastructure_export.run_export(settings, aws_session, NOW)

    s3 = aws_session.client("s3")
    assert document["rootStack"] == root
    assert len(document["stacks"]) == 4  # root, CoreStorage, CoreApi and CoreApi's Ocr
    assert any("-Ocr-" in name for name in document["stacks"])
    written = {
        o["Key"]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="infrastructure/2027-03-01/")["Contents"]
    }
    assert written == {f["key"] for f in document["files"]} | {
        "infrastructure/2027-03-01/manifest.json"
    }
    root_stack = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"infrastructure/2027-03-01/stacks/{root}/stack.json")[
            "Body"
        ].read()
    )
    assert root_stack["parameters"] == {"AppEnvironment": "prod"}
    assert root_stack["outputs"]["CognitoUserPoolId"] == pool
    template = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"infrastructure/2027-03-01/stacks/{root}/template.json")[
            "Body"
        ].read()
    )
    assert set(template["Resources"]) == {"CoreStorage", "CoreApi"}
    parameters = json.loads(
        s3.get_object(Bucket=BUCKET, Key="infrastructure/2027-03-01/ssm-parameters.json")[
            "Body"
        ].read()
    )
    expected = {name for name in sample.parameters if name.startswith("/formkiq/prod/")} | {
        "/formkiq/prod/cognito/UserPoolId",
        "/formkiq/prod/cognito/UserPoolArn",
    }
    assert {p["name"] for p in parameters} == expected
    assert document["parameterCount"] == len(expected) > 10
    assert len(pages) > 1, "more than 10 parameters take more than one GetParametersByPath page"
    for entry in document["files"]:
        body = s3.get_object(Bucket=BUCKET, Key=entry["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]


def test_infrastructure_export_without_a_root_stack_names_what_it_looked_for(
    aws_session: boto3.session.Session,
) -> None:
    key = exports_bucket(aws_session)
    settings = InfrastructureExportSettings("prod", BUCKET, key, user_pool_id="us-east-1_x")

    with pytest.raises(RootStackNotFoundError, match=r"AppEnvironment='prod'.*found none"):
        infrastructure_export.run_export(settings, aws_session, NOW)


# --- the handlers, as Lambda calls them ---------------------------------------------------------


def test_handlers_read_their_settings_from_the_environment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from formkiq_backup.lambdas import export_monitor

    key = exports_bucket(world.session)
    formkiq_stacks(world.session, world.pool_id)
    for name, value in {
        "APP_ENVIRONMENT": "prod",
        "EXPORTS_BUCKET": BUCKET,
        "KMS_KEY_ARN": key,
        "USER_POOL_ID": world.pool_id,
        "ROOT_STACK_NAME": "",
    }.items():
        monkeypatch.setenv(name, value)

    users = cognito_export.handler({}, None)
    infrastructure = infrastructure_export.handler({}, None)

    assert users["count"] == 4 and users["userPoolId"] == world.pool_id
    assert infrastructure["rootStack"] == "formkiq-core-prod"
    assert len(infrastructure["stacks"]) == 4
    # No exports.json yet: the stack did not finish deploying, and the monitor says so.
    with pytest.raises(export_monitor.MissingDescriptorError, match=r"exports\.json is missing"):
        export_monitor.handler({}, None)
