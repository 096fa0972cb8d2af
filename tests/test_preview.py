"""`make preview`: an offline render a reviewer can trust, and a non-zero exit on bad config."""

import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from formkiq_backup.console import SAVED_WIDTH, output_console
from formkiq_backup.offline.preview import main, render
from formkiq_backup.offline.program import run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent
README = (PROJECT_DIR / "README.md").read_text()


def rendered(stack: str, **kwargs: object) -> str:
    console = Console(record=True, width=200, color_system=None)
    render(run_program(stack, **kwargs), console)  # type: ignore[arg-type]
    return console.export_text()


def preview_process(**env: str) -> subprocess.CompletedProcess[str]:
    """The offline render of stack prod in a process of its own, as `make preview` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "formkiq_backup.offline.preview", "--stack", "prod"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**{k: v for k, v in os.environ.items() if k != "COLUMNS"}, **env},
    )


def test_render_is_labelled_offline_and_not_a_pulumi_preview() -> None:
    text = rendered("prod")
    assert "OFFLINE RENDER of stack 'prod' (not a pulumi preview)" in text
    assert "No AWS account and no Pulumi engine were involved" in text
    assert "sample FormKiQ Core 1.19.0" in text


def test_render_shows_the_component_tree_and_key_settings() -> None:
    text = rendered("prod")
    for expected in (
        "BackupVault formkiq-prod-backup-vault",
        "backup.Vault formkiq-prod-backup-vault-vault protect retain",
        "daily_kept_35_days: cron(0 5 * * ? *) UTC, start 60 min, complete 180 min, "
        "delete after 35 d",
        "monthly_kept_400_days: cron(0 5 1 * ? *) UTC",
        "cold after 90 d",
        "denies DeleteRecoveryPoint, UpdateRecoveryPointLifecycle, PutBackupVaultAccessPolicy, "
        "DeleteBackupVaultAccessPolicy, DeleteBackupVaultNotifications, ",
        "DeleteBackupVault to everyone but arn:aws:iam::111122223333:role/BackupBreakGlass; "
        "a change to this policy must be applied by a break-glass role",
        "AWS/Backup NumberOfBackupJobsCompleted [BackupVaultName=formkiq-prod-backup-vault, "
        "ResourceType=S3] Sum < 1 for 26 x 60 min; missing data = breaching",
        "AWS/Events FailedInvocations [RuleName=formkiq-prod-job-failures] Sum >= 1 for 1 x 5 "
        "min; missing data = notBreaching",
        "publish: cloudwatch (this account only); backup (no condition, as AWS documents); "
        "events (no condition, as AWS documents); TLS required",
        "opt-in: DynamoDB, S3; full management (advanced backup): DynamoDB",
        "rotation on; deletion window 30 d",
        "email to platform-oncall@example.com",
    ):
        assert expected in text, expected


def test_render_puts_the_tiers_component_above_every_capability() -> None:
    text = rendered("prod")
    assert "stack formkiq-backup-prod\n└── StandardBackup prod\n    ├── NotificationTopic " in text
    assert "\n    │   ├── kms.Key formkiq-prod-alerts-key" in text
    # A component's components sit under it (the export monitor's scheduled job).
    assert (
        "    ├── ExportMonitor formkiq-prod-export-monitor\n"
        "    │   ├── ScheduledFunction formkiq-prod-export-monitor-job\n"
    ) in text
    # The dashboard, built from what every capability contributed, comes last.
    assert "    └── Dashboard formkiq-prod-dashboard\n" in text


def test_render_shows_outputs_objectives_and_what_is_left_out() -> None:
    text = rendered("prod", version="1.17.1")
    assert "backupVaultArn" in text
    assert "arn:aws:backup:us-east-1:111122223333:backup-vault:formkiq-prod-backup-vault" in text
    assert "Recovery objectives of tier 'standard'" in text
    assert "passwords cannot be exported" in text
    assert "table formkiq-core-prod-webconnections" in text
    assert "no: ephemeral websocket connections" in text


def test_render_is_identical_across_processes_so_reviewers_can_diff_it() -> None:
    """Engine inputs arrive as protobuf maps whose order varies between processes."""
    outputs = []
    for seed in ("1", "2", "3"):
        result = preview_process(PYTHONHASHSEED=seed, COLUMNS="200")
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] == outputs[2]


def test_main_exits_zero_for_a_valid_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev"]) == 0
    assert "OFFLINE RENDER of stack 'dev'" in capsys.readouterr().out


def test_bad_config_prints_every_problem_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / "Pulumi.broken.yaml").write_text(
        "config:\n"
        "  aws:region: us-east-1\n"
        "  formkiq-backup:tier: gold\n"
        "  formkiq-backup:appEnvironment: prod\n"
        "  formkiq-backup:dailyRetentionDays: 0\n"
    )

    assert main(["--stack", "broken", "--project-dir", str(tmp_path)]) == 1

    captured = capsys.readouterr()
    out = captured.err  # problems to stderr, the render alone to stdout
    assert captured.out == ""
    assert "stack 'broken' rejected: 0 resources registered" in out
    assert 'tier="gold": must be one of basic, standard, enhanced, enterprise' in out
    assert "dailyRetentionDays=0: must be 1..36500 days" in out


def test_missing_stack_file_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "nonexistent"]) == 1
    captured = capsys.readouterr()
    assert "no stack file Pulumi.nonexistent.yaml" in captured.err
    assert captured.out == ""


def test_preview_runs_as_the_makefile_runs_it() -> None:
    """`make preview` runs this module as a program: it must work outside pytest too."""
    result = preview_process()
    assert result.returncode == 0, result.stderr
    assert "OFFLINE RENDER of stack 'prod'" in result.stdout


def test_a_saved_render_keeps_resource_names_whole() -> None:
    """Piped to a file for review: a fixed, wide layout, names never broken across lines."""
    result = preview_process()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert any("│ bucket formkiq-core-prod-documents-111122223333 │" in line for line in lines)
    assert any(line.startswith("│ documentMetadata ") for line in lines)


def test_saved_output_has_a_fixed_width_unless_columns_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shared by `make preview`, `make demo` and formkiq-dr's summaries (stdout is not a
    terminal under pytest)."""
    monkeypatch.delenv("COLUMNS", raising=False)
    assert output_console().width == SAVED_WIDTH == 120
    monkeypatch.setenv("COLUMNS", "90")
    assert output_console().width == 90


