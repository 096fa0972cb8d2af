"""A command that stops part-way leaves nothing unreported.

Whatever ends a command (an AWS error, the endpoint going away, Ctrl-C, SIGTERM), everything it
created or changed is in its report, in the summary and the JSON alike, with what became of it:
made and kept, asked for without an answer (it may have been made), not reached, or, for what
it made for itself, deleted again or left behind with the command that deletes it.

Interrupts are real signals sent to this process from a botocore hook, at the moment named: in
`after-call`, AWS has answered (moto has made the change) and the command has not yet seen the
answer, the hardest case to report truthfully.
"""

import os
import signal
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from formkiq_backup.dr.report import Report, ResourceState
from formkiq_backup.offline.incident import break_site
from formkiq_backup.offline.samples import sample_formkiq
from formkiq_backup.offline.seed import seed_formkiq, seed_users
from tests.dr_support import (
    BUCKET,
    DOCUMENTS,
    ITEM_WRITES,
    MOTO_ACCOUNT,
    SYNCS,
    World,
    hook_clients,
)
from tests.endpoint_support import server_world

SIGNALS = [signal.SIGINT, signal.SIGTERM]


def interrupt_on(
    monkeypatch: pytest.MonkeyPatch,
    event: str,
    signum: int,
    after: int = 1,
    operations: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """Send `signum` to this process the `after`-th time `event` fires on a formkiq-dr client
    (for one of `operations` only, when `event` names a service); returns the parameters of
    every such call seen by `before-parameter-build`."""
    operation = event.split(".", 1)[1]
    sent: list[dict[str, Any]] = []
    fired: list[int] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if operations is None or model.name in operations:
            sent.append(dict(params))

    def fire(model: Any, **_: Any) -> None:
        if operations is not None and model.name not in operations:
            return
        fired.append(1)
        if len(fired) == after:
            os.kill(os.getpid(), signum)

    hook_clients(monkeypatch, f"before-parameter-build.{operation}", record)
    hook_clients(monkeypatch, event, fire)
    return sent


def states(outcome: Any, kind: str) -> dict[str, str]:
    return {r["name"]: r["state"] for r in outcome.report["resources"] if r["kind"] == kind}


def interrupted_as(signum: int) -> str:
    return "interrupted" if signum == signal.SIGINT else "interrupted by SIGTERM"


# --- the endpoint goes away ------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_the_endpoint_going_away_during_repair_apply_lists_the_temporary_table_left_behind(
    moto_server_endpoint: str, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    """The endpoint is cut as the first write is sent: the write, and the deletion of the
    temporary table on the way out, both fail to connect. The table is still in moto_server,
    and the report names it, with the command that deletes it."""
    with server_world(moto_server_endpoint, monkeypatch, {"default": 1, "finance": 4}) as world:
        backup = world.run("snapshot").report["summary"]["backups"][world.table("documents")]
        tables_before = world.tables()
        break_site(
            world.session, world.table("documents"), world.bucket, world.documents, "finance"
        )
        hook_clients(
            monkeypatch,
            "before-call.dynamodb",
            lambda model, **_: world.endpoint.cut() if model.name in ITEM_WRITES else None,
        )

        outcome = world.run(
            *("repair", "--table", "documents", "--site", "finance", "--from-backup", backup),
            "--apply",
            as_json=as_json,
        )
        (left,) = world.tables() - tables_before

    assert "-repair-" in left
    assert outcome.exit_code == 2  # the endpoint cannot be reached: the caller's setup
    delete = f"aws dynamodb delete-table --table-name {left} --region us-east-1"
    if not as_json:
        assert f"fail  {left}" in outcome.stdout
        assert "left behind: Could not connect to the endpoint URL" in outcome.stdout
        assert delete in " ".join(outcome.stdout.split())
        return
    resources = {r["name"]: r for r in outcome.report["resources"]}
    assert resources[left]["state"] == "left-behind"
    assert resources[left]["temporary"] is True
    assert resources[left]["detail"].endswith(f"delete it yourself: {delete}")
    writes = resources[world.table("documents")]
    assert writes["kind"] == "item writes"
    assert writes["state"] == "requested"  # the first write was sent and never answered
    assert "0 written before it stopped; the write of" in writes["detail"]
    assert outcome.report["summary"]["applied"]["inFlight"] is not None


# --- Ctrl-C and SIGTERM ----------------------------------------------------------------------


@pytest.fixture
def deleted_in_finance(world: World) -> tuple[datetime, list[str]]:
    """Five of site finance's documents deleted after `at`, the time of their newest version
    (S3 keeps whole seconds: the deletions come a second later)."""
    s3 = world.client("s3")
    keys = sorted(document.object_key for document in world.finance()[:5])
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="finance/")["Versions"]
    at: datetime = max(version["LastModified"] for version in versions)
    time.sleep(1.1)
    for key in keys:
        s3.delete_object(Bucket=BUCKET, Key=key)
    return at, keys


