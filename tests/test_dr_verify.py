"""`formkiq-dr verify` against moto; AWS Backup through botocore's Stubber.

moto 5.2.5 implements no AWS Backup job or recovery point API: list_recovery_points_by_resource
and describe_backup_vault are stubbed with real response shapes.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber
from click.testing import CliRunner

from formkiq_backup.discovery import Boto3Reader
from formkiq_backup.dr import context as dr_context
from formkiq_backup.dr.cli import cli
from tests.dr_support import (
    BUCKET,
    DOCUMENTS,
    MOTO_ACCOUNT,
    SYNCS,
    Outcome,
    World,
    no_aws_session,
    run_cli,
)
from tests.exports_support import good_exports, record_export_times

VAULT = "formkiq-prod-backup-vault"


def test_healthy_basic_formkiq_passes_with_its_pitr_window(world: World) -> None:
    outcome = world.run("verify")

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["ok"] is True
    assert outcome.statuses("pitr") == {DOCUMENTS: "pass", SYNCS: "pass"}
    assert outcome.statuses("versioning") == {BUCKET: "pass"}
    documents = outcome.entries("pitr")[0]
    assert documents["detail"].startswith("PITR enabled, 35-day recovery period; restorable ")
    assert documents["data"]["earliestRestorable"] and documents["data"]["latestRestorable"]
    # Basic promises no replication: its absence is information, not a failure.
    assert outcome.statuses("replication") == {BUCKET: "info"}


def test_pitr_turned_off_fails_naming_the_table(world: World) -> None:
    world.client("dynamodb").update_continuous_backups(
        TableName=SYNCS, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )

    outcome = world.run("verify")

    assert outcome.exit_code == 1
    assert outcome.statuses("pitr") == {DOCUMENTS: "pass", SYNCS: "fail"}
    assert outcome.entries("pitr")[1]["detail"] == "PITR disabled"


def test_suspended_versioning_fails(world: World) -> None:
    world.client("s3").put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
    )
    outcome = world.run("verify")
    assert outcome.exit_code == 1
    assert outcome.statuses("versioning") == {BUCKET: "fail"}


def test_unknown_app_environment_is_a_usage_error(world: World) -> None:
    outcome = world.run("verify", app_env="staging")

    assert outcome.exit_code == 2
    assert "no FormKiQ parameters under /formkiq/staging/" in outcome.report["summary"]["error"]
    assert outcome.report["entries"] == []


def test_missing_credentials_is_an_access_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_credentials(*_: Any, **__: Any) -> Any:
        raise NoCredentialsError()

    monkeypatch.setattr(Boto3Reader, "identity", no_credentials)
    outcome = world.run("verify")
    assert outcome.exit_code == 2
    assert "Unable to locate credentials" in outcome.report["summary"]["error"]


def dynamodb_errors(
    monkeypatch: pytest.MonkeyPatch, operation: str, code: str, times: int
) -> list[str]:
    """Answer the first `times` calls of a DynamoDB operation with an error, before sending.

    Returns the list of calls answered so, to count them.
    """
    answered: list[str] = []

    def fail(request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        if target.endswith(operation.encode()) and len(answered) < times:
            answered.append(operation)
            body = f'{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"no"}}'
            return AWSResponse(request.url, 400, json_headers(), _Raw(body.encode()))
        return None

    hook_dynamodb(monkeypatch, "before-send.dynamodb", fail)
    return answered


def hook_dynamodb(monkeypatch: pytest.MonkeyPatch, event: str, handler: Any) -> None:
    """Register a botocore event handler, first, on every DynamoDB client formkiq-dr makes."""
    original = dr_context.DrContext.client

    def client_with_hook(
        self: dr_context.DrContext, service: str, region: str | None = None
    ) -> Any:
        created = original(self, service, region)
        if service == "dynamodb" and not getattr(created, "_hooked", False):
            created.meta.events.register_first(event, handler)
            created._hooked = True
        return created

    monkeypatch.setattr(dr_context.DrContext, "client", client_with_hook)


def test_throttling_is_retried_and_never_crashes_the_command(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adaptive retries: DescribeContinuousBackups throttled three times, then answered. The
    backoff between attempts and the adaptive rate limiter's wait (seconds of real sleep) are
    none here; the retries themselves are botocore's."""
    monkeypatch.setattr(
        "botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0
    )
    monkeypatch.setattr(
        "botocore.retries.bucket.TokenBucket.acquire", lambda self, block=True: True
    )
    throttled = dynamodb_errors(
        monkeypatch, "DescribeContinuousBackups", "ThrottlingException", times=3
    )

    outcome = world.run("verify")

    assert len(throttled) == 3
    assert outcome.exit_code == 0, outcome.report
    assert outcome.statuses("pitr") == {DOCUMENTS: "pass", SYNCS: "pass"}