def broken_project(tmp_path: Path, text: str, stack: str = "broken") -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def test_rules_with_brackets_print_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Console markup must not eat FormKiQ's pattern `[a-zA-Z0-9_.-/]`."""
    monkeypatch.setenv("COLUMNS", "300")  # one problem, one line
    project = broken_project(
        tmp_path,
        "config:\n  aws:region: us-east-1\n  formkiq-backup:tier: basic\n"
        '  formkiq-backup:appEnvironment: "prod [env]"\n',
    )
    assert main(["--stack", "broken", "--project-dir", str(project)]) == 1
    captured = capsys.readouterr()
    out = captured.err  # problems to stderr, the render alone to stdout
    assert captured.out == ""
    assert 'appEnvironment="prod [env]"' in out
    assert "AppEnvironment pattern [a-zA-Z0-9_.-/]+" in out


def test_nulls_show_as_null_and_missing_keys_as_not_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one problem, one line
    project = broken_project(
        tmp_path, "config:\n  aws:region: us-east-1\n  formkiq-backup:tier: ~\n"
    )
    assert main(["--stack", "broken", "--project-dir", str(project)]) == 1
    captured = capsys.readouterr()
    out = captured.err  # problems to stderr, the render alone to stdout
    assert captured.out == ""
    assert "formkiq-backup:tier=null: is null" in out
    assert "appEnvironment=(not set): is required" in out
    assert "None" not in out
    assert '""' not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n  aws:region: [us-east-1\n", "Pulumi.broken.yaml, line 3: not valid YAML"),
        ("config:\n  - aws:region\n", "config must be a mapping of key: value, not a list"),
        (
            "config:\n  aws:region: us-east-1\n  aws:region: us-west-2\n",
            "key aws:region is given twice (first on line 2)",
        ),
    ],
)
def test_an_unreadable_stack_file_is_one_clear_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    project = broken_project(tmp_path, text)
    assert main(["--stack", "broken", "--project-dir", str(project)]) == 1
    captured = capsys.readouterr()
    assert expected in captured.err
    assert captured.out == ""
    assert "Traceback" not in captured.out + captured.err


def test_warnings_are_printed_above_the_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one problem, one line
    project = broken_project(
        tmp_path,
        "config:\n  aws:region: us-east-1\n  formkiq-backup:tier: basic\n"
        "  formkiq-backup:appEnvironment: prod\n"
        "  formkiq-backup:backupSchedule: cron(0 6 * * ? *)\n",
        stack="questionable",
    )
    assert main(["--stack", "questionable", "--project-dir", str(project)]) == 0
    out = capsys.readouterr().out
    assert "1 warning" in out
    assert 'backupSchedule="cron(0 6 * * ? *)": tier basic ignores it' in out
    assert out.index("1 warning") < out.index("FormKiQ 1.19.0 data found")


def test_a_run_leaves_no_event_loop_open() -> None:
    """Pulumi's mocks give each executor thread an event loop; one left open is finalized at
    interpreter exit after its self-pipe ("Exception ignored ... Invalid file descriptor")."""

    def open_loops() -> set[int]:
        gc.collect()
        return {
            id(o)
            for o in gc.get_objects()
            if isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed()
        }

    before = open_loops()
    run_program("prod")
    assert open_loops() - before == set()


