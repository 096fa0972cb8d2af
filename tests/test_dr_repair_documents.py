"""`formkiq-dr repair` and `restore-documents` after a site incident, against moto.

moto 5.2.5 restores PITR with current data, so repairs are tested from on-demand
backups; the PITR path is checked for its wiring only.
"""

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from formkiq_backup.dr import repair as dr_repair
from formkiq_backup.dr import writes as dr_writes
from formkiq_backup.items import TableDigest
from formkiq_backup.offline.incident import Incident, break_site
from formkiq_backup.offline.samples import sample_formkiq
from formkiq_backup.offline.seed import seed_formkiq
from formkiq_backup.sites import belongs_to_site
from tests.dr_support import (
    BUCKET,
    DOCUMENTS,
    MOTO_ACCOUNT,
    SYNCS,
    World,
    pitr_window,
    watch_source_writes,
)


def site_digest(world: World, site: str) -> TableDigest:
    items = world.client("dynamodb").get_paginator("scan").paginate(TableName=DOCUMENTS)
    return TableDigest().add_all(
        item for page in items for item in page["Items"] if belongs_to_site(item, site)
    )


@pytest.fixture
def incident(world: World) -> tuple[str, Incident, TableDigest, TableDigest]:
    """A backup, then the finance incident. Returns (backup ARN, incident, digests before)."""
    outcome = world.run("snapshot")
    backup = outcome.report["summary"]["backups"][DOCUMENTS]
    finance_before, default_before = site_digest(world, "finance"), site_digest(world, "default")
    damage = break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    return backup, damage, finance_before, default_before


def test_dry_run_plans_the_repair_of_one_site_without_writing(
    world: World, incident: tuple[str, Incident, TableDigest, TableDigest]
) -> None:
    backup, damage, _, _ = incident
    finance_now = site_digest(world, "finance")

    outcome = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-backup", backup
    )

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["mode"] == "dry-run"
    assert outcome.report["summary"]["plan"] == {
        "put": len(damage.deleted_items),
        "overwrite": len(damage.overwritten_items),
        "delete": 0,
        "keep": len(damage.created_items),
    }
    planned = {(change["action"], change["key"]) for change in outcome.report["summary"]["changes"]}
    assert ("put", "apikeys# / " + damage.deleted_items[-1][1]) in planned  # the global API key
    assert ("overwrite", " / ".join(damage.overwritten_items[0])) in planned
    # The user's new document is listed, as kept.
    new_document = " / ".join(damage.created_items[0])
    assert ("keep", new_document) in planned
    assert {e["subject"]: e["detail"] for e in outcome.entries("kept")} == {
        new_document: "kept: created after the recovery point (--delete-new deletes it)"
    }
    assert outcome.report["summary"]["newItems"] == "kept"
    assert len(planned) == sum(outcome.report["summary"]["plan"].values())
    assert "changesNotListed" not in outcome.report["summary"]
    assert site_digest(world, "finance").hexdigest == finance_now.hexdigest


