"""`formkiq-dr` as users run it: a subprocess against moto_server on 127.0.0.1, with the real AWS
CLI (`aws --endpoint-url`) reading back what the tool wrote."""

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from formkiq_backup.dr.demo import emulator_environment, moto_server
from formkiq_backup.offline.incident import break_site
from formkiq_backup.offline.samples import sample_formkiq
from formkiq_backup.offline.seed import SeededDocument, seed_documents, seed_formkiq, seed_users
from tests.dr_support import BUCKET, DOCUMENTS, MOTO_ACCOUNT

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def emulator(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh moto_server state and the environment children run with."""
    request = urllib.request.Request(f"{server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):  # loopback only
        pass
    monkeypatch.setenv("AWS_ENDPOINT_URL", server)
    return emulator_environment(server, tmp_path)


def seeded(sites: dict[str, int]) -> tuple[boto3.session.Session, list[SeededDocument]]:
    session = boto3.session.Session(region_name="us-east-1")
    sample = sample_formkiq(account_id=MOTO_ACCOUNT)
    seed_formkiq(session, sample)
    documents = seed_documents(session, sample, sites)
    seed_users(session, sample)
    return session, documents


def formkiq_dr(environment: dict[str, str], *arguments: str) -> tuple[int, dict[str, Any]]:
    """The installed console script, exactly as a user types it."""
    result = subprocess.run(
        [str(BIN / "formkiq-dr"), *arguments, "--app-env", "prod", "--json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, json.loads(result.stdout)


def aws(environment: dict[str, str], *arguments: str) -> Any:
    """The AWS CLI, pointed at the emulator only."""
    result = subprocess.run(
        [
            str(BIN / "aws"),
            *arguments,
            "--endpoint-url",
            environment["AWS_ENDPOINT_URL"],
            "--output",
            "json",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_snapshot_repair_and_document_restore_read_back_with_the_aws_cli(
    emulator: dict[str, str],
) -> None:
    session, documents = seeded({"default": 3, "finance": 5})

    code, snapshot = formkiq_dr(emulator, "snapshot", "--label", "e2e")
    assert code == 0, snapshot
    backup = snapshot["summary"]["backups"][DOCUMENTS]
    listed = aws(emulator, "dynamodb", "list-backups", "--table-name", DOCUMENTS)
    assert backup in [summary["BackupArn"] for summary in listed["BackupSummaries"]]

    time.sleep(1.1)
    before = datetime.now(UTC)
    time.sleep(1.1)
    incident = break_site(session, DOCUMENTS, BUCKET, documents, "finance")
    deleted_pk, deleted_sk = incident.deleted_items[0]
    key = json.dumps({"PK": {"S": deleted_pk}, "SK": {"S": deleted_sk}})
    assert aws(emulator, "dynamodb", "get-item", "--table-name", DOCUMENTS, "--key", key) is None

    code, repair = formkiq_dr(
        emulator,
        "repair",
        "--table",
        "documents",
        "--site",
        "finance",
        "--from-backup",
        backup,
        "--apply",
    )
    assert code == 0, repair
    restored = aws(emulator, "dynamodb", "get-item", "--table-name", DOCUMENTS, "--key", key)
    assert restored["Item"]["PK"]["S"] == deleted_pk
    tables = aws(emulator, "dynamodb", "list-tables")["TableNames"]
    assert not [name for name in tables if "-repair-" in name]

    code, restore = formkiq_dr(
        emulator, "restore-documents", "--site", "finance", "--at", before.isoformat(), "--apply"
    )
    assert code == 0, restore
    versions = aws(
        emulator, "s3api", "list-object-versions", "--bucket", BUCKET, "--prefix", "finance/"
    )
    assert not [m for m in versions.get("DeleteMarkers", []) if m["IsLatest"]]
    by_key = {document.object_key: document for document in documents}
    for object_key in incident.deleted_objects:
        head = aws(emulator, "s3api", "head-object", "--bucket", BUCKET, "--key", object_key)
        assert head["VersionId"] == by_key[object_key].versions[-1]

    code, verify = formkiq_dr(emulator, "verify")
    assert code == 0, verify


def test_users_export_matches_what_the_aws_cli_lists(
    emulator: dict[str, str], tmp_path: Path
) -> None:
    seeded({"default": 1})
    out = tmp_path / "users.jsonl"
    code, report = formkiq_dr(emulator, "users", "export", "--out", str(out))

    assert code == 0, report
    pool = aws(emulator, "ssm", "get-parameter", "--name", "/formkiq/prod/cognito/UserPoolId")[
        "Parameter"
    ]["Value"]
    listed = aws(emulator, "cognito-idp", "list-users", "--user-pool-id", pool)["Users"]
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(u["username"] for u in exported) == sorted(u["Username"] for u in listed)


def test_exit_code_2_and_a_json_error_for_an_unknown_environment(emulator: dict[str, str]) -> None:
    seeded({"default": 1})
    result = subprocess.run(
        [str(BIN / "formkiq-dr"), "verify", "--app-env", "nowhere", "--json"],
        env=emulator,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert (
        "no FormKiQ parameters under /formkiq/nowhere/"
        in json.loads(result.stdout)["summary"]["error"]
    )


def test_an_emulator_html_error_page_is_summarised_not_dumped(emulator: dict[str, str]) -> None:
    """moto_server has no AWS Backup recovery-point API: it answers a 404 HTML page."""
    seeded({"default": 1})
    result = subprocess.run(
        [str(BIN / "formkiq-dr"), "verify", "--tier", "standard", "--app-env", "prod", "--json"],
        env=emulator,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert report["ok"] is False
    assert report["exitCode"] == 1
    assert report["summary"]["error"] == (
        f"ListRecoveryPointsByResource: 404: HTTP 404 from {emulator['AWS_ENDPOINT_URL']}: "
        "an HTML page (404 Not Found), not an AWS API answer"
    )
    assert "<" not in result.stdout + result.stderr


def test_python_dash_m_runs_the_same_tool(emulator: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "formkiq_backup", "--help"],
        env=emulator,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "restore-documents" in result.stdout


def test_demo_runs_from_start_to_finish(tmp_path: Path) -> None:
    """`make demo`: its own moto_server, the whole story, every step ending as expected."""
    result = subprocess.run(
        [sys.executable, "-m", "formkiq_backup.dr.demo", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "formkiq-dr demo: summary" in result.stdout
    # The user's document added during the incident is kept by the repair, not deleted.
    assert "kept: created after the recovery point (--delete-new deletes it)" in result.stdout
    report = json.loads((tmp_path / "demo-drill.json").read_text())
    assert report["ok"] is True
    integrity = {e["subject"]: e for e in report["entries"] if e["section"] == "integrity"}
    assert integrity["formkiq-core-prod-documentsyncs"]["status"] == "pass"
    # The live table has the kept document more than the snapshot, and nothing else differs.
    documents = integrity[DOCUMENTS]["data"]
    assert documents["sourceItems"] == documents["restoredItems"] + 1


def test_the_recovery_tool_never_loads_pulumi() -> None:
    """It reads tier promises from tiers.definitions, which must stay free of the Pulumi SDK."""
    modules = ", ".join(
        f"formkiq_backup.dr.{name}" for name in ("cli", "verify", "repair", "drill")
    )
    check = (
        f"import sys, {modules}; print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
