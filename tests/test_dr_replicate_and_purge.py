"""`formkiq-dr replicate-existing` and `purge-replica` against a seeded FormKiQ in moto.

S3 Control's job API and AWS Backup's recovery points are botocore's Stubber with the real API
models (moto has neither); see tests/replication_support.py.
"""

from typing import Any

import pytest

from tests.dr_support import BUCKET, MOTO_ACCOUNT, FaithfulReplication, World, watch_source_writes
from tests.replication_support import (
    DOCUMENTS_REPLICA,
    EXPORTS,
    create_job_request,
    job,
    no_recovery_points,
    purge_in_formkiq,
    recovery_point,
    replica_versions,
    replicate,
    replicate_everything,
    stubbed,
)

FOLLOW = {"AccountId": MOTO_ACCOUNT, "JobId": "job-1"}


@pytest.fixture
def replicated(world: World, monkeypatch: pytest.MonkeyPatch) -> FaithfulReplication:
    return replicate(world, monkeypatch)


def resources(outcome: Any, kind: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in outcome.report["resources"] if r["kind"] == kind}


# --- replicate-existing ---------------------------------------------------------------------


def test_one_batch_replication_job_per_bucket_with_an_s3_generated_manifest(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed(monkeypatch, "s3control") as control:
        for index, source in enumerate((BUCKET, EXPORTS)):
            control.add_response(
                "create_job", {"JobId": f"job-{index}"}, create_job_request(source)
            )
        outcome = world.run("replicate-existing")

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "done"), outcome.report
    assert outcome.report["summary"]["jobs"] == {BUCKET: "job-0", EXPORTS: "job-1"}
    detail = outcome.entries("batch replication")[0]["detail"]
    assert detail.startswith("job job-0 created; follow it with `aws s3control describe-job")
    jobs = resources(outcome, "batch replication job")
    assert {name: job["state"] for name, job in jobs.items()} == {BUCKET: "done", EXPORTS: "done"}
    assert jobs[BUCKET]["arn"] == f"arn:aws:s3:us-east-1:{MOTO_ACCOUNT}:job/job-0"


def test_a_job_asked_for_without_an_answer_is_listed_and_the_next_one_not_reached(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C as CreateJob is sent: S3 may have created the job, so it is listed as asked for,
    with how to find it; the job planned after it is listed as not reached."""
    with stubbed(monkeypatch, "s3control") as control:

        def interrupted(**_: Any) -> None:
            raise KeyboardInterrupt

        control.client.meta.events.register_first("before-call.s3control.CreateJob", interrupted)
        outcome = world.run("replicate-existing")

    assert (outcome.exit_code, outcome.report["outcome"]) == (1, "failed")
    jobs = resources(outcome, "batch replication job")
    assert {name: job["state"] for name, job in jobs.items()} == {
        BUCKET: "requested",
        EXPORTS: "not-reached",
    }
    assert "a job may have been created; `aws s3control list-jobs" in jobs[BUCKET]["detail"]


def test_wait_follows_the_job_to_its_end_with_progress(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed(monkeypatch, "s3control") as control:
        control.add_response("create_job", {"JobId": "job-1"}, create_job_request(BUCKET))
        control.add_response("describe_job", job("Preparing", 0, 0, None), FOLLOW)
        control.add_response("describe_job", job("Active", 40, 0), FOLLOW)
        control.add_response("describe_job", job("Complete", 100, 0), FOLLOW)
        outcome = world.run("replicate-existing", "--bucket", "documents", "--wait")

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "done"), outcome.report
    (done,) = outcome.entries("job outcome")
    assert (done["status"], done["detail"]) == (
        "pass",
        "job job-1 complete: Complete, 100 of 100 replicated, 0 failed",
    )


def test_a_job_that_found_nothing_to_replicate_is_unchanged(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second backfill: every object replicated already, the job had no task."""
    with stubbed(monkeypatch, "s3control") as control:
        control.add_response("create_job", {"JobId": "job-1"}, create_job_request(BUCKET))
        control.add_response("describe_job", job("Complete", 0, 0, 0), FOLLOW)
        outcome = world.run("replicate-existing", "--bucket", "documents", "--wait")

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "unchanged")
    assert outcome.entries("job outcome")[0]["detail"] == (
        "job job-1 complete: nothing left to replicate"
    )


