"""What every `formkiq-dr` command promises, whatever it does: the region it uses, outcomes that
agree (exit code, `ok`, heading), a scope that never widens, times and paths checked first.

Errors AWS would return are answered on botocore's `before-call` event (as Stubber does), so
the command sees exactly the ClientError a real call would raise.
"""

import json
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from formkiq_backup.dr import context as dr_context
from formkiq_backup.dr import users as dr_users
from formkiq_backup.dr.cli import cli
from tests.dr_support import (
    BUCKET,
    DOCUMENTS,
    ITEM_WRITES,
    MOTO_ACCOUNT,
    SYNCS,
    World,
    aws_error,
    no_aws_session,
    pitr_window,
    run_cli,
)

NOW = datetime.now(UTC).replace(microsecond=0)
AN_HOUR_AGO = (NOW - timedelta(hours=1)).isoformat()

# --- the region ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "aws_region", "aws_default_region", "profile_region", "used"),
    [
        (None, "us-east-1", None, None, "us-east-1"),  # AWS_REGION alone is enough
        (None, "eu-west-1", "us-east-1", None, "eu-west-1"),  # and wins over AWS_DEFAULT_REGION
        ("us-east-1", "eu-west-1", "eu-west-1", None, "us-east-1"),  # --region wins over both
        (None, None, "us-east-1", "eu-west-1", "us-east-1"),  # env before the profile
        (None, None, None, "us-east-1", "us-east-1"),  # the profile last
    ],
)
def test_the_region_is_chosen_as_the_aws_cli_v2_chooses_it(  # noqa: PLR0917
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    option: str | None,
    aws_region: str | None,
    aws_default_region: str | None,
    profile_region: str | None,
    used: str,
) -> None:
    for variable, value in (("AWS_REGION", aws_region), ("AWS_DEFAULT_REGION", aws_default_region)):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\nregion = {profile_region}\n" if profile_region else "")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    outcome = world.run("verify", *(["--region", option] if option else []))

    assert outcome.report["summary"]["region"] == used
    if used == "us-east-1":  # where the FormKiQ is
        assert outcome.exit_code == 0, outcome.report
    else:
        assert outcome.exit_code == 2
        assert "(region eu-west-1)" in outcome.report["summary"]["error"]


def test_no_region_anywhere_is_a_usage_error_naming_every_way_to_give_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    outcome = world.run("verify")
    assert outcome.exit_code == 2
    assert outcome.report["ok"] is False
    error = outcome.report["summary"]["error"]
    assert "--region" in error and "AWS_REGION" in error and "AWS_DEFAULT_REGION" in error


# --- outcomes that agree -------------------------------------------------------------------


def snapshot_arn(world: World) -> str:
    return str(world.run("snapshot").report["summary"]["backups"][DOCUMENTS])


# (command, what it calls mid-way after discovery, as (botocore service id, operation))
MID_COMMAND: list[tuple[str, tuple[str, ...], tuple[str, str]]] = [
    ("verify", ("verify",), ("s3", "GetBucketReplication")),
    ("snapshot", ("snapshot",), ("dynamodb", "CreateBackup")),
    ("drill", ("drill",), ("dynamodb", "RestoreTableToPointInTime")),
    (
        "repair",
        ("repair", "--table", "documents", "--site", "finance", "--from-backup", "{backup}"),
        ("dynamodb", "RestoreTableFromBackup"),
    ),
    (
        "restore-documents",
        ("restore-documents", "--site", "finance", "--at", AN_HOUR_AGO),
        ("s3", "ListObjectVersions"),
    ),
    (
        "users export",
        ("users", "export", "--out", "{out}"),
        ("cognito-identity-provider", "ListUsers"),
    ),
    (
        "failover-check",
        (
            "failover-check",
            *("--tier", "enterprise", "--primary-region", "us-east-1", "--region", "us-west-2"),
        ),
        ("dynamodb", "DescribeTable"),
    ),
]


@pytest.mark.parametrize(
    ("code", "status", "exit_code"),
    [("AccessDeniedException", 403, 2), ("InternalServerError", 500, 1)],
    ids=["access-denied", "server-error"],
)
@pytest.mark.parametrize(
    ("command", "arguments", "failing"), MID_COMMAND, ids=[c[0] for c in MID_COMMAND]
)
def test_an_error_mid_command_fails_the_report_the_json_and_the_exit_code_alike(  # noqa: PLR0917
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
    arguments: tuple[str, ...],
    failing: tuple[str, str],
    code: str,
    status: int,
    exit_code: int,
) -> None:
    backup = snapshot_arn(world) if command == "repair" else ""
    argv = [a.format(backup=backup, out=tmp_path / "users.jsonl") for a in arguments]
    answered = aws_error(monkeypatch, *failing, code=code, status=status)

    outcome = world.run(*argv)
    plain = CliRunner().invoke(cli, [*argv, "--app-env", "prod"], env={"COLUMNS": "200"})

    assert answered, f"{failing[1]} was never called"
    assert outcome.exit_code == exit_code
    assert outcome.report["ok"] is False
    assert outcome.report["exitCode"] == exit_code
    assert f"{failing[1]}: {code}" in outcome.report["summary"]["error"]
    assert plain.exit_code == exit_code
    assert plain.stdout.splitlines()[0] == f"formkiq-dr {command} for FormKiQ prod: FAILED"
    assert f"error  {failing[1]}: {code}" in plain.stdout
    assert "Traceback" not in plain.stdout + plain.stderr
    # An error answer is a refusal: nothing is left unknown, and nothing temporary stays.
    assert [
        r for r in outcome.report["resources"] if r["state"] in ("requested", "left-behind")
    ] == []
    if failing[1] in ("CreateBackup", "RestoreTableToPointInTime", "RestoreTableFromBackup"):
        assert outcome.report["resources"][0]["state"] == "refused"