def test_access_denied_mid_command_is_an_access_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb_errors(monkeypatch, "DescribeContinuousBackups", "AccessDeniedException", times=99)

    outcome = world.run("verify")

    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == (
        f"no access to check PitrCompliant on {DOCUMENTS}: AccessDeniedException: no"
    )


def test_an_aws_error_that_is_not_about_access_fails_the_check(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb_errors(monkeypatch, "DescribeContinuousBackups", "InternalServerError", times=99)

    outcome = world.run("verify")

    assert outcome.exit_code == 1
    assert outcome.statuses("pitr") == {DOCUMENTS: "fail", SYNCS: "fail"}
    assert outcome.entries("pitr")[0]["detail"] == "check failed: InternalServerError: no"


def test_without_json_the_summary_is_readable_and_names_the_failure(world: World) -> None:
    world.client("dynamodb").update_continuous_backups(
        TableName=SYNCS, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )

    # An 80-column terminal: names stay whole, details wrap below them.
    result = CliRunner().invoke(
        cli, ["verify", "--app-env", "prod"], env={"COLUMNS": "80"}, catch_exceptions=False
    )

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "formkiq-dr verify for FormKiQ prod: FAILED"
    assert lines[1] == "pitr"
    assert lines[2] == f"  pass  {DOCUMENTS}"
    assert lines[3].startswith("        PITR enabled, 35-day recovery period; restorable 20")
    failed = lines.index(f"  fail  {SYNCS}")
    assert lines[failed + 1] == "        PITR disabled"
    assert lines[lines.index("versioning") + 1 :][:2] == [
        f"  pass  {BUCKET}",
        "        versioning Enabled",
    ]
    assert max(len(line) for line in lines) <= 80


def json_headers() -> HTTPHeaders:
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    return headers


class _Raw:
    """The raw body botocore reads from an HTTP response."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


@contextmanager
def stubbed_backup(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Give DrContext a backup client whose every call must be stubbed, in order."""
    import boto3

    client = boto3.session.Session(region_name="us-east-1").client("backup")
    stubber = Stubber(client)
    original = dr_context.DrContext.client

    def client_for(self: dr_context.DrContext, service: str, region: str | None = None) -> Any:
        return client if service == "backup" else original(self, service, region)

    monkeypatch.setattr(dr_context.DrContext, "client", client_for)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def recovery_points(
    resource_arn: str, ages_hours: list[float], vault: str = VAULT
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "RecoveryPoints": [
            {
                "RecoveryPointArn": f"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:recovery-point:{i}",
                "BackupVaultName": vault,
                "CreationDate": now - timedelta(hours=age),
                "Status": "COMPLETED",
                "BackupSizeBytes": 123_456,
                "EncryptionKeyArn": f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:key/{vault}",
                "ResourceName": resource_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1],
            }
            for i, age in enumerate(ages_hours)
        ]
    }


ARNS = {
    DOCUMENTS: f"arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/{DOCUMENTS}",
    SYNCS: f"arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/{SYNCS}",
    BUCKET: f"arn:aws:s3:::{BUCKET}",
}


def expect_points(stubber: Stubber, ages: dict[str, list[float]]) -> None:
    for name, arn in ARNS.items():
        stubber.add_response(
            "list_recovery_points_by_resource",
            recovery_points(arn, ages[name]),
            {"ResourceArn": arn},
        )


def vault_description(locked: bool) -> dict[str, Any]:
    description: dict[str, Any] = {
        "BackupVaultName": VAULT,
        "BackupVaultArn": f"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:backup-vault:{VAULT}",
        "Locked": locked,
    }
    if locked:
        description.update(MinRetentionDays=7, MaxRetentionDays=3650)
    return description


