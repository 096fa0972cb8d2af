"""`make preview`: an offline render a reviewer can trust, and a non-zero exit on bad config."""

import os
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
        "denies DeleteRecoveryPoint, UpdateRecoveryPointLifecycle, DeleteBackupVault* to "
        "everyone but arn:aws:iam::111122223333:role/BackupBreakGlass",
        "AWS/Backup NumberOfBackupJobsCompleted [BackupVaultName=formkiq-prod-backup-vault] "
        "Sum < 1 for 26 x 60 min; missing data = breaching",
        "opt-in: DynamoDB, S3; full management (advanced backup): DynamoDB",
        "rotation on; deletion window 30 d",
        "email to platform-oncall@example.com",
    ):
        assert expected in text, expected


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

    out = capsys.readouterr().out
    assert "stack 'broken' rejected: 0 resources registered" in out
    assert 'tier="gold": must be one of basic, standard, enhanced, enterprise' in out
    assert "dailyRetentionDays=0: must be 1..36500 days" in out


def test_missing_stack_file_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "nonexistent"]) == 1
    assert "no stack file Pulumi.nonexistent.yaml" in capsys.readouterr().out


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