def test_a_job_with_failed_objects_fails_naming_where_the_report_is(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed(monkeypatch, "s3control") as control:
        control.add_response("create_job", {"JobId": "job-1"}, create_job_request(BUCKET))
        control.add_response("describe_job", job("Complete", 97, 3), FOLLOW)
        outcome = world.run("replicate-existing", "--bucket", "documents", "--wait")

    assert outcome.exit_code == 1
    assert outcome.report["ok"] is False
    assert outcome.entries("job outcome")[-1]["detail"] == (
        f"job job-1 complete with 3 failed objects: listed in "
        f"s3://{EXPORTS}/batch-replication/reports/{BUCKET}"
    )
    assert resources(outcome, "batch replication job")[BUCKET]["state"] == "done"  # it exists


def test_a_failed_job_says_why(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = job("Failed", 0, 0, 0)
    failed["Job"]["FailureReasons"] = [{"FailureCode": "AccessDenied", "FailureReason": "denied"}]
    with stubbed(monkeypatch, "s3control") as control:
        control.add_response("create_job", {"JobId": "job-1"}, create_job_request(BUCKET))
        control.add_response("describe_job", failed, FOLLOW)
        outcome = world.run("replicate-existing", "--bucket", "documents", "--wait")

    assert (outcome.exit_code, outcome.report["outcome"]) == (1, "failed")
    assert outcome.entries("job outcome")[-1]["detail"] == "job job-1 Failed: denied"


def test_no_bucket_with_our_rule_is_nothing_matched_and_no_job_is_created(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch Replication replicates by the bucket's rules: without ours it would do nothing."""
    with stubbed(monkeypatch, "s3control"):  # any CreateJob call would fail the stubber
        outcome = world.run("replicate-existing", "--bucket", "documents")

    assert (outcome.exit_code, outcome.report["outcome"]) == (3, "nothing-matched")
    assert outcome.statuses("batch replication") == {BUCKET: "warn"}
    assert (
        "no enabled replication rule formkiq-backup-dr"
        in (outcome.entries("batch replication")[0]["detail"])
    )
    assert outcome.report["resources"] == []


def test_create_job_denied_is_an_access_error_and_the_job_refused(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed(monkeypatch, "s3control") as control:
        control.add_client_error(
            "create_job", service_error_code="AccessDenied", http_status_code=403
        )
        outcome = world.run("replicate-existing", "--bucket", "documents")

    assert outcome.exit_code == 2
    assert "CreateJob: AccessDenied" in outcome.report["summary"]["error"]
    assert resources(outcome, "batch replication job")[BUCKET]["state"] == "refused"


# --- purge-replica --------------------------------------------------------------------------


def test_purge_replica_is_a_dry_run_that_names_the_recovery_points_holding_the_document(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicate_everything(world)
    document = world.finance()[0]
    purge_in_formkiq(world, document.object_key)
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    with stubbed(monkeypatch, "backup") as backup:
        for _ in ("us-east-1", "us-west-2"):
            backup.add_response(
                "list_recovery_points_by_resource",
                {"RecoveryPoints": [recovery_point("formkiq-prod-backup-vault")]},
                {"ResourceArn": bucket_arn},
            )
        outcome = world.run(
            "purge-replica", "--document", document.document_id, "--site", "finance"
        )

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "planned"), outcome.report
    assert outcome.entries("purge") == [
        {
            "section": "purge",
            "subject": document.object_key,
            "status": "info",
            "detail": f"would delete 2 versions from {DOCUMENTS_REPLICA} (dry run: add --apply)",
            "seconds": None,
            "data": {},
            "resource": None,
        }
    ]
    assert outcome.report["resources"] == []
    assert len(replica_versions(world, document.object_key)) == 2
    held = outcome.entries("recovery points")
    assert [e["status"] for e in held] == ["warn", "warn"]
    assert (
        "may still hold the purged content: vault formkiq-prod-backup-vault" in (held[0]["detail"])
    )


def test_purge_replica_apply_deletes_only_the_purged_documents_versions_each_recorded(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicate_everything(world)
    purged, still_there = world.finance()[0], world.finance()[1]
    purge_in_formkiq(world, purged.object_key)
    versions = replica_versions(world, purged.object_key)
    writes = watch_source_writes(monkeypatch)
    with stubbed(monkeypatch, "backup") as backup:
        no_recovery_points(backup)
        outcome = world.run(
            *("purge-replica", "--document", purged.document_id),
            *("--document", still_there.document_id, "--site", "finance", "--apply"),
        )

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "done"), outcome.report
    deleted = resources(outcome, "replica version")
    assert {name: r["state"] for name, r in deleted.items()} == {
        f"{purged.object_key} version {version}": "done" for version in versions
    }
    assert {e["subject"]: e["detail"] for e in outcome.entries("purge") if not e["resource"]} == {
        still_there.object_key: "still in FormKiQ's bucket, not purged: left alone in the replica"
    }
    assert replica_versions(world, purged.object_key) == []
    assert len(replica_versions(world, still_there.object_key)) == 2
    assert writes == []  # FormKiQ's bucket was never written


def test_a_version_the_replica_refuses_to_delete_is_refused_and_fails_the_purge(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a role other than a break-glass one meets: the replica's policy denies
    DeleteObjectVersion, and DeleteObjects names each version it did not delete."""
    from tests.dr_support import hook_clients

    replicate_everything(world)
    purged = world.finance()[0]
    purge_in_formkiq(world, purged.object_key)
    first, second = replica_versions(world, purged.object_key)

    def deny_first(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Errors"] = [
            {"Key": purged.object_key, "VersionId": first, "Code": "AccessDenied", "Message": "no"}
        ]

    hook_clients(monkeypatch, "after-call.s3.DeleteObjects", deny_first)
    with stubbed(monkeypatch, "backup") as backup:
        no_recovery_points(backup)
        outcome = world.run(
            *("purge-replica", "--document", purged.document_id, "--site", "finance", "--apply")
        )

    assert (outcome.exit_code, outcome.report["outcome"]) == (1, "failed")
    deleted = resources(outcome, "replica version")
    refused = deleted[f"{purged.object_key} version {first}"]
    assert refused["state"] == "refused"
    assert refused["detail"].startswith("not deleted: AccessDenied: no (the replica's policy")
    assert deleted[f"{purged.object_key} version {second}"]["state"] == "done"


def test_a_delete_interrupted_in_flight_leaves_its_versions_asked_for(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.dr_support import hook_clients

    replicate_everything(world)
    purged = world.finance()[0]
    purge_in_formkiq(world, purged.object_key)

    def interrupted(**_: Any) -> None:
        raise KeyboardInterrupt

    hook_clients(monkeypatch, "before-send.s3.DeleteObjects", interrupted)
    outcome = world.run(
        *("purge-replica", "--document", purged.document_id, "--site", "finance", "--apply")
    )

    assert (outcome.exit_code, outcome.report["outcome"]) == (1, "failed")
    states = {r["state"] for r in resources(outcome, "replica version").values()}
    assert states == {"requested"}
    assert len(replica_versions(world, purged.object_key)) == 2


def test_a_document_in_neither_bucket_is_nothing_matched(
    world: World, replicated: FaithfulReplication
) -> None:
    outcome = world.run("purge-replica", "--document", "no-such-document", "--apply")

    assert (outcome.exit_code, outcome.report["outcome"]) == (3, "nothing-matched")
    assert outcome.report["summary"]["matched"] == 0
    assert outcome.entries("scope")[0]["detail"].startswith(
        f"in neither FormKiQ's bucket nor {DOCUMENTS_REPLICA}: nothing matched"
    )


def test_a_document_formkiq_still_holds_is_left_alone_and_unchanged(
    world: World, replicated: FaithfulReplication
) -> None:
    replicate_everything(world)
    kept = world.finance()[0]

    outcome = world.run(
        "purge-replica", "--document", kept.document_id, "--site", "finance", "--apply"
    )

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "unchanged")
    assert outcome.report["resources"] == []
    assert len(replica_versions(world, kept.object_key)) == 2


def test_purge_replica_refuses_a_document_id_with_a_slash(world: World) -> None:
    outcome = world.run("purge-replica", "--document", "finance/abc")
    assert outcome.exit_code == 2
    assert "--document 'finance/abc'" in outcome.report["summary"]["error"]