def test_standard_tier_passes_with_fresh_recovery_points(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_export_times(world.session, monkeypatch)
    good_exports(world.session, world.sample, world.pool_id)  # standard promises exports too
    with stubbed_backup(monkeypatch) as stubber:
        expect_points(stubber, {DOCUMENTS: [30, 2], SYNCS: [2], BUCKET: [3]})
        stubber.add_response(
            "describe_backup_vault", vault_description(False), {"BackupVaultName": VAULT}
        )
        outcome = world.run("verify", "--tier", "standard")

    assert outcome.exit_code == 0, outcome.report
    points = outcome.statuses("recovery points")
    assert points == {
        f"{DOCUMENTS} (us-east-1, {VAULT})": "pass",
        f"{SYNCS} (us-east-1, {VAULT})": "pass",
        f"{BUCKET} (us-east-1, {VAULT})": "pass",
    }
    newest = outcome.entries("recovery points")[0]
    assert "2.0 h old (tier allows 26 h)" in newest["detail"]
    # Standard does not promise a lock: reported, not failed.
    assert outcome.statuses("vault lock") == {VAULT: "info"}
    assert set(outcome.statuses("exports").values()) == {"pass"}


def test_standard_tier_fails_when_backups_stopped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed_backup(monkeypatch) as stubber:
        expect_points(stubber, {DOCUMENTS: [30], SYNCS: [], BUCKET: [3]})
        stubber.add_response(
            "describe_backup_vault", vault_description(False), {"BackupVaultName": VAULT}
        )
        outcome = world.run("verify", "--tier", "standard")

    assert outcome.exit_code == 1
    points = outcome.statuses("recovery points")
    assert points[f"{DOCUMENTS} (us-east-1, {VAULT})"] == "warn"
    assert points[f"{DOCUMENTS} (us-east-1)"] == "fail"
    assert points[f"{SYNCS} (us-east-1)"] == "fail"
    assert points[f"{BUCKET} (us-east-1, {VAULT})"] == "pass"


def test_enterprise_tier_demands_lock_replication_and_replicas(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed_backup(monkeypatch) as stubber:
        expect_points(stubber, {DOCUMENTS: [1], SYNCS: [1], BUCKET: [1]})
        stubber.add_response(
            "describe_backup_vault", vault_description(True), {"BackupVaultName": VAULT}
        )
        outcome = world.run("verify", "--tier", "enterprise")

    assert outcome.exit_code == 1
    assert outcome.statuses("vault lock") == {VAULT: "pass"}
    assert (
        "locked (governance), retention 7..3650 days" in outcome.entries("vault lock")[0]["detail"]
    )
    assert outcome.statuses("replication") == {BUCKET: "fail"}
    assert outcome.statuses("global table") == {DOCUMENTS: "fail", SYNCS: "fail"}


def test_global_table_replicas_are_reported_by_status(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto 5.2.5 accepts ReplicaUpdates but never lists a replica, so DescribeTable's
    `Replicas` is filled in after moto answers, in the API's own shape."""
    replicas = {DOCUMENTS: "ACTIVE", SYNCS: "CREATING"}

    def with_replicas(parsed: dict[str, Any], **_: Any) -> None:
        table = parsed.get("Table", {})
        if table.get("TableName") in replicas:
            table["Replicas"] = [
                {"RegionName": "us-west-2", "ReplicaStatus": replicas[table["TableName"]]}
            ]

    hook_dynamodb(monkeypatch, "after-call.dynamodb.DescribeTable", with_replicas)
    outcome = world.run("verify", "--dr-region", "us-west-2")

    assert outcome.exit_code == 0, outcome.report
    assert outcome.statuses("global table") == {DOCUMENTS: "pass", SYNCS: "info"}
    details = {e["subject"]: e["detail"] for e in outcome.entries("global table")}
    assert details == {
        DOCUMENTS: "replica in us-west-2 ACTIVE",
        SYNCS: "replicas: us-west-2 CREATING",
    }


# --- verify --stack-outputs: what the stack built, not what someone typed ------------------


def stack_outputs(tmp_path: Path, **changes: Any) -> Path:
    """A `pulumi stack output --json` of a stack over the seeded FormKiQ."""
    expectations: dict[str, Any] = {
        "tier": "basic",
        "appEnvironment": "prod",
        "primaryRegion": "us-east-1",
        "drRegion": None,
        "vaults": [],
        "tables": [DOCUMENTS, SYNCS],
        "buckets": [BUCKET],
        "globalTableReplicaRegions": [],
    } | changes
    outputs = {
        "tier": expectations["tier"],
        "alarmTopicArn": f"arn:aws:sns:us-east-1:{MOTO_ACCOUNT}:formkiq-prod-backup-alarms",
        "protectedTables": [DOCUMENTS, SYNCS],
        "protectedBuckets": [BUCKET],
        "verifyExpectations": expectations,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs, indent=2))
    return path


def verify_with(path: Path, *flags: str) -> Outcome:
    return run_cli("verify", "--stack-outputs", str(path), *flags, "--json")


def test_stack_outputs_replace_the_flags(world: World, tmp_path: Path) -> None:
    """No --app-env, --tier or --region: the stack's outputs say them."""
    path = stack_outputs(tmp_path)
    outcome = verify_with(path)

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["app_environment"] == "prod"
    assert outcome.report["summary"]["tier"] == "basic"
    assert outcome.report["summary"]["region"] == "us-east-1"
    assert outcome.report["summary"]["stackOutputs"] == str(path)
    assert outcome.statuses("stack") == {str(path): "pass"}


def test_outputs_of_an_older_program_are_read_from_the_top_level_keys(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            {
                "tier": "basic",
                "appEnvironment": "prod",
                "primaryRegion": "us-east-1",
                "drRegion": None,
                "protectedTables": [DOCUMENTS, SYNCS],
                "protectedBuckets": [BUCKET],
            }
        )
    )
    outcome = verify_with(path)
    assert outcome.exit_code == 0, outcome.report
    assert outcome.statuses("stack") == {str(path): "pass"}


def test_a_table_the_stack_does_not_protect_fails(world: World, tmp_path: Path) -> None:
    """FormKiQ gained a table (an upgrade) that the stack was never updated for."""
    outcome = verify_with(stack_outputs(tmp_path, tables=[DOCUMENTS, "formkiq-core-prod-old"]))

    assert outcome.exit_code == 1
    details = {e["subject"]: e["detail"] for e in outcome.entries("stack")}
    assert details == {
        SYNCS: "FormKiQ has this table, the stack does not protect it: run pulumi up",
        "formkiq-core-prod-old": (
            "the stack protects this table, FormKiQ does not have it (any more)"
        ),
    }


def test_the_stacks_vaults_locks_and_recovery_point_age_are_required(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vaults = [
        {
            "name": VAULT,
            "arn": "x",
            "region": "us-east-1",
            "maxRecoveryPointAgeHours": 1,
            "locked": True,
        },
        {"name": "gone", "region": "us-east-1", "maxRecoveryPointAgeHours": 26, "locked": False},
    ]
    path = stack_outputs(tmp_path, tier="standard", vaults=vaults)
    with stubbed_backup(monkeypatch) as stubber:
        expect_points(stubber, {DOCUMENTS: [0.5], SYNCS: [0.5], BUCKET: [2]})
        stubber.add_response(
            "describe_backup_vault", vault_description(False), {"BackupVaultName": VAULT}
        )
        stubber.add_client_error(
            "describe_backup_vault",
            "ResourceNotFoundException",
            "no such vault",
            404,
            expected_params={"BackupVaultName": "gone"},
        )
        outcome = verify_with(path)

    assert outcome.exit_code == 1
    assert outcome.statuses("vault lock") == {f"{VAULT} (us-east-1)": "fail"}
    assert outcome.statuses("vault") == {"gone (us-east-1)": "fail"}
    # The stack's 1 h, not the tier's 26 h: the bucket's 2-hour-old point is too old.
    points = outcome.statuses("recovery points")
    assert points[f"{BUCKET} (us-east-1)"] == "fail"
    assert points[f"{DOCUMENTS} (us-east-1, {VAULT})"] == "pass"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tier: basic\n", "not JSON (Expecting value at line 1)"),
        ("[]", "not a JSON object of stack outputs"),
        (
            json.dumps({"verifyExpectations": {"tier": "basic"}}),
            "verifyExpectations.appEnvironment is missing",
        ),
        (json.dumps({"tier": "gold"}), "tier is 'gold', not one of basic, standard"),
        (
            json.dumps(
                {
                    "verifyExpectations": {
                        "tier": "basic",
                        "appEnvironment": "prod",
                        "primaryRegion": "us-east-1",
                        "vaults": [{"name": "v", "locked": "yes"}],
                        "tables": [],
                        "buckets": [],
                    }
                }
            ),
            "verifyExpectations.vaults[0].locked is 'yes', not true or false",
        ),
        (
            json.dumps(
                {
                    "tier": "standard",
                    "appEnvironment": "prod",
                    "primaryRegion": "us-east-1",
                    "protectedTables": "all",
                }
            ),
            "protectedTables is 'all', not a list",
        ),
    ],
    ids=["yaml", "a-list", "missing-key", "unknown-tier", "locked-not-bool", "tables-not-a-list"],
)
def test_stack_outputs_that_cannot_say_what_to_expect_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(content)
    opened = no_aws_session(monkeypatch)

    outcome = verify_with(path)

    assert outcome.exit_code == 2
    assert f"--stack-outputs {path}: {message}" in outcome.report["summary"]["error"]
    assert opened == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--tier", "enterprise"), "--tier 'enterprise' disagrees with --stack-outputs"),
        (("--app-env", "staging"), "--app-env (or FORMKIQ_APP_ENV) 'staging' disagrees"),
        (("--region", "eu-west-1"), "whose primaryRegion is 'us-east-1'"),
        (("--dr-region", "us-west-2"), "whose drRegion is none"),
        (("--vault", "other"), "--vault other disagrees"),
    ],
)
def test_a_flag_that_disagrees_with_the_stack_outputs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], message: str
) -> None:
    opened = no_aws_session(monkeypatch)
    outcome = verify_with(stack_outputs(tmp_path), *flags)

    assert outcome.exit_code == 2
    assert message in outcome.report["summary"]["error"]
    assert opened == []