def test_valid_renders_exit_with_nothing_on_stderr() -> None:
    """Run after run, as a reviewer would: no traceback at interpreter exit, ever."""
    for stack in ("prod", "dev", "prod", "dev"):
        result = subprocess.run(
            [sys.executable, "-m", "formkiq_backup.offline.preview", "--stack", stack],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", result.stderr


def top_level_make_environment() -> dict[str, str]:
    """As a user's shell runs make: under `make test` the tests inherit MAKELEVEL, and a nested
    make announces its directory on stdout, which a user's `make preview` never does."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    }


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_preview_puts_only_the_render_on_stdout() -> None:
    result = subprocess.run(
        ["make", "preview", "STACK=prod"],
        cwd=PROJECT_DIR,
        env=top_level_make_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("╭"), result.stdout[:200]
    assert "formkiq_backup.offline.preview" not in result.stdout
    assert "make" not in result.stdout.split("\n", 1)[0]


def make(command: str) -> subprocess.CompletedProcess[str]:
    """`command` as a user's shell runs it, in the project directory."""
    return subprocess.run(
        command,
        shell=True,
        cwd=PROJECT_DIR,
        env=top_level_make_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_preview_of_a_rejected_stack_exits_2_as_the_readme_says() -> None:
    result = make("make preview STACK=nonexistent")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "no stack file Pulumi.nonexistent.yaml" in result.stderr
    assert re.search(r"make: \*\*\* \[Makefile:\d+: preview\] Error 1", result.stderr)
    assert "make: *** [Makefile:NN: preview] Error 1" in README


def test_a_render_spells_absent_values_null_never_none() -> None:
    text = rendered("prod")
    assert "None" not in text
    assert re.search(r"│ drRegion +│ null +│", text)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_a_saved_review_of_a_missing_stack_stays_empty_and_the_terminal_says_why(
    tmp_path: Path,
) -> None:
    """`make preview STACK=x > review.txt`, typed in a shell: the file gets the render alone,
    so a rejection must reach the terminal (stderr), not the file."""
    review = tmp_path / "review.txt"
    result = make(f"make preview STACK=nonexistent > {review}")

    assert result.returncode == 2
    assert review.read_text() == ""
    assert "no stack file Pulumi.nonexistent.yaml" in result.stderr


def test_a_saved_review_of_a_rejected_stack_stays_empty_and_the_terminal_lists_every_problem(
    tmp_path: Path,
) -> None:
    project = broken_project(
        tmp_path,
        "formkiq-backup:tier: standard\nconfig:\n  aws:region: us-east-1\n"
        "  formkiq-backup:appEnvironment: prod\n"
        "  formkiq-backup:notificationEmails:\n    - mailto:ops@example.com\n",
    )
    review = tmp_path / "review.txt"
    result = subprocess.run(
        f"{sys.executable} -m formkiq_backup.offline.preview --stack broken "
        f"--project-dir {project} > {review}",
        shell=True,
        cwd=PROJECT_DIR,
        env={**os.environ, "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert review.read_text() == ""
    assert "stack 'broken' rejected" in result.stderr
    assert 'formkiq-backup:tier="standard": is at the top level of Pulumi.broken.yaml' in (
        result.stderr
    )
    assert 'notificationEmails="mailto:ops@example.com": is a mailto: link' in result.stderr


@pytest.fixture(scope="module")
def dr_render() -> str:
    """The example stack (enterprise, with a DR region), rendered once for the tests below."""
    return rendered("dr")


def test_the_dr_stack_shows_each_dr_resource_in_its_region(dr_render: str) -> None:
    lines = dr_render.splitlines()

    def line(fragment: str) -> str:
        return next(text for text in lines if fragment in text)

    assert "in us-west-2" in line("backup.Vault formkiq-prod-dr-backup-vault-vault protect retain")
    assert "in us-west-2" in line("s3.Bucket formkiq-prod-dr-documents-replica-bucket protect")
    assert "in us-west-2" in line(
        "formkiq-prod-dr-documents-replication-alarms-replication-latency"
    )
    # Published in the source region: no region of its own.
    assert "in us-" not in line("documents-replication-alarms-operations-failed-replication")
    assert "in us-" not in line(
        "s3.BucketReplicationConfig formkiq-prod-documents-replication-config"
    )
    assert "copy to formkiq-prod-dr-backup-vault-vault (us-west-2), delete after 400 d, cold " in (
        dr_render
    )


def test_the_dr_stack_says_what_changes_on_formkiqs_bucket_and_never_claims_kms_replicas(
    dr_render: str,
) -> None:
    flat = " ".join(dr_render.split())
    for expected in (
        "REPLACES the bucket's whole replication configuration",
        "delete markers Enabled; RTC Enabled 15 min with metrics Enabled",
        "replicas of SSE-S3 objects stay SSE-S3",
        "if a FormKiQ template ever sets its own, ours is gone",
        "NOT replicated by the rule: run `formkiq-dr replicate-existing --wait`",
        "Changing drRegion (now us-west-2) REPLACES the DR side",
    ):
        assert expected in flat, expected
    assert "replicas are encrypted with" not in flat.lower()
    assert "SSE-KMS replicas" not in flat


def test_a_single_region_stack_shows_no_outside_changes_panel() -> None:
    assert "What changes outside this stack's own resources" not in rendered("prod")
