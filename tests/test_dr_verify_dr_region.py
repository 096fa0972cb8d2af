"""`formkiq-dr verify` of the DR region (Enhanced): our replication rule, copies, replicas.

Emulator gaps, each filled in with AWS's own shapes:
- moto 5.2.5 answers GetBucketReplication with delete marker replication Disabled whatever was
  put (FaithfulReplication gives back what was put);
- moto does not replicate, and reports no ReplicationStatus: the test writes each replica itself,
  at the source's version id as S3 replication does (through moto's backend: no client can
  choose a version id), and fills in the status S3 would report on HeadObject;
- moto has no AWS Backup recovery points: list_recovery_points_by_resource is stubbed
  (botocore's Stubber, the real API model).
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from formkiq_backup.exports import exports_bucket_name
from tests.dr_support import (
    BUCKET,
    DOCUMENTS,
    MOTO_ACCOUNT,
    SYNCS,
    FaithfulReplication,
    World,
    hook_clients,
    our_replication,
    replicas_in,
    run_cli,
)
from tests.exports_support import good_exports, record_export_times
from tests.test_dr_verify import ARNS, VAULT, recovery_points, stubbed_backup, vault_description

DR: Final = "us-west-2"
EXPORTS = exports_bucket_name("prod", MOTO_ACCOUNT)
DOCUMENTS_REPLICA = f"formkiq-prod-documents-dr-{MOTO_ACCOUNT}-{DR}"
EXPORTS_REPLICA = f"formkiq-prod-exports-dr-{MOTO_ACCOUNT}-{DR}"
DR_VAULT = "formkiq-prod-dr-backup-vault"


def role(kind: str) -> str:
    return f"arn:aws:iam::{MOTO_ACCOUNT}:role/formkiq-prod-{kind}-replication"


class ReplicationStatuses:
    """HeadObject's ReplicationStatus on the source bucket, as S3 would report it."""

    def __init__(self, default: str | None = "COMPLETED") -> None:
        self.default = default
        self.by_key: dict[str, str | None] = {}

    def attach(self, monkeypatch: pytest.MonkeyPatch) -> None:
        hook_clients(monkeypatch, "before-parameter-build.s3.HeadObject", self._remember)
        hook_clients(monkeypatch, "after-call.s3.HeadObject", self._answer)

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["head"] = (params.get("Bucket"), params.get("Key"))

    def _answer(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        bucket, key = context.get("head", (None, None))
        if bucket != BUCKET or "ContentLength" not in parsed:
            return
        status = self.by_key.get(str(key), self.default)
        if status is not None:
            parsed["ReplicationStatus"] = status


def write_replica(world: World, key: str, body: bytes | None = None) -> None:
    """What S3 replication would write: the source's current version, same version id."""
    from moto.s3.models import s3_backends

    s3 = world.client("s3")
    head = s3.head_object(Bucket=BUCKET, Key=key)
    content = body if body is not None else s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    backend = s3_backends[MOTO_ACCOUNT]["aws"]
    written = backend.put_object(bucket_name=DOCUMENTS_REPLICA, key_name=key, value=content)
    written._version_id = head["VersionId"]


def remove_replica(world: World, key: str) -> None:
    """The replica's version of `key` gone (deleted by version id, as only a person can)."""
    version = world.client("s3").head_object(Bucket=BUCKET, Key=key)["VersionId"]
    world.session.client("s3", region_name=DR).delete_object(
        Bucket=DOCUMENTS_REPLICA, Key=key, VersionId=version
    )


def newest_keys(world: World) -> list[str]:
    listed = world.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    return [o["Key"] for o in sorted(listed, key=lambda o: o["LastModified"], reverse=True)][:10]


@dataclass
class Enhanced:
    statuses: ReplicationStatuses
    replication: FaithfulReplication


@pytest.fixture
def enhanced(world: World, monkeypatch: pytest.MonkeyPatch) -> Enhanced:
    """The seeded FormKiQ as an enhanced stack leaves it: exports, replicas, our rules."""
    record_export_times(world.session, monkeypatch)
    good_exports(world.session, world.sample, world.pool_id)
    faithful = replicas_in(world, monkeypatch, DR, (DOCUMENTS_REPLICA, EXPORTS_REPLICA))
    s3 = world.client("s3")
    faithful.put(s3, BUCKET, our_replication(DOCUMENTS_REPLICA, role("documents")))
    faithful.put(s3, EXPORTS, our_replication(EXPORTS_REPLICA, role("exports")))
    for key in newest_keys(world):
        write_replica(world, key)
    statuses = ReplicationStatuses()
    statuses.attach(monkeypatch)
    return Enhanced(statuses, faithful)


def expect_backups(stubber: Any, dr_ages: dict[str, list[float]]) -> None:
    """Primary recovery points (fresh), the DR vault's copies, then the primary vault's lock."""
    for arn in ARNS.values():
        stubber.add_response(
            "list_recovery_points_by_resource", recovery_points(arn, [2]), {"ResourceArn": arn}
        )
    for name, arn in ARNS.items():
        stubber.add_response(
            "list_recovery_points_by_resource",
            recovery_points(arn, dr_ages[name], vault=DR_VAULT),
            {"ResourceArn": arn},
        )
    stubber.add_response(
        "describe_backup_vault", vault_description(False), {"BackupVaultName": VAULT}
    )


FRESH: dict[str, list[float]] = {DOCUMENTS: [3], SYNCS: [3], BUCKET: [4]}


def test_a_healthy_dr_region_passes_every_dr_check(
    world: World, enhanced: Enhanced, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed_backup(monkeypatch) as stubber:
        expect_backups(stubber, FRESH)
        outcome = world.run("verify", "--tier", "enhanced", "--dr-region", DR)

    assert outcome.exit_code == 0, outcome.report
    assert outcome.statuses("replication") == {BUCKET: "pass", EXPORTS: "pass"}
    detail = outcome.entries("replication")[0]["detail"]
    assert detail == (
        f"rule formkiq-backup-dr complete; replica {DOCUMENTS_REPLICA} ({DR}) versioning Enabled"
    )
    assert outcome.statuses("dr copies") == {
        f"{name} ({DR}, {DR_VAULT})": "pass" for name in (DOCUMENTS, SYNCS, BUCKET)
    }
    replicas = outcome.entries("replica")
    assert [e["status"] for e in replicas[:-1]] == ["pass"] * 10
    assert "same checksum" in replicas[0]["detail"]
    assert replicas[-1]["detail"] == (
        "10 of the 10 newest documents found in the replica, same version"
    )


def test_a_rule_replaced_by_a_formkiq_update_fails_verify(
    world: World, enhanced: Enhanced, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = our_replication("formkiq-own", role("documents"), ID="formkiq-template-rule")
    enhanced.replication.put(world.client("s3"), BUCKET, theirs)
    with stubbed_backup(monkeypatch) as stubber:
        expect_backups(stubber, FRESH)
        outcome = world.run("verify", "--tier", "enhanced", "--dr-region", DR)

    assert outcome.exit_code == 1
    assert outcome.statuses("replication") == {BUCKET: "fail", EXPORTS: "pass"}
    assert "rule formkiq-backup-dr is missing" in outcome.entries("replication")[0]["detail"]
    assert outcome.entries("replica") == []  # no sample of a bucket that does not replicate


def test_replicas_that_differ_are_missing_or_never_replicated_are_named(
    world: World, enhanced: Enhanced, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third, fourth = newest_keys(world)[:4]
    remove_replica(world, first)
    write_replica(world, first, body=b"not what the source holds")
    enhanced.statuses.by_key[second] = None  # predates the rule
    enhanced.statuses.by_key[third] = "FAILED"
    remove_replica(world, fourth)
    with stubbed_backup(monkeypatch) as stubber:
        expect_backups(stubber, FRESH)
        outcome = world.run("verify", "--tier", "enhanced", "--dr-region", DR)

    assert outcome.exit_code == 1
    details = {e["subject"]: (e["status"], e["detail"]) for e in outcome.entries("replica")}
    assert details[first][0] == "fail" and "checksum" in details[first][1]
    assert details[second] == (
        "warn",
        "never replicated: it predates the replication rule (formkiq-dr replicate-existing)",
    )
    assert details[third][0] == "fail" and "replication FAILED" in details[third][1]
    assert details[fourth][0] == "fail" and "the replica has no version" in details[fourth][1]


def test_copies_that_stopped_fail_per_resource(
    world: World, enhanced: Enhanced, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed_backup(monkeypatch) as stubber:
        expect_backups(stubber, {DOCUMENTS: [3.0], SYNCS: [40.0], BUCKET: []})
        outcome = world.run("verify", "--tier", "enhanced", "--dr-region", DR)

    assert outcome.exit_code == 1
    copies = {e["subject"]: (e["status"], e["detail"]) for e in outcome.entries("dr copies")}
    assert copies[f"{DOCUMENTS} ({DR}, {DR_VAULT})"][0] == "pass"
    assert copies[f"{SYNCS} ({DR}, {DR_VAULT})"][0] == "fail"
    assert "40.0 h old (tier allows 26 h)" in copies[f"{SYNCS} ({DR}, {DR_VAULT})"][1]
    assert copies[f"{BUCKET} ({DR}, {DR_VAULT})"] == (
        "fail",
        f"no completed recovery point in {DR_VAULT}",
    )


def test_enhanced_without_a_dr_region_says_what_is_missing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_dr_verify import expect_points

    with stubbed_backup(monkeypatch) as stubber:
        expect_points(stubber, {DOCUMENTS: [2], SYNCS: [2], BUCKET: [2]})
        stubber.add_response(
            "describe_backup_vault", vault_description(False), {"BackupVaultName": VAULT}
        )
        outcome = run_cli("verify", "--app-env", "prod", "--tier", "enhanced", "--json")

    assert outcome.statuses("replication")[BUCKET] == "fail"
    assert "give --dr-region (or --stack-outputs)" in outcome.entries("replication")[0]["detail"]


def test_stack_outputs_of_the_enhanced_program_say_what_to_replicate(tmp_path: Path) -> None:
    """The contract between the halves, for Pulumi.dr.yaml rendered offline."""
    from formkiq_backup.dr.expectations import read_stack_outputs
    from formkiq_backup.offline.program import run_program

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(run_program("dr").outputs, default=str))
    expected = read_stack_outputs(path)

    assert [
        (p.replicated.value, p.source_bucket, p.replica_region) for p in expected.replication
    ] == [
        ("documents", "formkiq-core-prod-documents-111122223333", DR),
        ("exports", "formkiq-prod-exports-111122223333", DR),
    ]
    assert expected.replication[0].expected.role_arn == (
        "arn:aws:iam::111122223333:role/formkiq-prod-documents-replication"
    )
    assert [(v.name, v.region) for v in expected.vaults] == [
        ("formkiq-prod-backup-vault", "us-east-1"),
        (DR_VAULT, DR),
    ]
    assert expected.batch_replication is not None
    assert expected.batch_replication.report_prefix == "batch-replication/"