def test_flags_that_agree_with_the_stack_outputs_are_fine(world: World, tmp_path: Path) -> None:
    outcome = verify_with(stack_outputs(tmp_path), "--tier", "basic", "--app-env", "prod")
    assert outcome.exit_code == 0, outcome.report


def test_verify_without_an_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORMKIQ_APP_ENV", raising=False)
    outcome = run_cli("verify", "--json")
    assert outcome.exit_code == 2
    assert "give --app-env (or FORMKIQ_APP_ENV), or --stack-outputs FILE" in outcome.stderr


def test_the_stacks_replica_regions_are_required(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto 5.2.5 never lists a replica: DescribeTable's `Replicas` is filled in, as above."""
    replicas = {DOCUMENTS: "ACTIVE", SYNCS: "CREATING"}

    def with_replicas(parsed: dict[str, Any], **_: Any) -> None:
        table = parsed.get("Table", {})
        if table.get("TableName") in replicas:
            table["Replicas"] = [
                {"RegionName": "us-west-2", "ReplicaStatus": replicas[table["TableName"]]}
            ]

    hook_dynamodb(monkeypatch, "after-call.dynamodb.DescribeTable", with_replicas)
    outcome = verify_with(stack_outputs(tmp_path, globalTableReplicaRegions=["us-west-2"]))

    assert outcome.exit_code == 1
    assert outcome.statuses("global table") == {DOCUMENTS: "pass", SYNCS: "fail"}


def test_verify_reads_the_outputs_the_program_exports(tmp_path: Path) -> None:
    """The contract between the two halves: what `pulumi stack output --json` gives for the
    example standard stack (rendered offline) is what `--stack-outputs` reads."""
    from formkiq_backup.dr.expectations import read_stack_outputs
    from formkiq_backup.offline.program import run_program

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(run_program("prod").outputs, default=str))

    expected = read_stack_outputs(path)

    assert (expected.tier.value, expected.app_environment) == ("standard", "prod")
    assert (expected.primary_region, expected.dr_region) == ("us-east-1", None)
    assert [
        (v.name, v.region, v.max_recovery_point_age_hours, v.locked) for v in expected.vaults
    ] == [("formkiq-prod-backup-vault", "us-east-1", 26, False)]
    assert expected.tables and expected.buckets
