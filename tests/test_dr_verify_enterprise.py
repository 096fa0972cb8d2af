"""`formkiq-dr verify` of an Enterprise stack: global table replicas (ACTIVE in both views, PITR
on, lag within the RPO) and vault locks with the bounds the stack set, the air-gapped vault.

moto plays the replica tables, buckets, vaults with their locks and the ReplicationLatency
metric; DescribeTable's `Replicas[]`, AWS Backup recovery points and the logically air-gapped
vault are AWS's shapes filled in where moto has none (tests/failover_support.py says how).
"""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from formkiq_backup.dr.cli import cli
from tests.dr_support import DOCUMENTS, SYNCS, Outcome, World, no_aws_session, run_cli
from tests.failover_support import (
    AIR_GAPPED,
    PRIMARY,
    DrSide,
    air_gapped_vault,
    dr_side,
    enterprise_outputs,
)
from tests.test_dr_verify import VAULT
from tests.test_dr_verify_dr_region import DR, DR_VAULT

REPLICAS = {f"{DOCUMENTS} ({DR})", f"{SYNCS} ({DR})"}
LOCKS = {f"{VAULT} ({PRIMARY})", f"{DR_VAULT} ({DR})", f"{AIR_GAPPED} ({DR})"}


@pytest.fixture
def side(world: World, monkeypatch: pytest.MonkeyPatch) -> DrSide:
    return dr_side(world, monkeypatch)


def verify(tmp_path: Path, **changes: object) -> Outcome:
    return run_cli(
        "verify", "--stack-outputs", str(enterprise_outputs(tmp_path, **changes)), "--json"
    )


def details(outcome: Outcome, section: str) -> dict[str, tuple[str, str]]:
    return {e["subject"]: (e["status"], e["detail"]) for e in outcome.entries(section)}


def test_a_healthy_enterprise_stack_passes_every_replica_and_lock_check(
    side: DrSide, tmp_path: Path
) -> None:
    outcome = verify(tmp_path)

    assert outcome.exit_code == 0, outcome.report
    assert (outcome.report["outcome"], outcome.report["ok"]) == ("done", True)
    assert outcome.statuses("global table") == {DOCUMENTS: "pass", SYNCS: "pass"}
    for section in ("replica table", "replica pitr", "replica lag"):
        assert outcome.statuses(section) == dict.fromkeys(REPLICAS, "pass"), section
    table = details(outcome, "replica table")[f"{DOCUMENTS} ({DR})"][1]
    assert table.startswith(f"ACTIVE; replicates with {PRIMARY} ACTIVE; about 33 items")
    assert "(DescribeTable's figures, updated about every six hours)" in table
    lag = details(outcome, "replica lag")[f"{DOCUMENTS} ({DR})"][1]
    assert lag.startswith("0.8 s behind in the minute from ")
    assert lag.endswith("within the tier's RPO of 1 min")
    assert outcome.statuses("vault lock") == dict.fromkeys(LOCKS, "pass")
    locks = details(outcome, "vault lock")
    assert locks[f"{DR_VAULT} ({DR})"][1] == "locked (governance), retention 7..2555 days"
    assert locks[f"{AIR_GAPPED} ({DR})"][1] == "locked (compliance), retention 7..2555 days"
    assert details(outcome, "air-gapped vault") == {
        f"{AIR_GAPPED} ({DR})": ("pass", "AVAILABLE, 12 recovery points")
    }


def test_a_replica_that_is_not_active_fails_naming_its_state(side: DrSide, tmp_path: Path) -> None:
    side.replica_status[SYNCS] = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    outcome = verify(tmp_path)

    assert outcome.exit_code == 1
    assert details(outcome, "global table")[SYNCS] == (
        "fail",
        f"replicas: {DR} INACCESSIBLE_ENCRYPTION_CREDENTIALS",
    )


def test_a_replica_missing_in_its_region_fails_and_nothing_more_is_asked_of_it(
    side: DrSide, tmp_path: Path
) -> None:
    side.client("dynamodb").delete_table(TableName=SYNCS)
    outcome = verify(tmp_path)

    assert outcome.exit_code == 1
    assert details(outcome, "replica table")[f"{SYNCS} ({DR})"] == (
        "fail",
        f"no table {SYNCS} in {DR}",
    )
    assert f"{SYNCS} ({DR})" not in outcome.statuses("replica pitr")
    assert f"{SYNCS} ({DR})" not in outcome.statuses("replica lag")


