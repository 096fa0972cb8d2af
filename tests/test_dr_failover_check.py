"""`formkiq-dr failover-check`: what a FormKiQ deployed in drRegion would find there, read-only,
with an exit code that says ready (0) or not (1), and 2 for a usage or access error.

moto plays the replica tables, buckets, vaults and exports in us-west-2; DescribeTable's
`Replicas[]` and AWS Backup recovery points are AWS's shapes filled in where moto has none
(tests/failover_support.py says how).
"""

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from formkiq_backup.dr.cli import cli
from tests.dr_support import (
    BUCKET,
    DOCUMENTS,
    SYNCS,
    Outcome,
    World,
    hook_clients,
    no_aws_session,
    run_cli,
)
from tests.failover_support import (
    NEWEST_ID,
    NEWEST_KEY,
    PRIMARY,
    DrSide,
    dr_side,
    enterprise_outputs,
)
from tests.test_dr_verify import ARNS
from tests.test_dr_verify_dr_region import DOCUMENTS_REPLICA, DR, DR_VAULT, EXPORTS_REPLICA

TABLES = {f"{DOCUMENTS} ({DR})", f"{SYNCS} ({DR})"}


@pytest.fixture
def side(world: World, monkeypatch: pytest.MonkeyPatch) -> DrSide:
    return dr_side(world, monkeypatch)


def check(tmp_path: Path, *flags: str, **changes: Any) -> Outcome:
    path = enterprise_outputs(tmp_path, **changes)
    return run_cli("failover-check", "--stack-outputs", str(path), *flags, "--json")


def details(outcome: Outcome, section: str) -> dict[str, tuple[str, str]]:
    return {e["subject"]: (e["status"], e["detail"]) for e in outcome.entries(section)}


def test_a_ready_region_says_what_a_formkiq_deployed_there_would_find(
    side: DrSide, tmp_path: Path
) -> None:
    outcome = check(tmp_path)

    assert outcome.exit_code == 0, outcome.report
    assert (outcome.report["outcome"], outcome.report["ok"], outcome.report["exitCode"]) == (
        "done",
        True,
        0,
    )
    summary = outcome.report["summary"]
    assert (summary["region"], summary["primaryRegion"], summary["ready"]) == (DR, PRIMARY, True)
    assert summary["missing"] == []
    assert outcome.statuses("replica table") == dict.fromkeys(TABLES, "pass")
    assert outcome.statuses("replica pitr") == dict.fromkeys(TABLES, "pass")
    tables = details(outcome, "replica table")
    assert "about 33 items" in tables[f"{DOCUMENTS} ({DR})"][1]
    assert (
        "(DescribeTable's figures, updated about every six hours)"
        in tables[f"{DOCUMENTS} ({DR})"][1]
    )
    newest = outcome.entries("newest document")[0]
    assert newest["detail"].startswith(f"{NEWEST_ID} in site finance, added ")
    assert "(30 min ago); read through GSI1 over 2 sites" in newest["detail"]
    assert (newest["data"]["documentId"], newest["data"]["site"]) == (NEWEST_ID, "finance")
    bucket = details(outcome, "documents replica")
    assert bucket[DOCUMENTS_REPLICA][0] == "pass"
    assert bucket[DOCUMENTS_REPLICA][1].startswith("versioning Enabled; newest of its objects: ")
    assert bucket[NEWEST_KEY][1].startswith("the newest document's content is there, 20 bytes")
    assert outcome.statuses("dr copies") == {
        f"{name} ({DR}, {DR_VAULT})": "pass" for name in (DOCUMENTS, SYNCS, BUCKET)
    }
    assert outcome.statuses("exports replica") == {
        f"dynamodb/{DOCUMENTS}": "pass",
        f"dynamodb/{SYNCS}": "pass",
        "cognito": "pass",
        "infrastructure": "pass",
    }
    assert details(outcome, "readiness") == {
        DR: ("pass", f"ready: what the stack keeps in {DR} is there")
    }


