"""`make preview FORMAT=json`: a stable, documented document that `make review` reads."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from formkiq_backup.offline.document import FORMAT_VERSION, dumps, preview_document
from formkiq_backup.offline.preview import main
from tests.review_support import document, render
from tiers.definitions import Incident

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((PROJECT_DIR / "docs" / "preview.schema.json").read_text())


@pytest.mark.parametrize(("stack", "tier"), [("dev", None), ("prod", None), ("dr", None)])
def test_every_tier_renders_a_document_the_committed_schema_accepts(stack: str, tier: None) -> None:
    jsonschema.validate(document(stack, tier), SCHEMA)


def test_the_schema_rejects_a_field_it_does_not_declare_so_the_shape_cannot_drift() -> None:
    changed = document("prod")
    changed["resources"][0]["owner"] = "someone"
    with pytest.raises(jsonschema.ValidationError, match="owner"):
        jsonschema.validate(changed, SCHEMA)
    assert SCHEMA["properties"]["version"] == {"const": FORMAT_VERSION}


def test_the_document_is_byte_identical_across_processes_so_renders_diff_cleanly() -> None:
    outputs = []
    for seed in ("1", "2"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "formkiq_backup.offline.preview",
                "--stack",
                "dr",
                "--format",
                "json",
            ],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    parsed = json.loads(outputs[0])
    urns = [resource["urn"] for resource in parsed["resources"]]
    assert urns == sorted(urns)


def test_resources_carry_region_protect_retain_and_parsed_policies() -> None:
    doc = document("dr", "enhanced")
    by_name = {resource["name"]: resource for resource in doc["resources"]}
    vault = by_name["formkiq-prod-dr-backup-vault-vault"]
    assert (vault["region"], vault["protect"], vault["retainOnDelete"]) == ("us-west-2", True, True)
    assert vault["urn"].endswith(
        "EnhancedBackup$formkiq-backup:index:BackupVault$aws:backup/vault:Vault::"
        "formkiq-prod-dr-backup-vault-vault"
    )
    assert by_name["formkiq-prod-backup-plan-role"]["region"] == "global"
    policy = by_name["formkiq-prod-backup-vault-access-policy"]["inputs"]["policy"]
    assert policy["Statement"][0]["Effect"] == "Deny"
    plan = by_name["formkiq-prod-backup-plan-plan"]["inputs"]
    assert plan["rules"][0]["lifecycle"]["deleteAfter"] == 35  # an integer, not 35.0
    assert by_name["formkiq-prod-users-export-function"]["inputs"]["code"] == {
        "asset": "AssetArchive"
    }
    assert doc["counts"]["byType"]["aws:backup/vault:Vault"] == {
        "total": 2,
        "byRegion": {"us-east-1": 1, "us-west-2": 1},
    }


def test_effective_settings_merge_defaults_and_mark_what_the_tier_ignores() -> None:
    settings = {entry["key"]: entry for entry in document("dev")["settings"]}
    assert settings["remediatePosture"] == {
        "key": "remediatePosture",
        "value": True,
        "source": "stack",
        "ignored": None,
    }
    assert settings["dailyRetentionDays"]["value"] == 35
    assert settings["dailyRetentionDays"]["source"] == "default"
    assert (
        settings["dailyRetentionDays"]["ignored"]
        == "tier basic does not use it (tiers standard+ do)"
    )
    assert settings["restoreTesting.schedule"]["ignored"].startswith("tier basic does not use it")
    enhanced = {entry["key"]: entry for entry in document("dr", "enhanced")["settings"]}
    assert enhanced["audit.reportRetentionDays"]["ignored"] == "audit.enabled is false"
    assert enhanced["restoreTesting.enabled"]["ignored"] is None


def test_objectives_by_incident_never_read_slower_as_the_tier_goes_up() -> None:
    """Standard keeps PITR: its accidental-change and deleted-table answers are Basic's."""
    basic = document("dev")["objectives"]["byIncident"]
    standard = document("prod")["objectives"]["byIncident"]
    enhanced = document("dr", "enhanced")["objectives"]["byIncident"]
    enterprise = document("dr", "enterprise")["objectives"]["byIncident"]
    for incident in Incident:
        for lower, higher in ((basic, standard), (standard, enhanced), (enhanced, enterprise)):
            if lower[incident]["rtoMinutes"] is None:
                continue
            assert higher[incident]["rtoMinutes"]["max"] <= lower[incident]["rtoMinutes"]["max"]
            assert higher[incident]["rpoMinutes"] <= lower[incident]["rpoMinutes"]
    assert basic["purgedDocument"]["rpoMinutes"] is None
    assert standard["purgedDocument"]["rpo"] == "1 day"  # backupSchedule's longest gap
    assert enhanced["purgedDocument"]["rpo"] == "15 minutes"
    assert standard["primaryRegionLoss"]["note"].startswith("nothing is kept outside")
    assert enterprise["compromisedAccount"]["rpoMinutes"] is not None


def test_an_hourly_backup_schedule_shortens_the_rpo_it_sets() -> None:
    hourly = document("prod", backupSchedule="cron(0 * * * ? *)")
    assert hourly["objectives"]["byIncident"]["purgedDocument"]["rpo"] == "1 hour"


def test_costs_count_fixed_items_from_the_render_and_cite_dated_list_prices() -> None:
    doc = document("dr", "enhanced")
    costs = doc["costs"]
    types = [entry["type"] for entry in doc["resources"]]
    keys, alarms = (
        types.count("aws:kms/key:Key"),
        types.count("aws:cloudwatch/metricAlarm:MetricAlarm"),
    )
    fixed = {line["price"]: line for line in costs["fixed"]}
    assert keys and alarms
    assert fixed["kmsKey"]["quantity"] == keys
    assert fixed["kmsKey"]["monthly"] == keys * 1.0  # $1 a key a month (AWS KMS pricing)
    assert fixed["alarm"]["quantity"] == alarms
    assert fixed["dashboard"]["quantity"] == 1
    assert costs["asOf"] and costs["region"] == "us-east-1"
    assert all(line["source"].startswith("https://aws.amazon.com/") for line in costs["fixed"])
    rates = {line["item"]: line for line in costs["perGB"]}
    assert "35 daily" in rates["DynamoDB recovery points, warm"]["per"]
    assert "S3 Replication Time Control" in rates
    assert "S3 Replication Time Control" not in {
        line["item"] for line in document("prod")["costs"]["perGB"]
    }


def test_main_prints_the_document_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "prod", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(dumps(preview_document(render("prod"))))