def test_a_large_plan_is_counted_in_the_report_not_listed_whole(
    world: World,
    incident: tuple[str, Incident, TableDigest, TableDigest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup, _, _, _ = incident
    monkeypatch.setattr(dr_repair, "PLAN_LISTED", 2)
    outcome = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-backup", backup
    )

    planned = sum(outcome.report["summary"]["plan"].values())
    assert len(outcome.report["summary"]["changes"]) == 2
    assert outcome.report["summary"]["changesNotListed"] == planned - 2 > 0


def test_apply_restores_exactly_the_site_and_nothing_else(
    world: World,
    incident: tuple[str, Incident, TableDigest, TableDigest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup, damage, finance_before, default_before = incident
    # Meanwhile, in another site, legitimate work that must survive the repair.
    default_document = world.default_site()[0]
    world.client("dynamodb").update_item(
        TableName=DOCUMENTS,
        Key={"PK": {"S": f"docs#{default_document.document_id}"}, "SK": {"S": "document"}},
        UpdateExpression="SET #p = :p",
        ExpressionAttributeNames={"#p": "path"},
        ExpressionAttributeValues={":p": {"S": "renamed-by-a-user.txt"}},
    )
    default_after_user_edit = site_digest(world, "default")
    tables_before = world.tables()
    writes = watch_source_writes(monkeypatch)

    outcome = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-backup", backup, "--apply"
    )

    assert outcome.exit_code == 0, outcome.report
    total = len(damage.deleted_items) + len(damage.overwritten_items)
    assert outcome.report["summary"]["applied"] == {
        "written": total,
        "conflicts": 0,
        "kept": len(damage.created_items),
        "unguarded": 0,
    }
    # The site is back as it was, but for the user's new document, which is still there.
    assert world.item(DOCUMENTS, *damage.created_items[0]) is not None
    world.client("dynamodb").delete_item(
        TableName=DOCUMENTS,
        Key={"PK": {"S": damage.created_items[0][0]}, "SK": {"S": damage.created_items[0][1]}},
    )
    assert site_digest(world, "finance").hexdigest == finance_before.hexdigest
    assert site_digest(world, "default").hexdigest == default_after_user_edit.hexdigest
    assert default_after_user_edit.hexdigest != default_before.hexdigest
    assert world.tables() == tables_before
    # The witness saw the repair's writes: all to the repaired table, none anywhere else, and
    # not one delete: items deleted since are put back, items changed since updated.
    assert len(writes) == total
    assert sorted(writes) == sorted(
        ["dynamodb:PutItem"] * len(damage.deleted_items)
        + ["dynamodb:UpdateItem"] * len(damage.overwritten_items)
    )


def test_delete_new_also_deletes_items_created_after_the_backup(
    world: World,
    incident: tuple[str, Incident, TableDigest, TableDigest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup, damage, finance_before, _ = incident
    writes = watch_source_writes(monkeypatch)
    repair = ("repair", "--table", "documents", "--site", "finance", "--from-backup", backup)

    plan = world.run(*repair, "--delete-new")
    applied = world.run(*repair, "--delete-new", "--apply")

    assert plan.report["summary"]["plan"]["delete"] == len(damage.created_items)
    assert plan.report["summary"]["plan"]["keep"] == 0
    assert ("delete", " / ".join(damage.created_items[0])) in {
        (change["action"], change["key"]) for change in plan.report["summary"]["changes"]
    }
    assert applied.exit_code == 0, applied.report
    assert applied.report["summary"]["applied"]["kept"] == 0
    assert world.item(DOCUMENTS, *damage.created_items[0]) is None
    assert site_digest(world, "finance").hexdigest == finance_before.hexdigest
    assert writes.count("dynamodb:DeleteItem") == len(damage.created_items)


def test_keep_new_still_works_but_says_it_is_the_default(
    world: World, incident: tuple[str, Incident, TableDigest, TableDigest]
) -> None:
    backup, damage, _, _ = incident
    repair = ("repair", "--table", "documents", "--site", "finance", "--from-backup", backup)
    outcome = world.run(*repair, "--apply", "--keep-new")

    assert outcome.exit_code == 0
    assert "--keep-new is the default now" in outcome.stderr
    assert outcome.report["summary"]["applied"]["kept"] == 1
    assert world.item(DOCUMENTS, *damage.created_items[0]) is not None
    assert world.item(DOCUMENTS, *damage.deleted_items[0]) is not None


def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def user_edits_during_the_write(
    world: World, monkeypatch: pytest.MonkeyPatch, key: tuple[str, str], update: str
) -> None:
    """A user's `update` of the item `key`, made between the plan and the repair's write of it."""
    pk, sk = key
    original_write = dr_writes.write_change

    def user_edits_first(dynamodb: Any, table: str, change: Any) -> Any:
        if change.key == {"PK": {"S": pk}, "SK": {"S": sk}}:
            world.client("dynamodb").update_item(
                TableName=DOCUMENTS,
                Key=change.key,
                UpdateExpression=update,
                ExpressionAttributeValues={":v": {"S": "fixed-by-hand"}},
            )
        return original_write(dynamodb, table, change)

    monkeypatch.setattr(dr_writes, "write_change", user_edits_first)


def test_a_concurrent_change_is_never_clobbered(
    world: World,
    incident: tuple[str, Incident, TableDigest, TableDigest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user edits an item between the plan and its write: the write is refused and reported."""
    backup, damage, _, _ = incident
    pk, sk = damage.overwritten_items[0]
    user_edits_during_the_write(world, monkeypatch, (pk, sk), "SET tagValue = :v")

    outcome = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-backup", backup, "--apply"
    )

    assert outcome.exit_code == 1
    assert outcome.statuses("conflict") == {f"{pk} / {sk}": "fail"}
    assert outcome.report["summary"]["applied"]["conflicts"] == 1
    item = world.item(DOCUMENTS, pk, sk)
    assert item is not None and item["tagValue"] == {"S": "fixed-by-hand"}


def test_an_attribute_a_user_adds_after_the_plan_is_kept_and_reported_as_a_conflict(
    world: World,
    incident: tuple[str, Incident, TableDigest, TableDigest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No condition can see an attribute the plan never saw; a put would drop it silently.
    The write is an update of the plan's attributes: the user's attribute stays, and is named."""
    backup, damage, finance_before, _ = incident
    pk, sk = damage.overwritten_items[0]
    user_edits_during_the_write(world, monkeypatch, (pk, sk), "SET note = :v")

    outcome = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-backup", backup, "--apply"
    )

    assert outcome.exit_code == 1
    (conflict,) = outcome.entries("conflict")
    assert (conflict["subject"], conflict["status"]) == (f"{pk} / {sk}", "fail")
    assert conflict["detail"] == (
        "changed since the plan was made: note added; the plan's attributes were written and "
        "note kept: check the item"
    )
    item = world.item(DOCUMENTS, pk, sk)
    assert item is not None and item["note"] == {"S": "fixed-by-hand"}
    # Without the user's attribute and the user's new document, the site is as it was.
    dynamodb = world.client("dynamodb")
    dynamodb.update_item(TableName=DOCUMENTS, Key=key(pk, sk), UpdateExpression="REMOVE note")
    dynamodb.delete_item(TableName=DOCUMENTS, Key=key(*damage.created_items[0]))
    assert site_digest(world, "finance").hexdigest == finance_before.hexdigest


def test_an_item_created_since_that_a_user_changes_after_the_plan_is_put_back_not_deleted(
    world: World,
    incident: tuple[str, Incident, TableDigest, TableDigest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup, damage, _, _ = incident
    pk, sk = damage.created_items[0]
    before = world.item(DOCUMENTS, pk, sk)
    user_edits_during_the_write(world, monkeypatch, (pk, sk), "SET note = :v")

    outcome = world.run(
        *("repair", "--table", "documents", "--site", "finance", "--from-backup", backup),
        *("--apply", "--delete-new"),
    )

    assert outcome.exit_code == 1
    assert {e["subject"]: e["detail"] for e in outcome.entries("conflict")} == {
        f"{pk} / {sk}": "changed since the plan was made (note added): put back, not deleted"
    }
    assert before is not None
    assert world.item(DOCUMENTS, pk, sk) == before | {"note": {"S": "fixed-by-hand"}}


def test_an_item_too_large_to_guard_is_reported_not_written_blind(world: World) -> None:
    """A condition on every attribute must fit DynamoDB's 4 KB expression limit; when even the
    scalar attributes do not fit, an unconditional write could clobber a concurrent change."""
    pk, sk = "finance/docs#wide", "document"
    wide = {"PK": {"S": pk}, "SK": {"S": sk}} | {f"field{n}": {"S": "v"} for n in range(400)}
    dynamodb = world.client("dynamodb")
    dynamodb.put_item(TableName=DOCUMENTS, Item=wide)
    backup = world.run("snapshot").report["summary"]["backups"][DOCUMENTS]
    changed = wide | {"field0": {"S": "changed"}}
    dynamodb.put_item(TableName=DOCUMENTS, Item=changed)

    outcome = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-backup", backup, "--apply"
    )

    assert outcome.exit_code == 1
    assert outcome.report["summary"]["plan"] == {"put": 0, "overwrite": 1, "delete": 0, "keep": 0}
    assert outcome.report["summary"]["applied"]["unguarded"] == 1
    (entry,) = outcome.entries("unguarded")
    assert entry["subject"] == f"{pk} / {sk}"
    assert entry["detail"].startswith("not written: 402 attributes do not fit one 4000-character")
    assert world.item(DOCUMENTS, pk, sk) == changed


def test_whole_table_repair_also_reverts_other_sites(
    world: World, incident: tuple[str, Incident, TableDigest, TableDigest]
) -> None:
    backup, _, finance_before, default_before = incident
    default_document = world.default_site()[0]
    world.client("dynamodb").delete_item(
        TableName=DOCUMENTS,
        Key={"PK": {"S": f"docs#{default_document.document_id}"}, "SK": {"S": "tags#year"}},
    )
    outcome = world.run(
        "repair",
        "--table",
        "documents",
        "--whole-table",
        "--from-backup",
        backup,
        "--apply",
        "--delete-new",
    )

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["scope"] == "whole table"
    assert site_digest(world, "finance").hexdigest == finance_before.hexdigest
    assert site_digest(world, "default").hexdigest == default_before.hexdigest


def test_documentsyncs_repairs_from_its_own_backup(world: World) -> None:
    backup = world.run("snapshot").report["summary"]["backups"][SYNCS]
    document = world.finance()[0]
    syncs = world.client("dynamodb").query(
        TableName=SYNCS,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"finance/docs#{document.document_id}"}},
    )["Items"]
    world.client("dynamodb").delete_item(
        TableName=SYNCS, Key={"PK": syncs[0]["PK"], "SK": syncs[0]["SK"]}
    )

    outcome = world.run(
        "repair",
        "--table",
        "documentsyncs",
        "--site",
        "finance",
        "--from-backup",
        backup,
        "--apply",
    )

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["plan"] == {"put": 1, "overwrite": 0, "delete": 0, "keep": 0}
    assert world.item(SYNCS, syncs[0]["PK"]["S"], syncs[0]["SK"]["S"]) == syncs[0]


def test_documentsyncs_of_a_formkiq_without_one_is_a_usage_error(world: World) -> None:
    """FormKiQ before v1.10 has no DocumentSyncs table: say so instead of guessing a name."""
    seed_formkiq(world.session, sample_formkiq("1.9.0", "legacy", account_id=MOTO_ACCOUNT))

    now = datetime.now(UTC).isoformat()
    outcome = world.run(
        "repair", "--table", "documentsyncs", "--whole-table", "--at", now, app_env="legacy"
    )

    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == (
        "--table documentsyncs: this FormKiQ (before v1.10) has none"
    )


@pytest.mark.parametrize("table", ["documents", DOCUMENTS])
def test_pitr_repair_restores_the_point_in_time(
    world: World, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    pitr_window(monkeypatch, now - timedelta(days=35), now - timedelta(minutes=5))
    at = (now - timedelta(hours=1)).astimezone(timezone(timedelta(hours=1)))
    outcome = world.run("repair", "--table", table, "--site", "finance", "--at", at.isoformat())
    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["table"] == DOCUMENTS
    # Given with an offset, stated back in UTC.
    stated = (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert outcome.report["summary"]["source"] == f"PITR at {stated}"
    assert outcome.report["summary"]["plan"] == {"put": 0, "overwrite": 0, "delete": 0, "keep": 0}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--table", "documents"], "give --at TIME (PITR) or --from-backup ARN"),
        (
            ["--table", "documents", "--site", "fin/ance", "--at", "2026-11-30T00:00:00Z"],
            "--site 'fin/ance'",
        ),
    ],
)
def test_repair_usage_errors_exit_2(world: World, arguments: list[str], message: str) -> None:
    outcome = world.run("repair", *arguments)
    assert outcome.exit_code == 2
    assert message in outcome.report["summary"]["error"]


def test_a_time_that_is_not_iso_8601_is_a_usage_error(world: World) -> None:
    """click rejects it before any AWS call; the message on stderr and in the JSON report."""
    outcome = world.run("repair", "--table", "documents", "--at", "yesterday")
    message = "'yesterday' is not an ISO 8601 time such as 2026-11-30T12:00:00Z"
    assert outcome.exit_code == 2
    assert outcome.report["ok"] is False
    assert outcome.report["exitCode"] == 2
    assert message in outcome.report["summary"]["error"]
    assert "'--at'" in outcome.report["summary"]["error"]
    assert message in outcome.stderr


def test_backup_of_another_table_is_refused(world: World) -> None:
    backup = world.run("snapshot").report["summary"]["backups"][SYNCS]
    outcome = world.run("repair", "--table", "documents", "--whole-table", "--from-backup", backup)
    assert outcome.exit_code == 2
    assert "is not a backup of formkiq-core-prod-documents" in outcome.report["summary"]["error"]


@pytest.fixture
def documents_incident(world: World) -> tuple[datetime, Incident]:
    """The incident, a second after a recorded time (S3 keeps one-second timestamps)."""
    time.sleep(1.1)
    before = datetime.now(UTC)
    time.sleep(1.1)
    return before, break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")


def current_body(world: World, key: str) -> bytes:
    body: bytes = world.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body


def version_body(world: World, key: str, version: str) -> bytes:
    body: bytes = (
        world.client("s3").get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
    )
    return body


def test_restore_documents_plans_undeletes_and_copies_without_writing(
    world: World, documents_incident: tuple[datetime, Incident]
) -> None:
    before, damage = documents_incident
    outcome = world.run("restore-documents", "--site", "finance", "--at", before.isoformat())

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["plan"] == {
        "unchanged": len(world.finance()) - 3,
        "undelete": 2,
        "copy-version": 1,
        "created-after": 0,
    }
    assert outcome.report["summary"]["mode"] == "dry-run"
    with pytest.raises(world.client("s3").exceptions.NoSuchKey):
        current_body(world, damage.deleted_objects[0])


def test_restore_documents_brings_the_site_back(
    world: World, documents_incident: tuple[datetime, Incident]
) -> None:
    before, damage = documents_incident
    by_key = {document.object_key: document for document in world.documents}
    unrelated = world.default_site()[0]
    unrelated_version = world.client("s3").head_object(Bucket=BUCKET, Key=unrelated.object_key)[
        "VersionId"
    ]

    outcome = world.run(
        "restore-documents", "--site", "finance", "--at", before.isoformat(), "--apply"
    )

    assert outcome.exit_code == 0, outcome.report
    s3 = world.client("s3")
    for key in damage.deleted_objects:
        # Undeleted: the delete marker is gone and the old version is current again.
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["VersionId"] == by_key[key].versions[-1]
    overwritten = damage.overwritten_objects[0]
    original = by_key[overwritten].versions[-1]
    assert current_body(world, overwritten) == version_body(world, overwritten, original)
    assert s3.head_object(Bucket=BUCKET, Key=overwritten)["VersionId"] != original  # a copy on top
    assert s3.head_object(Bucket=BUCKET, Key=unrelated.object_key)["VersionId"] == unrelated_version


def test_objects_created_after_the_time_are_left_alone(
    world: World, documents_incident: tuple[datetime, Incident]
) -> None:
    before, _ = documents_incident
    world.client("s3").put_object(
        Bucket=BUCKET, Key="finance/00000000-0000-4000-8000-00000000abcd", Body=b"new"
    )

    outcome = world.run(
        "restore-documents", "--site", "finance", "--at", before.isoformat(), "--apply"
    )

    assert outcome.report["summary"]["plan"]["created-after"] == 1
    assert current_body(world, "finance/00000000-0000-4000-8000-00000000abcd") == b"new"


def test_backfill_replica_is_gone_and_points_to_replicate_existing(world: World) -> None:
    """One way to backfill a replica: S3 Batch Replication, not a copy per object."""
    at = datetime.now(UTC).isoformat()
    outcome = world.run("restore-documents", "--site", "finance", "--at", at, "--backfill-replica")

    assert outcome.exit_code == 2
    assert "formkiq-dr replicate-existing" in outcome.report["summary"]["error"]


def test_site_and_prefix_together_are_a_usage_error(world: World) -> None:
    outcome = world.run(
        "restore-documents", "--site", "finance", "--prefix", "x", "--at", "2026-11-30T00:00:00Z"
    )
    assert outcome.exit_code == 2