def test_the_check_never_writes_and_never_calls_the_primary_region(
    side: DrSide, tmp_path: Path
) -> None:
    """Every call describes, lists, gets, heads, queries or scans; with the stack's outputs,
    all of them go to the DR region, so the check runs while the primary is down."""
    side.answers.calls.clear()
    outcome = check(tmp_path, "--exact")

    assert outcome.exit_code == 0, outcome.report
    made = {(c.service, c.operation) for c in side.answers.calls}
    assert ("dynamodb", "Scan") in made and ("dynamodb", "Query") in made
    assert side.answers.writes() == []
    assert {c.region for c in side.answers.calls} == {DR}


def test_exact_counts_each_replica_with_a_scan(side: DrSide, tmp_path: Path) -> None:
    outcome = check(tmp_path, "--exact")

    assert details(outcome, "item count") == {
        f"{DOCUMENTS} ({DR})": ("info", "exactly 33 items (a Scan just now, every item read)"),
        f"{SYNCS} ({DR})": ("info", "exactly 10 items (a Scan just now, every item read)"),
    }


def test_exact_stops_at_its_bound_and_says_so(
    side: DrSide, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("formkiq_backup.dr.failover.EXACT_COUNT_LIMIT", 5)
    outcome = check(tmp_path, "--exact")

    counted = outcome.entries("item count")[0]
    assert counted["detail"] == "at least 5 items: stopped after scanning 5"
    assert counted["data"] == {"items": 5, "complete": False}
    scans = [c for c in side.answers.calls if c.operation == "Scan"]
    assert scans and all(c.params["Limit"] <= 5 for c in scans)


def test_what_is_missing_makes_it_not_ready_everywhere_it_is_reported(
    side: DrSide, tmp_path: Path
) -> None:
    side.client("dynamodb").delete_table(TableName=SYNCS)
    side.copies[(DR, ARNS[BUCKET])] = []
    path = enterprise_outputs(tmp_path)

    outcome = run_cli("failover-check", "--stack-outputs", str(path), "--json")
    text = CliRunner().invoke(
        cli, ["failover-check", "--stack-outputs", str(path)], env={"COLUMNS": "200"}
    )

    missing = [
        f"replica table: {SYNCS} ({DR})",
        f"dr copies: {BUCKET} ({DR}, {DR_VAULT})",
    ]
    assert (outcome.exit_code, text.exit_code) == (1, 1)
    assert (outcome.report["outcome"], outcome.report["ok"], outcome.report["exitCode"]) == (
        "failed",
        False,
        1,
    )
    assert (outcome.report["summary"]["ready"], outcome.report["summary"]["missing"]) == (
        False,
        missing,
    )
    assert details(outcome, "readiness") == {
        DR: ("fail", f"not ready: 2 problems ({'; '.join(missing)})")
    }
    lines = text.stdout.splitlines()
    assert lines[0] == "formkiq-dr failover-check for FormKiQ prod: FAILED"
    assert lines[lines.index("readiness") + 1] == f"  fail  {DR}"
    assert "  ready: False" in lines


def test_a_missing_replica_bucket_fails(side: DrSide, tmp_path: Path) -> None:
    s3 = side.client("s3")
    for version in s3.list_object_versions(Bucket=DOCUMENTS_REPLICA).get("Versions", []):
        s3.delete_object(
            Bucket=DOCUMENTS_REPLICA, Key=version["Key"], VersionId=version["VersionId"]
        )
    s3.delete_bucket(Bucket=DOCUMENTS_REPLICA)
    outcome = check(tmp_path)

    assert outcome.exit_code == 1
    assert details(outcome, "documents replica") == {
        DOCUMENTS_REPLICA: ("fail", f"no bucket {DOCUMENTS_REPLICA}: no content here")
    }


def test_no_permission_on_the_replica_bucket_is_an_access_error_not_a_region_not_ready(
    side: DrSide, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 answers a denied HeadBucket with a bare 403 (a HEAD response has no body): exit 2, as
    the help promises for an access error, never 1 (not ready)."""

    def forbidden(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadBucket")

    hook_clients(monkeypatch, "before-parameter-build.s3.HeadBucket", forbidden)
    outcome = check(tmp_path)

    assert outcome.exit_code == 2
    assert outcome.report["exitCode"] == 2
    assert outcome.report["outcome"] == "setup-error"


def test_the_newest_documents_content_not_yet_replicated_is_a_warning(
    side: DrSide, tmp_path: Path
) -> None:
    s3 = side.client("s3")
    for version in s3.list_object_versions(Bucket=DOCUMENTS_REPLICA, Prefix=NEWEST_KEY)["Versions"]:
        s3.delete_object(Bucket=DOCUMENTS_REPLICA, Key=NEWEST_KEY, VersionId=version["VersionId"])
    outcome = check(tmp_path)

    assert outcome.exit_code == 0, outcome.report
    status, detail = details(outcome, "documents replica")[NEWEST_KEY]
    assert status == "warn"
    assert detail.startswith("the newest document's content is not in the replica: replication")


def test_a_stale_copy_warns_and_the_region_stays_ready(side: DrSide, tmp_path: Path) -> None:
    """It can still be restored; verify is where a broken copy schedule fails."""
    side.copies[(DR, ARNS[DOCUMENTS])] = [40.0]
    outcome = check(tmp_path)

    assert outcome.exit_code == 0, outcome.report
    status, detail = details(outcome, "dr copies")[f"{DOCUMENTS} ({DR}, {DR_VAULT})"]
    assert status == "warn"
    assert detail.endswith("40.0 h old (tier allows 26 h)")


def test_a_corrupt_users_export_in_the_replica_fails(side: DrSide, tmp_path: Path) -> None:
    s3 = side.client("s3")
    users = next(
        o["Key"]
        for o in s3.list_objects_v2(Bucket=EXPORTS_REPLICA, Prefix="cognito/")["Contents"]
        if o["Key"].endswith("users.jsonl.gz")
    )
    s3.put_object(Bucket=EXPORTS_REPLICA, Key=users, Body=__import__("gzip").compress(b"{}\n"))
    outcome = check(tmp_path)

    assert outcome.exit_code == 1
    status, detail = details(outcome, "exports replica")["cognito"]
    assert status == "fail"
    assert detail.startswith("CORRUPT: ")


def test_without_table_replicas_the_tables_are_information_with_what_to_do(
    side: DrSide, tmp_path: Path
) -> None:
    """An Enhanced stack keeps no replica tables: metadata comes from the DR vault's copies."""
    for table in (DOCUMENTS, SYNCS):
        side.client("dynamodb").delete_table(TableName=table)
    outcome = check(tmp_path, tier="enhanced", globalTableReplicaRegions=[], vaultLocks=[])

    assert outcome.exit_code == 0, outcome.report
    status, detail = details(outcome, "replica table")[f"{DOCUMENTS} ({DR})"]
    assert status == "info"
    assert detail == (
        f"no table {DOCUMENTS} in {DR}: the stack keeps no replica of it here; FormKiQ's "
        "metadata would come from the DR vault's copies (restore them: docs/failover.md)"
    )
    assert outcome.entries("newest document") == []


def test_a_region_with_table_replicas_only_is_not_ready_for_want_of_content(
    side: DrSide, tmp_path: Path
) -> None:
    """A replicaRegions region holds the tables; the documents' content stays in drRegion."""
    outcome = check(tmp_path, "--region", "eu-west-1", globalTableReplicaRegions=[DR, "eu-west-1"])

    assert outcome.exit_code == 1
    assert outcome.report["summary"]["region"] == "eu-west-1"
    assert details(outcome, "documents replica") == {
        "eu-west-1": (
            "fail",
            "no document content here: the stack keeps neither a replica bucket nor copies in "
            f"eu-west-1; they are in {DR}",
        )
    }
    assert {c.region for c in side.answers.calls} == {"eu-west-1"}


def test_without_stack_outputs_formkiq_is_discovered_in_the_primary_region(
    side: DrSide,
) -> None:
    outcome = run_cli(
        "failover-check",
        *("--app-env", "prod", "--tier", "enterprise", "--primary-region", PRIMARY),
        *("--region", DR, "--json"),
    )

    assert outcome.exit_code == 0, outcome.report
    summary = outcome.report["summary"]
    assert (summary["names"], summary["tier"]) == (
        "tier enterprise, the names the program gives",
        "enterprise",
    )
    assert outcome.statuses("replica table") == dict.fromkeys(TABLES, "pass")
    assert outcome.statuses("documents replica")[DOCUMENTS_REPLICA] == "pass"


def test_no_formkiq_in_the_primary_region_is_a_usage_error_naming_that_region(
    world: World,
) -> None:
    outcome = run_cli(
        "failover-check",
        *("--app-env", "staging", "--tier", "enterprise", "--primary-region", PRIMARY),
        *("--region", DR, "--json"),
    )

    assert outcome.exit_code == 2
    error = outcome.report["summary"]["error"]
    assert error.startswith("no FormKiQ parameters under /formkiq/staging/")
    assert f"region {PRIMARY})" in error and DR not in error


def outputs_file(folder: Path, **changes: Any) -> str:
    folder.mkdir(exist_ok=True)
    return str(enterprise_outputs(folder, **changes))


USAGE: list[tuple[list[str], str]] = [
    (
        ["--stack-outputs", "{outputs}", "--region", PRIMARY],
        f"--region {PRIMARY} is the primary region: give the region to fail over to ({DR})",
    ),
    (
        ["--stack-outputs", "{outputs}", "--region", "eu-west-1"],
        f"--region eu-west-1: the stack keeps nothing there; it keeps copies or replicas in {DR}",
    ),
    (
        ["--stack-outputs", "{standard}"],
        "the stack keeps nothing in a second region (drRegion is none): there is nothing to "
        "fail over to",
    ),
    (
        ["--stack-outputs", "{outputs}", "--tier", "enhanced"],
        "--tier 'enhanced' disagrees with --stack-outputs",
    ),
    (
        ["--stack-outputs", "{outputs}", "--primary-region", "eu-west-1"],
        "--primary-region 'eu-west-1' disagrees with --stack-outputs",
    ),
    (
        ["--app-env", "prod", "--primary-region", PRIMARY, "--region", DR],
        "give --tier (enhanced or enterprise): what the stack keeps in the region",
    ),
    (
        ["--app-env", "prod", "--tier", "enterprise", "--region", DR],
        "give --primary-region: where FormKiQ runs now",
    ),
    (
        ["--app-env", "prod", "--tier", "enterprise", "--primary-region", PRIMARY],
        "give --region: the region to fail over to",
    ),
    (
        ["--app-env", "prod", "--tier", "enterprise", "--primary-region", "east", "--region", DR],
        "--primary-region 'east' is not an AWS region name such as us-east-1",
    ),
    (
        ["--app-env", "prod", "--tier", "enterprise", "--primary-region", DR, "--region", DR],
        f"--region and --primary-region are both {DR}",
    ),
    (["--tier", "enterprise", "--primary-region", PRIMARY, "--region", DR], "give --app-env"),
    (["--app-env", "prod", "--tier", "standard"], "'standard' is not one of"),
]


@pytest.mark.parametrize(("arguments", "message"), USAGE, ids=[str(n) for n in range(len(USAGE))])
def test_what_failover_check_cannot_work_from_is_refused_before_any_aws_call(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("FORMKIQ_APP_ENV", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    files = {
        "outputs": outputs_file(tmp_path),
        "standard": outputs_file(tmp_path / "standard", tier="standard", drRegion=None),
    }
    opened = no_aws_session(monkeypatch)

    outcome = run_cli("failover-check", *(a.format(**files) for a in arguments), "--json")

    assert outcome.exit_code == 2
    assert (outcome.report["ok"], outcome.report["exitCode"]) == (False, 2)
    assert message in outcome.report["summary"]["error"]
    assert opened == []


def test_help_says_what_the_exit_codes_mean() -> None:
    result = CliRunner().invoke(cli, ["failover-check", "--help"], env={"COLUMNS": "200"})
    assert "Exit code 0 ready, 1 not ready, 2 usage or access error." in " ".join(
        result.stdout.split()
    )


def test_the_json_report_is_the_whole_stdout(side: DrSide, tmp_path: Path) -> None:
    outcome = check(tmp_path)
    assert json.loads(outcome.stdout) == outcome.report
