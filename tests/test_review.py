"""`make review`: what a config change does to the backups, data-loss risks first.

Real renders of the example stacks, enterprise included; hand-built table replicas, vault locks
and air-gapped vaults where a rule needs a change no example config makes (a lock loosened, a
replica region dropped).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from formkiq_backup.offline.document import preview_document
from formkiq_backup.offline.review import (
    ERROR,
    NO_RISK,
    RISKS_FOUND,
    Review,
    json_report,
    main,
    markdown_report,
    review,
    text_report,
)
from tests.review_support import (
    LOCK,
    TABLE_REPLICA,
    air_gapped,
    document,
    enterprise_run,
    lock,
    replica,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent


def kinds(result: Review) -> list[str]:
    return [risk.kind for risk in result.risks]


def risk_of(result: Review, name: str) -> str:
    return next(risk.message for risk in result.risks if risk.resource.endswith(" " + name))


@pytest.fixture(scope="module")
def downgrade() -> Review:
    return review(document("dr", "enhanced"), document("dr", "standard"))


def test_an_upgrade_matches_every_resource_through_the_tier_aliases_and_finds_no_risk() -> None:
    result = review(document("prod"), document("prod", "enhanced", drRegion="us-west-2"))
    assert result.risks == []
    assert result.exit_code == NO_RISK
    removed = [change for change in result.changes if change.action == "removed"]
    assert removed == []  # not remove-everything-add-everything under the new tier component
    added = {change.name for change in result.changes if change.action == "added"}
    assert "formkiq-prod-dr-backup-vault-vault" in added
    assert "formkiq-prod-backup-vault-vault" not in added


def test_enhanced_to_standard_lists_every_dr_data_holder_and_what_stops(downgrade: Review) -> None:
    assert downgrade.exit_code == RISKS_FOUND
    for name in (
        "formkiq-prod-dr-backup-vault-vault",
        "formkiq-prod-dr-backup-vault-key",
        "formkiq-prod-dr-documents-replica-bucket",
        "formkiq-prod-dr-exports-replica-key",
    ):
        message = risk_of(downgrade, name)
        assert "`pulumi up` stops here: the resource is protected" in message
        assert "then it stays in AWS, unmanaged" in message
    assert "every recovery point in it, billed" in risk_of(
        downgrade, "formkiq-prod-dr-backup-vault-vault"
    )
    assert not any(
        risk.resource.endswith(" formkiq-prod-dr-alerts-key") for risk in downgrade.risks
    )
    messages = " ".join(risk.message for risk in downgrade.risks)
    assert "replication of formkiq-core-prod-documents-111122223333 stops" in messages
    assert "rule daily: copies to arn:aws:backup:us-west-2:111122223333:backup-vault:" in messages
    assert "no DR region any more" in messages
    assert "alarms" in kinds(downgrade)
    # Data loss first: the blocked removals before replication, copies and alarms.
    assert kinds(downgrade) == sorted(
        kinds(downgrade),
        key=[
            "deleted",
            "replaced",
            "expires",
            "unmanaged",
            "blocked",
            "lock",
            "drRegion",
            "replication",
            "copies",
            "backups",
            "retention",
            "alarms",
            "protection",
        ].index,
    )


def test_a_shortened_retention_says_it_applies_to_new_recovery_points_only() -> None:
    result = review(
        document("dr", "enhanced"),
        document("dr", "enhanced", dailyRetentionDays=14, monthlyRetentionDays=200),
    )
    retention = [risk.message for risk in result.risks if risk.kind == "retention"]
    assert any("rule daily: recovery points kept 35 days -> 14 days" in m for m in retention)
    assert any(
        "rule monthly: copies in arn:aws:backup:us-west-2" in m and "400 days -> 200" in m
        for m in retention
    )
    assert all("applies to new recovery points only" in m for m in retention)
    changed = {change.name: change for change in result.changes if change.action == "changed"}
    plan = changed["formkiq-prod-backup-plan-plan"].settings
    assert ("rules[daily_kept_35_days].lifecycle.deleteAfter", 35, None) in plan
    assert ("rules[daily_kept_14_days].lifecycle.deleteAfter", None, 14) in plan


def test_a_shorter_export_retention_is_flagged_as_deleting_exports_already_kept() -> None:
    result = review(document("prod"), document("prod", exportRetentionDays=200))
    expires = [risk.message for risk in result.risks if risk.kind == "expires"]
    assert any(
        "formkiq-prod-exports-111122223333 dynamodb/: objects kept 365 days -> 200 days: S3 "
        "applies this to what is already in the bucket" in message
        for message in expires
    )


def test_a_new_dr_region_is_a_replacement_of_the_whole_dr_side() -> None:
    result = review(document("dr", "enhanced"), document("dr", "enhanced", drRegion="us-east-2"))
    assert result.risks[0].kind in ("blocked", "replaced")
    dr_region = next(risk.message for risk in result.risks if risk.kind == "drRegion")
    assert dr_region.startswith("drRegion us-west-2 -> us-east-2: the whole DR side is replaced")
    vault = risk_of(result, "formkiq-prod-dr-backup-vault-vault")
    assert 'REPLACED (region "us-west-2" -> "us-east-2", kmsKeyArn' in vault
    assert "`pulumi up` stops here" in vault


# --- enterprise resources, hand-built ---------------------------------------------------------


def with_resources(base: dict[str, Any], *entries: dict[str, Any]) -> dict[str, Any]:
    base["resources"] = sorted([*base["resources"], *entries], key=lambda e: e["urn"])
    return base


def test_a_removed_table_replica_is_a_risk_by_its_fate() -> None:
    before = with_resources(document("dr", "enhanced"), replica())
    retained = review(before, document("dr", "enhanced"))
    message = risk_of(retained, replica()["name"])
    assert "still part of the global table: it keeps receiving, and billing" in message
    unretained = replica() | {"protect": False, "retainOnDelete": False}
    deleted = review(
        with_resources(document("dr", "enhanced"), unretained), document("dr", "enhanced")
    )
    assert deleted.risks[0].kind == "deleted"
    assert "DELETED from AWS, with its a replica of a FormKiQ table" in deleted.risks[0].message


def test_a_replica_whose_key_changes_is_replaced_and_loses_its_items() -> None:
    old = replica() | {"protect": False, "retainOnDelete": False}
    new = replica() | {"protect": False, "retainOnDelete": False}
    new["inputs"] = old["inputs"] | {"kmsKeyArn": "arn:aws:kms:us-west-2:111122223333:key/new"}
    result = review(
        with_resources(document("dr", "enhanced"), old),
        with_resources(document("dr", "enhanced"), new),
    )
    assert result.risks[0].kind == "replaced"
    assert "REPLACED (kmsKeyArn null -> " in result.risks[0].message
    assert result.risks[0].resource == f"{TABLE_REPLICA} {old['name']}"


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ({"changeableForDays": None}, "compliance -> governance"),
        ({"maxRetentionDays": 400}, "maxRetentionDays 2555 -> 400"),
        ({"minRetentionDays": 1}, "minRetentionDays 7 -> 1"),
    ],
)
def test_a_lock_whose_mode_or_bounds_change_is_a_risk(after: dict[str, Any], expected: str) -> None:
    vault = "formkiq-prod-backup-vault"
    old = lock(vault)
    new = lock(vault)
    new["inputs"] = {k: v for k, v in (old["inputs"] | after).items() if v is not None}
    result = review(
        with_resources(document("dr", "enhanced"), old),
        with_resources(document("dr", "enhanced"), new),
    )
    messages = [risk.message for risk in result.risks if risk.kind == "lock"]
    assert len(messages) == 1
    assert expected in messages[0]


def test_a_removed_lock_and_a_removed_air_gapped_vault_are_both_listed() -> None:
    before = with_resources(
        document("dr", "enhanced"), lock("formkiq-prod-dr-backup-vault"), air_gapped()
    )
    result = review(before, document("dr", "enhanced"))
    lock_risk = next(risk for risk in result.risks if risk.kind == "lock")
    assert lock_risk.resource == f"{LOCK} formkiq-prod-dr-backup-vault-lock"
    assert "(compliance) removed" in lock_risk.message
    assert "the air-gapped vault and its recovery points" in risk_of(
        result, "formkiq-prod-air-gapped-vault"
    )


def test_an_air_gapped_vault_with_new_bounds_is_replaced() -> None:
    result = review(
        with_resources(document("dr", "enhanced"), air_gapped(maximum=2555)),
        with_resources(document("dr", "enhanced"), air_gapped(maximum=3650)),
    )
    assert "REPLACED (maxRetentionDays 2555 -> 3650)" in risk_of(
        result, "formkiq-prod-air-gapped-vault"
    )


# --- output ---------------------------------------------------------------------------------


def test_markdown_puts_risks_first_and_draws_the_dr_topology(downgrade: Review) -> None:
    text = markdown_report(downgrade)
    assert (
        text.index("data-loss risk") < text.index("### DR topology") < text.index("### Resources")
    )
    assert "```mermaid\nflowchart LR" in text
    assert 'subgraph region1["us-west-2 (DR)"]' in text
    assert re.search(r'-- "copy: daily_kept_35_days" -->', text)
    assert '== "replication + RTC" ==>' in text


def test_text_and_json_reports_agree_on_the_risks(downgrade: Review) -> None:
    report = json_report(downgrade)
    assert report["exitCode"] == RISKS_FOUND
    assert len(report["risks"]) == len(downgrade.risks)
    text = text_report(downgrade)
    assert f"!!! {len(downgrade.risks)} DATA-LOSS RISKS" in text
    assert text.index("DATA-LOSS RISKS") < text.index("Resources:")


def test_main_exits_0_1_or_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "dr.json"
    saved.write_text(__import__("json").dumps(document("dr", "enhanced")))
    assert main(["--from", str(saved), "--to", str(saved)]) == NO_RISK
    assert "No data-loss risk found." in capsys.readouterr().out
    assert main(["--from", str(saved), "--to", "dr:standard", "--format", "json"]) == RISKS_FOUND
    assert main(["--from", "nonexistent", "--to", "dr"]) == ERROR
    assert "no stack file Pulumi.nonexistent.yaml" in capsys.readouterr().err
    assert main(["--from", "dr:gold", "--to", "dr"]) == ERROR
    assert "tier 'gold' must be one of" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_review_reports_risks_as_the_commands_exit_1() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(
        ["make", "review", "FROM=dr", "TO=dr:standard", "FORMAT=markdown"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2  # make's own code for any failure
    assert re.search(r"make: \*\*\* \[Makefile:\d+: review\] Error 1", result.stderr)
    assert result.stdout.startswith("## formkiq-backup review: `dr (enterprise)`")


# --- enterprise renders -----------------------------------------------------------------------


def test_enterprise_to_standard_lists_replicas_locks_and_the_air_gapped_vault() -> None:
    enterprise = preview_document(enterprise_run())
    result = review(enterprise, document("dr", "standard"))
    types = {risk.resource.split()[0] for risk in result.risks if risk.resource}
    assert TABLE_REPLICA in types
    assert LOCK in types
    assert "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault" in types
    assert "replication" in kinds(result) and "copies" in kinds(result)
    assert result.exit_code == RISKS_FOUND


def test_enterprise_with_another_dr_region_replaces_the_dr_side_and_leaves_its_replicas() -> None:
    """A replica is named by its region: the old region's replicas are removed from the stack (a
    new one is added in the new region), blocked while protected, then left in the global table,
    still receiving writes; the vaults, keys and replica buckets are replaced, empty."""
    enterprise_run()
    before = document("dr", "enterprise")
    after = document("dr", "enterprise", drRegion="us-east-2")
    result = review(before, after)
    assert any(risk.kind == "drRegion" for risk in result.risks)
    replicas = [
        risk
        for risk in result.risks
        if risk.kind == "blocked" and risk.resource.startswith(TABLE_REPLICA)
    ]
    assert sorted(risk.resource.split()[1] for risk in replicas) == [
        "formkiq-prod-table-replicas-documents-us-west-2",
        "formkiq-prod-table-replicas-documentsyncs-us-west-2",
    ]
    assert all("still part of the global table" in risk.message for risk in replicas)
    assert 'REPLACED (region "us-west-2" -> "us-east-2"' in risk_of(
        result, "formkiq-prod-dr-air-gapped-vault-vault"
    )
    assert result.exit_code == RISKS_FOUND


# --- protection taken away without removing a data holder -----------------------------------


def resource_named(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in doc["resources"] if entry["name"] == name)


def protection_risks(result: Review) -> dict[str, str]:
    return {
        risk.resource.split()[1]: risk.message for risk in result.risks if risk.kind == "protection"
    }


def test_a_vault_policy_that_stops_denying_deletion_is_a_risk() -> None:
    after = document("dr", "enhanced")
    policy = resource_named(after, "formkiq-prod-backup-vault-access-policy")
    policy["inputs"]["policy"]["Statement"] = []
    result = review(document("dr", "enhanced"), after)

    message = protection_risks(result)["formkiq-prod-backup-vault-access-policy"]
    assert message.startswith("the policy no longer denies ")
    assert "backup:DeleteRecoveryPoint" in message
    assert result.exit_code == RISKS_FOUND


def test_a_vault_policy_deleted_with_its_resource_is_a_risk_and_a_retained_one_is_not() -> None:
    name = "formkiq-prod-backup-vault-access-policy"
    retained = document("dr", "enhanced")
    after = document("dr", "enhanced")
    after["resources"] = [entry for entry in after["resources"] if entry["name"] != name]
    assert name not in protection_risks(review(retained, after))

    unretained = document("dr", "enhanced")
    resource_named(unretained, name)["retainOnDelete"] = False
    message = protection_risks(review(unretained, after))[name]
    assert message.startswith("policy deleted: it denied ")
    assert "backup:DeleteRecoveryPoint" in message


def test_suspended_versioning_is_a_risk() -> None:
    after = document("dr", "enhanced")
    versioning = resource_named(after, "formkiq-prod-exports-versioning")
    versioning["inputs"]["versioningConfiguration"]["status"] = "Suspended"
    result = review(document("dr", "enhanced"), after)

    assert protection_risks(result)["formkiq-prod-exports-versioning"] == (
        "versioning of formkiq-prod-exports-111122223333 Enabled -> Suspended: overwrites and "
        "deletes keep no previous version, and replication stops"
    )
    assert result.exit_code == RISKS_FOUND


def test_a_replica_losing_pitr_or_deletion_protection_is_a_risk() -> None:
    enterprise_run()
    after = document("dr", "enterprise")
    name = "formkiq-prod-table-replicas-documents-us-west-2"
    resource_named(after, name)["inputs"] |= {
        "pointInTimeRecovery": False,
        "deletionProtectionEnabled": False,
    }
    result = review(document("dr", "enterprise"), after)

    messages = [
        risk.message for risk in result.risks if risk.kind == "protection" and name in risk.resource
    ]
    assert messages == [
        "PITR off on the replica: its restorable history is dropped",
        "deletion protection off: the replica can be deleted",
    ]