def test_a_setup_error_is_not_ok_in_json(world: World) -> None:
    outcome = world.run("verify", app_env="staging")
    assert (outcome.exit_code, outcome.report["ok"], outcome.report["exitCode"]) == (2, False, 2)


@pytest.mark.parametrize("command", ["drill", "repair"])
def test_ctrl_c_is_a_failure_everywhere_it_is_reported(
    world: World, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from formkiq_backup.dr import tables

    tables_before = world.tables()

    def interrupt(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    # The commands' modules first: imported while tables.scan is patched, they would keep it.
    monkeypatch.setattr("formkiq_backup.dr.drill.scan", interrupt)
    monkeypatch.setattr("formkiq_backup.dr.repair.scan", interrupt)
    monkeypatch.setattr(tables, "scan", interrupt)
    arguments = ["--table", "documents", "--site", "finance"] if command == "repair" else []
    at = ["--from-backup", snapshot_arn(world)] if command == "repair" else []

    outcome = world.run(command, *arguments, *at)

    assert outcome.exit_code == 1
    assert outcome.report["ok"] is False
    assert outcome.report["summary"]["error"] == "interrupted"
    assert outcome.statuses("interrupted") == {command: "fail"}
    assert world.tables() == tables_before


def test_an_unexpected_error_is_a_failure_without_a_traceback(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("Table")

    monkeypatch.setattr("formkiq_backup.dr.verify.check_table_pitr", broken)
    result = CliRunner().invoke(cli, ["verify", "--app-env", "prod", "--json"])

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["summary"]["error"].startswith("unexpected KeyError: 'Table'")
    assert "Traceback" not in result.stderr


def test_an_html_error_page_is_summarised_never_dumped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What moto_server (or a proxy, or a wrong endpoint) sends for an API it does not know:
    a 404 HTML page, which botocore puts whole into the error message of a JSON service."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    from tests.dr_support import hook_clients

    page = (
        b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
        b"<p>The requested URL was not found on the server.</p>\n"
    )

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield page

        def read(self, *_: Any) -> bytes:
            return page

    def html(request: Any, **_: Any) -> AWSResponse:
        headers = HTTPHeaders()
        headers["Content-Type"] = "text/html; charset=utf-8"
        return AWSResponse(request.url, 404, headers, Raw())

    hook_clients(monkeypatch, "before-send.backup", html)
    outcome = world.run("verify", "--tier", "standard")

    assert outcome.exit_code == 1
    assert outcome.report["ok"] is False
    assert outcome.report["summary"]["error"] == (
        "ListRecoveryPointsByResource: 404: HTTP 404 from https://backup.us-east-1.amazonaws.com"
        ": an HTML page (404 Not Found), not an AWS API answer"
    )
    assert "<" not in json.dumps(outcome.report) + outcome.stderr


# --- scope never widens --------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        ("repair", "--table", "documents", "--site", "financ", "--at", AN_HOUR_AGO),
        ("restore-documents", "--site", "financ", "--at", AN_HOUR_AGO),
    ],
    ids=["repair", "restore-documents"],
)
def test_a_site_that_does_not_exist_is_refused_naming_those_that_do(
    world: World, arguments: tuple[str, ...]
) -> None:
    tables_before = world.tables()
    outcome = world.run(*arguments)

    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == (
        "--site 'financ': FormKiQ prod has no such site; its sites: default, finance"
    )
    assert world.tables() == tables_before


def test_a_site_whose_documents_were_all_deleted_is_still_a_site(world: World) -> None:
    """No Cognito group names it any more, but its versions are in the bucket."""
    s3 = world.client("s3")
    s3.put_object(Bucket=BUCKET, Key="archive/00000000-0000-4000-8000-00000000aaaa", Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key="archive/00000000-0000-4000-8000-00000000aaaa")

    outcome = world.run("restore-documents", "--site", "archive", "--at", AN_HOUR_AGO)

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["scope"] == "site archive"


def test_restore_documents_of_the_whole_bucket_takes_whole_bucket(world: World) -> None:
    refused = world.run("restore-documents", "--at", AN_HOUR_AGO)
    allowed = world.run("restore-documents", "--whole-bucket", "--at", AN_HOUR_AGO)

    assert refused.exit_code == 2
    assert "--whole-bucket" in refused.report["summary"]["error"]
    assert allowed.exit_code == 0, allowed.report
    assert allowed.report["summary"]["scope"] == "whole bucket"


def test_repair_of_a_table_formkiq_does_not_protect_is_refused(world: World) -> None:
    outcome = world.run(
        "repair", "--table", "formkiq-core-prod-cache", "--whole-table", "--at", AN_HOUR_AGO
    )
    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == (
        "--table 'formkiq-core-prod-cache': not a table FormKiQ prod protects; give documents "
        f"or documentsyncs, or one of {DOCUMENTS}, {SYNCS}"
    )


BACKUP = f"arn:aws:dynamodb:us-east-1:123456789012:table/{DOCUMENTS}/backup/01234567890123-abcd"
REPAIR = ("repair", "--table", "documents")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("drill", "--at", AN_HOUR_AGO, "--from-backup", BACKUP), "--at and --from-backup"),
        (
            (*REPAIR, "--site", "finance", "--at", AN_HOUR_AGO, "--from-backup", BACKUP),
            "--at and --from-backup",
        ),
        ((*REPAIR, "--site", "finance"), "give --at TIME (PITR) or --from-backup ARN"),
        ((*REPAIR, "--at", AN_HOUR_AGO), "give --site SITE to repair one site, or --whole-table"),
        (
            (*REPAIR, "--site", "finance", "--whole-table", "--at", AN_HOUR_AGO),
            "--site and --whole-table",
        ),
        (
            (*REPAIR, "--site", "finance", "--at", AN_HOUR_AGO, "--keep-new", "--delete-new"),
            "--keep-new and --delete-new",
        ),
        (
            (*REPAIR, "--site", "finance", "--site", "default", "--at", AN_HOUR_AGO),
            "--site given 2 times",
        ),
        (
            (*REPAIR, "--site", "finance", "--at", AN_HOUR_AGO, "--at", AN_HOUR_AGO),
            "--at given 2 times",
        ),
        (("repair", "--table", "documents", "--site", "finance", "--from-backup", "x"), "x: not"),
        (("snapshot", "--role-arn", "arn:aws:iam::123456789012:role/backup"), "with --vault"),
        (("snapshot", "--vault", "v", "--role-arn", "backup"), "not an IAM role ARN"),
        (("snapshot", "--keep-days", "30"), "give it with --vault"),
        (("snapshot", "--vault", "v", "--keep-days", "0"), "from 1 to 36500 days"),
        (
            ("restore-documents", "--site", "finance", "--prefix", "x", "--at", AN_HOUR_AGO),
            "--site and --prefix",
        ),
        (
            ("restore-documents", "--whole-bucket", "--site", "finance", "--at", AN_HOUR_AGO),
            "--site and --whole-bucket",
        ),
        (("restore-documents", "--prefix", "", "--at", AN_HOUR_AGO), "--prefix '' is the whole"),
        (("drill", "--from-backup", "arn:aws:backup:x"), "not a DynamoDB backup ARN"),
        (("failover-check", "--tier", "enterprise", "--region", "us-west-2"), "--primary-region"),
        (
            ("failover-check", "--tier", "enterprise", "--primary-region", "us-east-1"),
            "give --region",
        ),
        (
            (
                "failover-check",
                *("--tier", "enhanced", "--primary-region", "us-west-2", "--region", "us-west-2"),
            ),
            "--region and --primary-region are both us-west-2",
        ),
    ],
)
def test_conflicting_or_missing_options_are_refused_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, arguments: tuple[str, ...], message: str
) -> None:
    opened = no_aws_session(monkeypatch)
    outcome = run_cli(*arguments, "--app-env", "prod", "--json")

    assert outcome.exit_code == 2
    assert outcome.report["ok"] is False
    assert message in outcome.report["summary"]["error"]
    assert message in outcome.stderr
    assert opened == []