def is_deleted(world: World, key: str) -> bool:
    s3 = world.client("s3")
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
    except s3.exceptions.ClientError:
        return True
    return False


@pytest.mark.parametrize("signum", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_restore_documents_reports_exactly_what_it_changed(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    deleted_in_finance: tuple[datetime, list[str]],
    signum: int,
) -> None:
    """Interrupted as S3 answers the second undelete: the first is done, the second was made
    by S3 but never seen by the command (reported as maybe made), the other three were not
    reached and are still deleted. Nothing claims a deletion that did not happen."""
    at, keys = deleted_in_finance
    sent = interrupt_on(monkeypatch, "after-call.s3.DeleteObject", signum, after=2)

    outcome = world.run("restore-documents", "--site", "finance", "--at", at.isoformat(), "--apply")

    first, second = (call["Key"] for call in sent)
    objects = states(outcome, "object")
    assert objects == {
        first: "done",
        second: "requested",
        **{key: "not-reached" for key in keys if key not in (first, second)},
    }
    assert [is_deleted(world, key) for key in keys] == [
        objects[key] == "not-reached" for key in keys
    ]
    assert outcome.report["summary"]["applied"] == {
        "done": 1,
        "requested": 1,
        "refused": 0,
        "not-reached": 3,
    }
    assert outcome.exit_code == 1
    assert outcome.report["summary"]["error"] == interrupted_as(signum)
    (interrupted,) = outcome.entries("interrupted")
    assert interrupted["detail"] == (
        f"{interrupted_as(signum)}: 1 made and kept, 1 asked for without an answer (it may have "
        "been made), 3 not reached (left as they were): each is listed with what became of it"
    )
    assert "deleted" not in interrupted["detail"]


def test_the_text_summary_lists_the_same_objects_as_the_json(
    world: World, monkeypatch: pytest.MonkeyPatch, deleted_in_finance: tuple[datetime, list[str]]
) -> None:
    at, keys = deleted_in_finance
    interrupt_on(monkeypatch, "after-call.s3.DeleteObject", signal.SIGINT, after=2)

    outcome = world.run(
        "restore-documents", "--site", "finance", "--at", at.isoformat(), "--apply", as_json=False
    )

    lines = outcome.stdout.splitlines()
    assert lines[0] == "formkiq-dr restore-documents for FormKiQ prod: FAILED"
    for key in keys:
        (line,) = [number for number, text in enumerate(lines) if text.endswith(key)]
        assert lines[line + 1].strip().startswith(("done: ", "remove 1 delete", "not reached: "))
    assert sum("not reached: left as it was" in line for line in lines) == 3
    assert sum("sent, no answer yet: it may have changed" in line for line in lines) == 1


@pytest.mark.parametrize("signum", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_a_restore_asked_for_and_never_seen_is_deleted_on_the_way_out(
    world: World, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    """DynamoDB accepted the restore (the table exists in moto) and the command was stopped
    before it read the answer: the table was recorded before the request went out, so it is
    deleted, and listed as deleted."""
    tables_before = world.tables()
    sent = interrupt_on(monkeypatch, "after-call.dynamodb.RestoreTableToPointInTime", signum)

    outcome = world.run("drill")

    (restore,) = sent
    assert world.tables() == tables_before
    assert states(outcome, "table") == {restore["TargetTableName"]: "removed"}
    assert outcome.exit_code == 1
    (interrupted,) = outcome.entries("interrupted")
    assert interrupted["detail"] == (
        f"{interrupted_as(signum)}: 1 temporary deleted again: each is listed with what became "
        "of it"
    )


def test_a_snapshot_stopped_while_waiting_lists_the_backups_it_made(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backups are the point of a snapshot: stopped while waiting on the first, it lists that
    backup, with its ARN, as made and kept; the second table's was never asked for."""
    interrupt_on(monkeypatch, "after-call.dynamodb.DescribeBackup", signal.SIGTERM)

    outcome = world.run("snapshot", "--label", "pre-upgrade")

    (backup,) = outcome.report["resources"]
    assert backup["kind"] == "backup"
    assert backup["state"] == "done"
    assert backup["name"].startswith(f"formkiq-dr-pre-upgrade-{DOCUMENTS}-")
    listed = world.client("dynamodb").list_backups(TableName=DOCUMENTS)["BackupSummaries"]
    assert [summary["BackupArn"] for summary in listed] == [backup["arn"]]
    assert world.client("dynamodb").list_backups(TableName=SYNCS)["BackupSummaries"] == []
    assert outcome.exit_code == 1


def test_a_repair_stopped_mid_apply_deletes_its_table_and_names_the_write_in_flight(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = world.run("snapshot").report["summary"]["backups"][DOCUMENTS]
    break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    tables_before = world.tables()
    sent = interrupt_on(
        monkeypatch, "after-call.dynamodb", signal.SIGINT, after=3, operations=ITEM_WRITES
    )

    outcome = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-backup", backup, "--apply"
    )

    assert world.tables() == tables_before
    assert list(states(outcome, "table").values()) == ["removed"]
    applied = outcome.report["summary"]["applied"]
    assert applied["written"] == 2
    assert applied["stoppedPartWay"] is True
    in_flight = sent[2].get("Key") or sent[2]["Item"]
    assert applied["inFlight"] == [f"{in_flight['PK']['S']} / {in_flight['SK']['S']}"]
    assert states(outcome, "item writes") == {DOCUMENTS: "requested"}


def test_an_import_stopped_part_way_lists_the_users_it_created(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    exported = tmp_path / "users.jsonl"
    world.run("users", "export", "--out", str(exported))
    target = sample_formkiq(app_environment="dr", account_id=MOTO_ACCOUNT)
    seed_formkiq(world.session, target)
    pool = seed_users(world.session, target, users={})
    sent = interrupt_on(
        monkeypatch, "after-call.cognito-identity-provider.AdminCreateUser", signal.SIGINT, 2
    )

    outcome = world.run("users", "import", str(exported), app_env="dr")

    users = states(outcome, "user")
    assert users == {sent[0]["Username"]: "done", sent[1]["Username"]: "requested"}
    created = world.client("cognito-idp").list_users(UserPoolId=pool)["Users"]
    assert len(created) == 2  # both made: the second's answer never reached the command
    assert outcome.report["summary"]["created"] == 1
    (pool_entry,) = [e for e in outcome.entries("import") if e["subject"] == pool]
    assert pool_entry["detail"].startswith("stopped part-way: 2 lines read: 1 created")


def test_an_interrupt_before_anything_was_made_says_so(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupt_on(monkeypatch, "after-call.s3.GetBucketVersioning", signal.SIGTERM)

    outcome = world.run("verify")

    assert (outcome.exit_code, outcome.report["outcome"]) == (1, "failed")
    assert outcome.report["resources"] == []
    assert outcome.entries("interrupted")[0]["detail"] == (
        "interrupted by SIGTERM: nothing was created or changed before it stopped"
    )


# --- the ledger itself -----------------------------------------------------------------------


def temporary(report: Report, name: str, remove: Callable[[], bool]) -> None:
    report.ledger.ask("temporary", "table", name, "asked for", remove=remove, by_hand=f"rm {name}")


def test_a_second_interrupt_stops_the_deletions_and_lists_what_is_left() -> None:
    report = Report("drill", "prod")
    deleted: list[str] = []

    def deletes(name: str) -> Callable[[], bool]:
        def delete() -> bool:
            deleted.append(name)
            return True

        return delete

    def interrupted() -> bool:
        raise KeyboardInterrupt

    for name, remove in (("a", deletes("a")), ("b", deletes("b")), ("c", interrupted)):
        temporary(report, name, remove)
    temporary(report, "d", deletes("d"))

    with pytest.raises(KeyboardInterrupt):
        report.ledger.clean_up()

    assert deleted == ["d"]  # newest first; c's deletion was interrupted, b and a not tried
    assert {r["name"]: (r["state"], r["detail"]) for r in report.resources} == {
        "d": ("removed", "deleted on the way out"),
        "c": ("left-behind", "left behind: its deletion was interrupted; delete it yourself: rm c"),
        "b": (
            "left-behind",
            "left behind: the deletions were interrupted; delete it yourself: rm b",
        ),
        "a": (
            "left-behind",
            "left behind: the deletions were interrupted; delete it yourself: rm a",
        ),
    }
    assert report.exit_code == 1


def test_a_temporary_resource_never_made_is_not_reported_as_deleted() -> None:
    report = Report("repair", "prod")
    temporary(report, "never", lambda: False)
    report.ledger.clean_up()
    report.ledger.clean_up()  # once only: cli.execute calls it again after a command's own

    (resource,) = report.resources
    assert (resource["state"], resource["detail"]) == (
        "removed",
        "not there: never made, nothing to delete",
    )


def test_a_refusal_from_aws_is_a_refusal_not_an_unknown() -> None:
    from botocore.exceptions import ClientError

    report = Report("snapshot", "prod")
    record = report.ledger.ask("snapshot", "backup", "b", "asked for")
    refusal = ClientError({"Error": {"Code": "LimitExceededException", "Message": "no"}}, "Op")
    with pytest.raises(ClientError), record.sending():
        raise refusal

    assert record.state is ResourceState.REFUSED
    assert record.entry.detail == "refused: Op: LimitExceededException: no"
    assert report.exit_code == 1
