"""What every `formkiq-dr` command promises, whatever it does: the region it uses, outcomes that
agree (exit code, `ok`, heading), a scope that never widens, times and paths checked first.

Errors AWS would return are answered on botocore's `before-call` event (as Stubber does), so
the command sees exactly the ClientError a real call would raise.
"""

import json
import os
from datetime import UTC, datetime, timedelta
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

    monkeypatch.setattr(tables, "scan", interrupt)
    monkeypatch.setattr("formkiq_backup.dr.drill.scan", interrupt)
    monkeypatch.setattr("formkiq_backup.dr.repair.scan", interrupt)
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
        puts.append(model.name)
        if len(puts) <= 2:
            return None
        error = {"Code": "AccessDeniedException", "Message": "not allowed"}
        return AWSResponse("https://dynamodb", 400, HTTPHeaders(), None), {"Error": error}

    hook_clients(monkeypatch, "before-call.dynamodb.PutItem", denied_after_two)
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