# --- times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        ("drill", "--at", "2026-11-30T09:00:00"),
        ("repair", *REPAIR[1:], "--site", "finance", "--at", "2026-11-30T09:00:00"),
        ("restore-documents", "--site", "finance", "--at", "2026-11-30"),
    ],
    ids=["drill", "repair", "restore-documents"],
)
def test_a_time_without_a_zone_is_refused_not_guessed(
    monkeypatch: pytest.MonkeyPatch, arguments: tuple[str, ...]
) -> None:
    opened = no_aws_session(monkeypatch)
    outcome = run_cli(*arguments, "--app-env", "prod", "--json")

    assert outcome.exit_code == 2
    assert "has no time zone: add Z for UTC" in outcome.report["summary"]["error"]
    assert opened == []


def test_help_says_times_need_a_zone() -> None:
    for command in ("drill", "repair", "restore-documents"):
        result = CliRunner().invoke(cli, [command, "--help"], env={"COLUMNS": "200"})
        assert "with its zone (Z or +01:00)" in " ".join(result.stdout.split()), command


def test_restore_documents_refuses_a_time_in_the_future(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = no_aws_session(monkeypatch)
    tomorrow = (NOW + timedelta(days=1)).isoformat()
    outcome = run_cli(
        "restore-documents", "--site", "finance", "--at", tomorrow, "--app-env", "p", "--json"
    )
    assert outcome.exit_code == 2
    assert "is in the future" in outcome.report["summary"]["error"]
    assert opened == []


WINDOW = (NOW - timedelta(days=35), NOW - timedelta(minutes=5))
WINDOW_TEXT = " to ".join(t.strftime("%Y-%m-%d %H:%M:%S UTC") for t in WINDOW)


@pytest.mark.parametrize(
    "at",
    [NOW - timedelta(days=36), NOW - timedelta(minutes=1), NOW + timedelta(days=1)],
    ids=["before-the-window", "after-the-latest-restorable-time", "in-the-future"],
)
@pytest.mark.parametrize("command", ["drill", "repair"])
def test_a_time_outside_the_pitr_window_is_refused_before_any_restore(
    world: World, monkeypatch: pytest.MonkeyPatch, command: str, at: datetime
) -> None:
    pitr_window(monkeypatch, *WINDOW)
    restores = aws_error(monkeypatch, "dynamodb", "RestoreTableToPointInTime", "X", 500)
    scope = ["--table", "documents", "--site", "finance"] if command == "repair" else []

    outcome = world.run(command, *scope, "--at", at.isoformat())

    assert outcome.exit_code == 2
    stated = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert outcome.report["summary"]["error"] == (
        f"--at {stated} is outside the restorable window of table {DOCUMENTS}: {WINDOW_TEXT}"
    )
    assert restores == []


def test_a_time_inside_the_window_drills(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    pitr_window(monkeypatch, *WINDOW)
    outcome = world.run("drill", "--at", AN_HOUR_AGO, "--sample", "1")
    assert outcome.exit_code == 0, outcome.report
    stated = (NOW - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"PITR at {stated}" in outcome.entries("restore")[0]["detail"]


def test_a_pitr_restore_of_a_table_without_pitr_is_refused_first(world: World) -> None:
    world.client("dynamodb").update_continuous_backups(
        TableName=SYNCS, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    tables_before = world.tables()
    outcome = world.run("drill")

    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == (
        f"table {SYNCS} has PITR disabled: no point in time to restore; use --from-backup "
        "with an on-demand backup"
    )
    assert world.tables() == tables_before  # not even the documents table was restored


# --- paths checked first -------------------------------------------------------------------


def unwritable_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    folder = tmp_path / "reports"
    folder.mkdir()
    return {
        "a folder": (folder, "is a folder; give a file name in it"),
        "a missing folder": (
            tmp_path / "missing" / "x",
            f"folder {tmp_path / 'missing'} does not exist",
        ),
        "a file as folder": (tmp_path / "file" / "x", "is not a folder"),
    }


@pytest.mark.parametrize("case", ["a folder", "a missing folder", "a file as folder"])
@pytest.mark.parametrize(
    ("option", "command"),
    [("--report", ("drill",)), ("--out", ("users", "export"))],
    ids=["drill", "users-export"],
)
def test_an_unwritable_output_path_is_refused_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    option: str,
    command: tuple[str, ...],
    case: str,
) -> None:
    (tmp_path / "file").write_text("")
    path, problem = unwritable_cases(tmp_path)[case]
    opened = no_aws_session(monkeypatch)

    outcome = run_cli(*command, option, str(path), "--app-env", "prod", "--json")

    assert outcome.exit_code == 2
    assert f"'{option}'" in outcome.report["summary"]["error"]
    assert problem in outcome.report["summary"]["error"]
    assert opened == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere; see the next test")
def test_a_folder_without_write_permission_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    opened = no_aws_session(monkeypatch)
    outcome = run_cli("drill", "--report", str(folder / "drill"), "--app-env", "p", "--json")
    assert outcome.exit_code == 2
    assert "cannot write in folder" in outcome.report["summary"]["error"]
    assert opened == []


def test_a_folder_that_refuses_files_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What any user (root too) meets on a read-only mount: creating a file fails."""
    import tempfile

    def refused(*_: Any, **__: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refused)
    opened = no_aws_session(monkeypatch)
    outcome = run_cli(
        "users", "export", "--out", str(tmp_path / "u.jsonl"), "--app-env", "p", "--json"
    )

    assert outcome.exit_code == 2
    assert (
        f"cannot write in folder {tmp_path} (Permission denied)"
        in outcome.report["summary"]["error"]
    )
    assert opened == []


def test_an_export_that_fails_halfway_leaves_the_previous_file_whole(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "users.jsonl"
    assert world.run("users", "export", "--out", str(out)).exit_code == 0
    previous = out.read_text()

    def fails_after_one_line(cognito: Any, pool: str, file: Any, on_user: Any) -> int:
        file.write('{"username": "first"}\n')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dr_users, "export_users", fails_after_one_line)
    outcome = world.run("users", "export", "--out", str(out))

    assert outcome.exit_code == 1
    assert outcome.report["ok"] is False
    assert "No space left on device" in outcome.report["summary"]["error"]
    assert out.read_text() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.jsonl"]


def test_a_report_name_with_dots_keeps_them(world: World, tmp_path: Path) -> None:
    outcome = world.run("drill", "--sample", "1", "--report", str(tmp_path / "drill-2026.11.30"))
    assert outcome.exit_code == 0, outcome.report
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "drill-2026.11.30.json",
        "drill-2026.11.30.md",
    ]
    written = json.loads((tmp_path / "drill-2026.11.30.json").read_text())
    assert (written["ok"], written["exitCode"]) == (True, 0)


def test_the_drill_report_on_disk_agrees_with_the_exit_code(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Written after the outcome is known: an access error mid-drill is in the file too."""
    aws_error(monkeypatch, "dynamodb", "RestoreTableToPointInTime", "AccessDeniedException", 403)
    outcome = world.run("drill", "--report", str(tmp_path / "drill"))

    written = json.loads((tmp_path / "drill.json").read_text())
    assert outcome.exit_code == 2
    assert (written["ok"], written["exitCode"]) == (False, 2)
    assert "AccessDeniedException" in written["summary"]["error"]
    assert "(exit code 2)" in (tmp_path / "drill.md").read_text()


# --- an endpoint that cannot be reached ----------------------------------------------------


def test_an_unreachable_endpoint_is_said_at_once_while_retries_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from botocore.config import Config

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setattr(
        dr_context, "CLIENT_CONFIG", Config(retries={"mode": "standard", "max_attempts": 3})
    )
    monkeypatch.setattr(dr_context, "MAX_ATTEMPTS", 3)
    attempts: list[str] = []
    notices: list[tuple[int, str]] = []
    original_create = dr_context.DrContext.create.__func__  # type: ignore[attr-defined]

    def create(cls: Any, /, *args: Any, on_notice: Any = None, **kwargs: Any) -> Any:
        def notice(text: str) -> None:
            notices.append((len(attempts), text))
            on_notice(text)

        made = original_create(cls, *args, on_notice=notice, **kwargs)
        made.session.events.register("before-send", lambda **_: attempts.append("send"))
        return made

    monkeypatch.setattr(dr_context.DrContext, "create", classmethod(create))
    outcome = run_cli("verify", "--app-env", "prod", "--json")

    assert outcome.exit_code == 2
    assert outcome.report["ok"] is False
    assert endpoint in outcome.report["summary"]["error"]
    # Said once, after the first failed attempt, while two more were still to come.
    assert [count for count, _ in notices] == [1]
    assert len(attempts) >= 3
    assert f"cannot reach {endpoint} (Could not connect" in notices[0][1]
    assert f"warning: cannot reach {endpoint}" in outcome.stderr


def test_a_repair_stopped_part_way_says_how_far_it_got(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Access taken away mid-apply: the report counts the writes made before it stopped."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    from formkiq_backup.offline.incident import break_site
    from tests.dr_support import hook_clients

    backup = snapshot_arn(world)
    break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    puts: list[str] = []

    def denied_after_two(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if model.name not in ITEM_WRITES:
            return None
        puts.append(model.name)
        if len(puts) <= 2:
            return None
        error = {"Code": "AccessDeniedException", "Message": "not allowed"}
        return AWSResponse("https://dynamodb", 400, HTTPHeaders(), None), {"Error": error}

    hook_clients(monkeypatch, "before-call.dynamodb", denied_after_two)
    outcome = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-backup", backup, "--apply"
    )

    assert outcome.exit_code == 2
    assert outcome.report["ok"] is False
    assert outcome.report["summary"]["applied"]["written"] == 2
    assert outcome.report["summary"]["applied"]["stoppedPartWay"] is True
    assert outcome.entries("apply")[0]["detail"] == "stopped part-way: 2 written before it stopped"


@pytest.mark.parametrize(
    ("option", "variable", "named"),
    [("us-east1", None, "--region 'us-east1'"), (None, "useast1", "AWS_REGION 'useast1'")],
)
def test_a_region_that_is_not_a_region_is_refused_before_any_call(
    monkeypatch: pytest.MonkeyPatch, option: str | None, variable: str | None, named: str
) -> None:
    """Otherwise every call goes to dynamodb.us-east1.amazonaws.com, retried, and fails late."""
    if variable:
        monkeypatch.setenv("AWS_REGION", variable)
    sent: list[str] = []
    monkeypatch.setattr(
        dr_context.DrContext, "environment", property(lambda _: sent.append("discovery"))
    )
    outcome = run_cli(
        "verify", "--app-env", "prod", *(["--region", option] if option else []), "--json"
    )
    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == (
        f"{named} is not an AWS region name such as us-east-1"
    )
    assert sent == []


# --- outcomes a script can tell apart --------------------------------------------------------


def planned_repair(world: World) -> tuple[str, ...]:
    """A repair whose plan has changes: a snapshot, then site finance damaged."""
    from formkiq_backup.offline.incident import break_site

    backup = snapshot_arn(world)
    break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    return ("repair", "--table", "documents", "--site", "finance", "--from-backup", backup)


def unchanged_repair(world: World) -> tuple[str, ...]:
    """A repair of a site nothing happened to since its backup."""
    backup = snapshot_arn(world)
    return ("repair", "--table", "documents", "--site", "finance", "--from-backup", backup)


OUTCOMES: list[tuple[str, Any, int, str]] = [
    ("done", lambda world: ("verify",), 0, "OK"),
    ("planned", planned_repair, 0, "OK (dry run: nothing written)"),
    ("unchanged", unchanged_repair, 0, "OK (nothing to change)"),
    (
        "nothing-matched",
        lambda world: ("restore-documents", "--prefix", "nothing-here/", "--at", AN_HOUR_AGO),
        3,
        "NOTHING MATCHED",
    ),
    ("setup-error", lambda world: ("verify", "--region", "eu-west-1"), 2, "FAILED"),
]


@pytest.mark.parametrize(
    ("outcome", "arguments", "exit_code", "heading"), OUTCOMES, ids=[o[0] for o in OUTCOMES]
)
def test_the_exit_code_the_json_outcome_and_the_heading_always_agree(
    world: World, outcome: str, arguments: Any, exit_code: int, heading: str
) -> None:
    argv = arguments(world)
    as_json = world.run(*argv)
    as_text = world.run(*argv, as_json=False)

    assert (as_json.exit_code, as_text.exit_code) == (exit_code, exit_code)
    assert as_json.report["outcome"] == outcome
    assert as_json.report["exitCode"] == exit_code
    assert as_json.report["ok"] is (exit_code == 0)
    assert as_text.stdout.splitlines()[0] == f"formkiq-dr {argv[0]} for FormKiQ prod: {heading}"


# The commands from exports and for the DR region end by the same rules: each case sets the
# world up and yields the command, run twice (JSON, then text), so it must not change anything
# a second run would see differently.
Case = Callable[[World, pytest.MonkeyPatch], AbstractContextManager[tuple[str, ...]]]


def _exports(world: World) -> str:
    from tests.exports_support import create_exports_bucket
    from tests.test_dr_from_export import T0, export_now

    create_exports_bucket(world.session, world.sample.account_id)
    return export_now(world, "documents", T0)


def _two_exports(world: World, *, damage: bool) -> tuple[str, str]:
    from formkiq_backup.offline.incident import break_site
    from tests.test_dr_from_export import T0, export_now

    reference = _exports(world)
    if damage:
        break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    return reference, export_now(world, "documents", T0 + timedelta(hours=1))


@contextmanager
def diff_exports_case(
    world: World, _: pytest.MonkeyPatch, damage: bool, site: str = "finance"
) -> Iterator[tuple[str, ...]]:
    reference, live = _two_exports(world, damage=damage)
    yield ("diff-exports", "--from", reference, "--to", live, "--site", site)


@contextmanager
def repair_from_export_case(
    world: World, _: pytest.MonkeyPatch, damage: bool, site: str = "finance"
) -> Iterator[tuple[str, ...]]:
    reference = _exports(world)
    if damage:
        from formkiq_backup.offline.incident import break_site

        break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    yield ("repair", "--table", "documents", "--site", site, "--from-export", reference)


@contextmanager
def drill_from_export_case(world: World, _: pytest.MonkeyPatch) -> Iterator[tuple[str, ...]]:
    reference, restored = _two_exports(world, damage=False)
    yield ("drill", "--from-export", restored, "--reference-export", reference, "--strict")


@contextmanager
def export_now_case(world: World, _: pytest.MonkeyPatch) -> Iterator[tuple[str, ...]]:
    from tests.exports_support import create_exports_bucket

    create_exports_bucket(world.session, world.sample.account_id)
    yield ("export-now", "documents")


@contextmanager
def replicate_case(
    world: World, monkeypatch: pytest.MonkeyPatch, tasks: int | None
) -> Iterator[tuple[str, ...]]:
    """`tasks` None: no bucket has our rule; else a job that finds that many objects."""
    from tests.replication_support import create_job_request, job, replicate, stubbed

    if tasks is not None:
        replicate(world, monkeypatch)
    with stubbed(monkeypatch, "s3control") as control:
        for _ in range(2 if tasks is not None else 0):
            control.add_response("create_job", {"JobId": "job-1"}, create_job_request(BUCKET))
            follow = {"AccountId": MOTO_ACCOUNT, "JobId": "job-1"}
            control.add_response("describe_job", job("Complete", tasks or 0, 0, tasks), follow)
        yield ("replicate-existing", "--bucket", "documents", "--wait")


@contextmanager
def purge_case(
    world: World, monkeypatch: pytest.MonkeyPatch, purged: bool, exists: bool = True
) -> Iterator[tuple[str, ...]]:
    """A dry run for a document FormKiQ purged (or still holds, or never had)."""
    from tests.replication_support import (
        no_recovery_points,
        purge_in_formkiq,
        replicate,
        replicate_everything,
        stubbed,
    )

    replicate(world, monkeypatch)
    replicate_everything(world)
    document = world.finance()[0]
    if purged:
        purge_in_formkiq(world, document.object_key)
    with stubbed(monkeypatch, "backup") as backup:
        no_recovery_points(backup, runs=2 if purged else 0)
        yield (
            "purge-replica",
            "--document",
            document.document_id if exists else "no-such-document",
            "--site",
            "finance",
        )


LATER_OUTCOMES: list[tuple[str, Case, str]] = [
    ("diff-exports-planned", partial(diff_exports_case, damage=True), "planned"),
    ("diff-exports-unchanged", partial(diff_exports_case, damage=False), "unchanged"),
    (
        "diff-exports-nothing-matched",
        partial(diff_exports_case, damage=True, site="archive"),
        "nothing-matched",
    ),
    ("repair-from-export-planned", partial(repair_from_export_case, damage=True), "planned"),
    ("repair-from-export-unchanged", partial(repair_from_export_case, damage=False), "unchanged"),
    (
        "repair-from-export-nothing-matched",
        partial(repair_from_export_case, damage=False, site="archive"),
        "nothing-matched",
    ),
    ("drill-from-export-done", drill_from_export_case, "done"),
    ("export-now-done", export_now_case, "done"),
    ("replicate-existing-done", partial(replicate_case, tasks=5), "done"),
    ("replicate-existing-unchanged", partial(replicate_case, tasks=0), "unchanged"),
    ("replicate-existing-nothing-matched", partial(replicate_case, tasks=None), "nothing-matched"),
    ("purge-replica-planned", partial(purge_case, purged=True), "planned"),
    ("purge-replica-unchanged", partial(purge_case, purged=False), "unchanged"),
    (
        "purge-replica-nothing-matched",
        partial(purge_case, purged=False, exists=False),
        "nothing-matched",
    ),
]
HEADINGS = {
    "done": (0, "OK"),
    "planned": (0, "OK (dry run: nothing written)"),
    "unchanged": (0, "OK (nothing to change)"),
    "nothing-matched": (3, "NOTHING MATCHED"),
}


@pytest.mark.parametrize(
    ("case", "outcome"), [c[1:] for c in LATER_OUTCOMES], ids=[c[0] for c in LATER_OUTCOMES]
)
def test_the_commands_from_exports_and_for_the_dr_region_end_by_the_same_rules(
    world: World, monkeypatch: pytest.MonkeyPatch, case: Case, outcome: str
) -> None:
    add_site_without_documents(world)
    exit_code, heading = HEADINGS[outcome]
    with case(world, monkeypatch) as argv:
        as_json = world.run(*argv)
        as_text = world.run(*argv, as_json=False)

    assert (as_json.exit_code, as_text.exit_code) == (exit_code, exit_code), as_json.report
    assert as_json.report["outcome"] == outcome
    assert as_json.report["exitCode"] == exit_code
    assert as_json.report["ok"] is (exit_code == 0)
    assert as_text.stdout.splitlines()[0] == f"formkiq-dr {argv[0]} for FormKiQ prod: {heading}"


def test_every_outcome_has_its_exit_code_and_markdown_verdict() -> None:
    from formkiq_backup.dr.report import EXIT_CODES, Outcome, Report

    assert set(EXIT_CODES) == set(Outcome)
    for outcome in (Outcome.DONE, Outcome.PLANNED, Outcome.UNCHANGED, Outcome.NOTHING_MATCHED):
        report = Report("repair", "prod")
        report.conclude(outcome)
        document = report.to_json()
        assert (document["outcome"], document["exitCode"]) == (outcome.value, EXIT_CODES[outcome])
        markdown = report.to_markdown()
        assert f"(exit code {EXIT_CODES[outcome]})" in markdown
        assert f"- Outcome: {outcome.value}" in markdown
    with pytest.raises(ValueError, match="comes from a failed entry"):
        Report("repair", "prod").conclude(Outcome.FAILED)


# --- nothing matched ------------------------------------------------------------------------


def add_site_without_documents(world: World, site: str = "archive") -> str:
    """A site FormKiQ knows (a Cognito group names it) that holds no document."""
    world.client("cognito-idp").create_group(UserPoolId=world.pool_id, GroupName=site)
    return site


@pytest.mark.parametrize("apply", [False, True], ids=["dry-run", "apply"])
def test_restore_documents_of_a_scope_with_no_object_is_nothing_matched(
    world: World, apply: bool
) -> None:
    site = add_site_without_documents(world)
    outcome = world.run(
        "restore-documents", "--site", site, "--at", AN_HOUR_AGO, *(["--apply"] if apply else [])
    )

    assert outcome.exit_code == 3
    assert (outcome.report["outcome"], outcome.report["ok"]) == ("nothing-matched", False)
    assert outcome.report["summary"]["matched"] == 0
    assert outcome.entries("scope")[0]["detail"] == (
        f"no object and no version under '{site}/' in {BUCKET}: nothing matched"
    )


def test_restore_documents_whose_objects_are_all_as_they_were_is_unchanged(world: World) -> None:
    """At an hour ago no seeded document existed: each is left alone, nothing to change."""
    outcome = world.run("restore-documents", "--site", "finance", "--at", AN_HOUR_AGO, "--apply")

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "unchanged")
    assert outcome.report["summary"]["matched"] == len(world.finance())
    assert outcome.report["resources"] == []


def test_repair_of_a_site_with_no_item_then_or_now_is_nothing_matched(world: World) -> None:
    site = add_site_without_documents(world)
    outcome = world.run(
        "repair", "--table", "documents", "--site", site, "--from-backup", snapshot_arn(world)
    )

    assert (outcome.exit_code, outcome.report["outcome"]) == (3, "nothing-matched")
    assert outcome.entries("scope")[0]["detail"] == (
        "no item in this scope, neither at the recovery point nor now: nothing matched"
    )
    assert [r["state"] for r in outcome.report["resources"]] == ["removed"]


def test_repair_with_no_differences_is_a_healthy_nothing_to_change(world: World) -> None:
    outcome = world.run(*unchanged_repair(world), "--apply")

    assert (outcome.exit_code, outcome.report["outcome"], outcome.report["ok"]) == (
        0,
        "unchanged",
        True,
    )
    assert outcome.report["summary"]["plan"] == {"put": 0, "overwrite": 0, "delete": 0, "keep": 0}
    assert "applied" not in outcome.report["summary"]  # nothing was written


@pytest.mark.parametrize("content", ["", "\n\n  \n"], ids=["empty", "blank-lines"])
def test_users_import_of_a_file_with_no_user_is_nothing_matched(
    world: World, tmp_path: Path, content: str
) -> None:
    empty = tmp_path / "users.jsonl"
    empty.write_text(content)

    outcome = world.run("users", "import", str(empty))

    assert (outcome.exit_code, outcome.report["outcome"]) == (3, "nothing-matched")
    assert outcome.report["summary"]["read"] == 0
    assert outcome.entries("scope")[0] == {
        "section": "scope",
        "subject": str(empty),
        "status": "warn",
        "detail": "no user in the file: nothing matched",
        "seconds": None,
        "data": {},
        "resource": None,
    }


def test_users_import_of_users_all_there_already_is_unchanged(world: World, tmp_path: Path) -> None:
    exported = tmp_path / "users.jsonl"
    world.run("users", "export", "--out", str(exported))

    outcome = world.run("users", "import", str(exported))

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "unchanged")
    assert outcome.report["summary"]["created"] == 0
    assert outcome.report["resources"] == []


def test_users_import_gives_an_existing_user_the_groups_it_lost(
    world: World, tmp_path: Path
) -> None:
    exported = tmp_path / "users.jsonl"
    world.run("users", "export", "--out", str(exported))
    cognito = world.client("cognito-idp")
    alice = cognito.list_users(UserPoolId=world.pool_id, Filter='email = "alice@example.com"')
    username = alice["Users"][0]["Username"]
    groups = cognito.admin_list_groups_for_user(UserPoolId=world.pool_id, Username=username)
    lost = groups["Groups"][0]["GroupName"]
    cognito.admin_remove_user_from_group(
        UserPoolId=world.pool_id, Username=username, GroupName=lost
    )

    outcome = world.run("users", "import", str(exported))

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "done")
    after = cognito.admin_list_groups_for_user(UserPoolId=world.pool_id, Username=username)
    assert lost in {group["GroupName"] for group in after["Groups"]}
    assert "1 group memberships added" in outcome.entries("import")[-1]["detail"]


def test_users_export_of_an_empty_pool_is_nothing_matched_and_keeps_the_last_export(
    world: World, tmp_path: Path
) -> None:
    from formkiq_backup.offline.samples import sample_formkiq
    from formkiq_backup.offline.seed import seed_formkiq, seed_users
    from tests.dr_support import MOTO_ACCOUNT

    target = sample_formkiq(app_environment="dr", account_id=MOTO_ACCOUNT)
    seed_formkiq(world.session, target)
    seed_users(world.session, target, users={})
    out = tmp_path / "users.jsonl"
    out.write_text('{"username": "kept"}\n')

    outcome = world.run("users", "export", "--out", str(out), app_env="dr")

    assert (outcome.exit_code, outcome.report["outcome"]) == (3, "nothing-matched")
    assert out.read_text() == '{"username": "kept"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.jsonl"]


# --- endpoints, labels and report paths ------------------------------------------------------


@pytest.mark.parametrize("variable", dr_context.ENDPOINT_VARIABLES)
@pytest.mark.parametrize(
    "value", ["localhost:4566", "http//127.0.0.1:4566", " http://x", "ftp://x"]
)
def test_an_endpoint_url_without_its_scheme_is_a_setup_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    sent: list[str] = []
    monkeypatch.setattr(
        dr_context.DrContext, "environment", property(lambda _: sent.append("discovery"))
    )

    outcome = run_cli("verify", "--app-env", "prod", "--json")

    assert outcome.exit_code == 2
    assert outcome.report["outcome"] == "setup-error"
    assert outcome.report["summary"]["error"].startswith(f"{variable} {value!r}: ")
    assert "unexpected" not in outcome.report["summary"]["error"]
    assert sent == []


def test_an_endpoint_url_in_the_aws_config_file_is_checked_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text(
        "[default]\nservices = local\n\n[services local]\ndynamodb =\n"
        "  endpoint_url = localhost:8000\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    outcome = run_cli("verify", "--app-env", "prod", "--json")

    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"].startswith(
        "endpoint_url of dynamodb in [services local] (AWS config file) 'localhost:8000': "
    )


def test_endpoint_urls_are_not_checked_when_the_sdk_is_told_to_ignore_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "localhost:4566")
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert world.run("verify").exit_code == 0


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("backup", "AWS_ENDPOINT_URL_BACKUP"),
        ("cognito-idp", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"),
        ("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB"),
        ("s3", "AWS_ENDPOINT_URL_S3"),
        ("ssm", "AWS_ENDPOINT_URL_SSM"),
        ("sts", "AWS_ENDPOINT_URL_STS"),
    ],
)
def test_the_endpoint_variables_checked_are_those_botocore_reads(
    monkeypatch: pytest.MonkeyPatch, service: str, variable: str
) -> None:
    assert variable in dr_context.ENDPOINT_VARIABLES
    monkeypatch.setenv(variable, "http://127.0.0.1:4566")
    context = dr_context.DrContext.create("prod", region="us-east-1")
    assert context.client(service).meta.endpoint_url == "http://127.0.0.1:4566"