def test_a_replica_without_pitr_fails(side: DrSide, tmp_path: Path) -> None:
    side.client("dynamodb").update_continuous_backups(
        TableName=DOCUMENTS, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    outcome = verify(tmp_path)

    assert outcome.exit_code == 1
    assert details(outcome, "replica pitr")[f"{DOCUMENTS} ({DR})"] == ("fail", "PITR disabled")
    assert outcome.statuses("pitr")[DOCUMENTS] == "pass"  # the source's own PITR is another matter


def test_a_replica_behind_the_rpo_fails(side: DrSide, tmp_path: Path) -> None:
    side.latency(95_000.0, DOCUMENTS, minutes_ago=1)
    outcome = verify(tmp_path)

    assert outcome.exit_code == 1
    status, detail = details(outcome, "replica lag")[f"{DOCUMENTS} ({DR})"]
    assert status == "fail"
    assert detail.startswith("95.0 s behind in the minute from ")
    assert detail.endswith(
        "at most 95.0 s in the last 15 minutes: more than the tier's RPO of 1 min"
    )
    entry = next(e for e in outcome.entries("replica lag") if e["subject"].startswith(DOCUMENTS))
    assert (entry["data"]["latencyMs"], entry["data"]["rpoMinutes"]) == (95_000.0, 1)


def test_a_spike_that_passed_is_reported_not_failed(side: DrSide, tmp_path: Path) -> None:
    """The newest minute decides, as the alarm's average does; the window's worst is shown."""
    side.latency(95_000.0, SYNCS, minutes_ago=10)
    outcome = verify(tmp_path)

    status, detail = details(outcome, "replica lag")[f"{SYNCS} ({DR})"]
    assert status == "pass"
    assert "0.8 s behind" in detail and "at most 95.0 s in the last 15 minutes" in detail


def test_no_latency_data_is_a_warning_that_says_what_it_means(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dr_side(world, monkeypatch, latency_ms=None)
    outcome = verify(tmp_path)

    assert outcome.exit_code == 0, outcome.report  # a quiet table is not a failure
    status, detail = details(outcome, "replica lag")[f"{DOCUMENTS} ({DR})"]
    assert status == "warn"
    assert detail == (
        "no ReplicationLatency data in the last 15 minutes, so the lag cannot be judged: "
        "DynamoDB publishes it only while writes replicate, so either nothing was written to "
        f"{DOCUMENTS} in that time, or replication to {DR} has stopped (the replica's status "
        "says which)"
    )


def test_a_lock_with_other_bounds_or_mode_fails_naming_each_difference(
    side: DrSide, tmp_path: Path
) -> None:
    """A compliance lock still in its grace period, with bounds the stack never set."""
    side.client("backup").put_backup_vault_lock_configuration(
        BackupVaultName=DR_VAULT, MinRetentionDays=1, MaxRetentionDays=3650, ChangeableForDays=3
    )
    outcome = verify(tmp_path)

    assert outcome.exit_code == 1
    status, detail = details(outcome, "vault lock")[f"{DR_VAULT} ({DR})"]
    assert status == "fail"
    assert detail.startswith("locked (compliance), retention 1..3650 days; changeable until ")
    assert detail.endswith(
        "(until then the lock can still be changed or removed): compliance mode, the stack set "
        "governance; MinRetentionDays 1, the stack set 7; MaxRetentionDays 3650, the stack set 2555"
    )
    assert details(outcome, "vault lock")[f"{VAULT} ({PRIMARY})"][0] == "pass"


def test_a_vault_whose_lock_was_removed_fails(side: DrSide, tmp_path: Path) -> None:
    side.client("backup", PRIMARY).delete_backup_vault_lock_configuration(BackupVaultName=VAULT)
    outcome = verify(tmp_path)

    assert outcome.exit_code == 1
    assert details(outcome, "vault lock")[f"{VAULT} ({PRIMARY})"] == (
        "fail",
        "not locked: the stack set a governance lock",
    )


@pytest.mark.parametrize(
    ("answer", "status", "detail"),
    [
        (None, "fail", "the stack built it, but it is not there"),
        (
            air_gapped_vault(VaultType="BACKUP_VAULT"),
            "fail",
            "a vault of this name is a BACKUP_VAULT, not logically air-gapped: it does not keep "
            "copies out of this account's reach",
        ),
        (
            air_gapped_vault(VaultState="CREATING"),
            "warn",
            "CREATING: it takes copies once AVAILABLE",
        ),
        (air_gapped_vault(VaultState="FAILED"), "fail", "VaultState FAILED: copies into it fail"),
    ],
    ids=["missing", "a-standard-vault", "creating", "failed"],
)
def test_the_air_gapped_vault_must_be_there_of_its_type_and_available(
    side: DrSide, tmp_path: Path, answer: dict[str, object] | None, status: str, detail: str
) -> None:
    side.air_gapped = answer
    outcome = verify(tmp_path)

    assert details(outcome, "air-gapped vault") == {f"{AIR_GAPPED} ({DR})": (status, detail)}
    assert outcome.exit_code == (0 if status == "warn" else 1)


def test_the_air_gapped_vaults_bounds_are_the_stacks(side: DrSide, tmp_path: Path) -> None:
    side.air_gapped = air_gapped_vault(MaxRetentionDays=3650)
    outcome = verify(tmp_path)

    assert outcome.exit_code == 1
    assert details(outcome, "vault lock")[f"{AIR_GAPPED} ({DR})"] == (
        "fail",
        "locked (compliance), retention 7..3650 days: MaxRetentionDays 3650, the stack set 2555",
    )


def test_without_stack_outputs_the_tier_names_what_to_check(side: DrSide) -> None:
    """Replicas in --dr-region held to the tier's RPO, both vaults' locks (bounds only shown),
    the air-gapped vault by the name the program gives it."""
    outcome = run_cli(
        "verify", "--app-env", "prod", "--tier", "enterprise", "--dr-region", DR, "--json"
    )

    assert outcome.exit_code == 0, outcome.report
    assert outcome.statuses("replica lag") == dict.fromkeys(REPLICAS, "pass")
    assert outcome.statuses("vault lock") == {
        VAULT: "pass",
        f"{DR_VAULT} ({DR})": "pass",
        f"{AIR_GAPPED} ({DR})": "pass",
    }


def test_without_stack_outputs_a_missing_air_gapped_vault_is_a_warning(side: DrSide) -> None:
    """A stack may switch it off (airGappedVault.enabled: false); only its outputs can say."""
    side.air_gapped = None
    outcome = run_cli(
        "verify", "--app-env", "prod", "--tier", "enterprise", "--dr-region", DR, "--json"
    )

    assert outcome.exit_code == 0, outcome.report
    assert details(outcome, "air-gapped vault") == {
        f"{AIR_GAPPED} ({DR})": (
            "warn",
            "not found (airGappedVault.enabled may be false: --stack-outputs says)",
        )
    }


def test_the_summary_the_json_and_the_exit_code_agree_on_a_failed_replica(
    side: DrSide, tmp_path: Path
) -> None:
    side.replica_status[DOCUMENTS] = "CREATING"
    path = enterprise_outputs(tmp_path)
    as_json = run_cli("verify", "--stack-outputs", str(path), "--json")
    text = CliRunner().invoke(cli, ["verify", "--stack-outputs", str(path)], env={"COLUMNS": "200"})

    assert (as_json.exit_code, text.exit_code) == (1, 1)
    assert (as_json.report["outcome"], as_json.report["ok"], as_json.report["exitCode"]) == (
        "failed",
        False,
        1,
    )
    lines = text.stdout.splitlines()
    assert lines[0] == "formkiq-dr verify for FormKiQ prod: FAILED"
    failed = lines.index(f"  fail  {DOCUMENTS}")
    assert lines[failed + 1] == f"        replicas: {DR} CREATING"


def test_stack_outputs_of_the_enterprise_program_say_what_to_lock_and_replicate(
    tmp_path: Path,
) -> None:
    """The contract between the halves, for Pulumi.dr.yaml rendered offline: the names
    verify and failover-check read (verifyExpectations.vaultLocks, .airGappedVault,
    .globalTableReplicaRegions, and recoveryObjectives.documentMetadata.rpoMinutes)."""
    from formkiq_backup.dr.expectations import LockMode, read_stack_outputs
    from formkiq_backup.offline.program import run_program

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(run_program("dr").outputs, default=str))
    expected = read_stack_outputs(path)

    assert expected.replica_regions == (DR,)
    assert expected.replica_rpo_minutes == 1
    assert [(lock.name, lock.region, lock.mode) for lock in expected.vault_locks] == [
        (VAULT, PRIMARY, LockMode.GOVERNANCE),
        (DR_VAULT, DR, LockMode.GOVERNANCE),
        (AIR_GAPPED, DR, LockMode.COMPLIANCE),
    ]
    assert all(lock.min_retention_days == 7 for lock in expected.vault_locks)
    assert expected.air_gapped_vault is not None
    assert (expected.air_gapped_vault.name, expected.air_gapped_vault.region) == (AIR_GAPPED, DR)
    assert expected.lock_of(DR_VAULT, DR) is expected.vault_locks[1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"vaultLocks": [{"name": VAULT, "mode": "strict", "minRetentionDays": 7}]},
            "verifyExpectations.vaultLocks[0].mode is 'strict', not governance or compliance",
        ),
        (
            {
                "vaultLocks": [
                    {
                        "name": VAULT,
                        "mode": "governance",
                        "minRetentionDays": 0,
                        "maxRetentionDays": 9,
                    }
                ]
            },
            "verifyExpectations.vaultLocks[0].minRetentionDays is 0, not a whole number of days",
        ),
        ({"airGappedVault": "yes"}, "verifyExpectations.airGappedVault is not a JSON object"),
    ],
    ids=["mode", "min-retention", "air-gapped-not-an-object"],
)
def test_locks_the_outputs_cannot_describe_are_refused_before_any_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, object], message: str
) -> None:
    opened = no_aws_session(monkeypatch)
    outcome = verify(tmp_path, **changes)

    assert outcome.exit_code == 2
    assert message in outcome.report["summary"]["error"]
    assert opened == []