LABEL_CHARACTERS = (
    "letters, digits, '_', '.' and '-' only (the characters of a DynamoDB backup name)"
)


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("x" * 65, "65 characters: at most 64"),
        ("pre upgrade", LABEL_CHARACTERS),
        ("", LABEL_CHARACTERS),
    ],
)
def test_a_label_no_backup_name_can_hold_is_refused_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, label: str, problem: str
) -> None:
    opened = no_aws_session(monkeypatch)
    outcome = run_cli("snapshot", "--label", label, "--app-env", "prod", "--json")

    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == f"--label {label!r}: {problem}"
    assert opened == []


def test_backup_names_keep_the_table_and_time_whole_or_are_refused() -> None:
    """Cut at 255 characters, a long label used to give two tables' backups one name."""
    from formkiq_backup.dr.context import SetupError
    from formkiq_backup.dr.snapshot import BACKUP_NAME_MAX, backup_names

    stamp = "20261130T050000"
    label = "x" * 64
    fitting = [f"{'t' * 140}-documents", f"{'t' * 140}-documentsyncs"]
    names = backup_names(label, fitting, stamp)
    assert len(set(names.values())) == 2
    for table, name in names.items():
        assert len(name) <= BACKUP_NAME_MAX
        assert name == f"formkiq-dr-{label}-{table}-{stamp}"

    too_long = [f"{'t' * 170}-documents", f"{'t' * 170}-documentsyncs"]
    with pytest.raises(SetupError) as refused:
        backup_names(label, too_long, stamp)
    assert str(refused.value) == (
        f"--label {label!r}: the backup name of table {too_long[1]} would be 276 characters, "
        "and DynamoDB allows 255: shorten --label to at most 43 characters"
    )


def test_a_label_too_long_for_this_formkiq_is_refused_before_any_backup(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("formkiq_backup.dr.snapshot.BACKUP_NAME_MAX", 100)
    outcome = world.run("snapshot", "--label", "x" * 60)

    assert outcome.exit_code == 2
    assert "shorten --label to at most" in outcome.report["summary"]["error"]
    assert world.client("dynamodb").list_backups()["BackupSummaries"] == []


@pytest.mark.parametrize(
    ("option", "command"),
    [("--report", ("drill",)), ("--out", ("users", "export"))],
    ids=["drill", "users-export"],
)
@pytest.mark.parametrize("folder_exists", [False, True], ids=["missing", "existing"])
def test_an_output_path_naming_a_folder_is_refused_not_written_beside_it(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    option: str,
    command: tuple[str, ...],
    folder_exists: bool,
) -> None:
    """`--report reports/` used to write ./reports.md and ./reports.json when reports/ did not
    exist, and exit 0."""
    monkeypatch.chdir(tmp_path)
    if folder_exists:
        (tmp_path / "reports").mkdir()
    opened = no_aws_session(monkeypatch)

    outcome = run_cli(*command, option, "reports/", "--app-env", "prod", "--json")

    assert outcome.exit_code == 2
    assert f"'{option}'" in outcome.report["summary"]["error"]
    assert (
        "reports/: names a folder; give a file name in it (reports/NAME)"
        in (outcome.report["summary"]["error"])
    )
    assert opened == []
    assert sorted(p.name for p in tmp_path.iterdir()) == (["reports"] if folder_exists else [])


def test_the_readme_exit_code_table_is_the_one_the_tool_uses() -> None:
    """Every outcome with its exit code and heading, and every resource state, as documented."""
    import re

    from formkiq_backup.dr.report import _VERDICT, EXIT_CODES, ResourceState

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    documented = {
        outcome: (int(code), heading)
        for code, outcome, heading in re.findall(
            r"^\| (\d) \| `([a-z-]+)` \| `([^`]+)` \|", readme, re.MULTILINE
        )
    }
    assert documented == {
        outcome.value: (EXIT_CODES[outcome], re.sub(r"\[/?[a-z ]*\]", "", _VERDICT[outcome][0]))
        for outcome in EXIT_CODES
    }
    states = re.search(r"^\| `state` \| (.*) \|$", readme, re.MULTILINE)
    assert states is not None
    assert set(re.findall(r"`([a-z-]+)` \(", states.group(1))) == {s.value for s in ResourceState}
