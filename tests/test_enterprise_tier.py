"""The Enterprise tier (Pulumi.dr.yaml) against a sample FormKiQ: global table replicas, locked
vaults, a logically air-gapped vault and the yearly rule, each with its region, and what a
config change keeps.

Each render of the program is shared by the tests of this module (module-scoped fixtures): a
run takes seconds, the assertions on it none.
"""

import json
from io import StringIO
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from rich.console import Console

from components.air_gapped_vault import AirGappedVaultArgs
from components.table_replicas import ReplicatedTable, TableReplicasArgs
from components.vault_lock import LockMode, VaultLockArgs
from formkiq_backup import aws_rules
from formkiq_backup.offline.changes import removal_plan
from formkiq_backup.offline.mocks import RegisteredResource
from formkiq_backup.offline.preview import render
from formkiq_backup.offline.program import ProgramRun, run_program
from tests.test_config_validation import assert_refused_before_anything

PRIMARY, DR_REGION, MORE_REGION = "us-east-1", "us-west-2", "eu-west-1"
ACCOUNT = "111122223333"
RECOVERY_ACCOUNT = "444455556666"
TABLES = ("formkiq-core-prod-documents", "formkiq-core-prod-documentsyncs")
BUCKET = f"formkiq-core-prod-documents-{ACCOUNT}"
DR_VAULT_ARN = f"arn:aws:backup:{DR_REGION}:{ACCOUNT}:backup-vault:formkiq-prod-dr-backup-vault"
AIR_GAPPED_ARN = f"arn:aws:backup:{DR_REGION}:{ACCOUNT}:backup-vault:formkiq-prod-dr-airgap-vault"
REPLICA = "aws:dynamodb/tableReplica:TableReplica"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
LOCKS = {"formkiq-prod-vault-lock-lock": None, "formkiq-prod-dr-vault-lock-lock": DR_REGION}
AIR_GAPPED_VAULT = "formkiq-prod-dr-air-gapped-vault-vault"
# What holds enterprise data, or guards it: never deleted by a config change.
LABELS = ("documents", "documentsyncs")
ENTERPRISE_HOLDERS = {
    *(f"formkiq-prod-table-replicas-{t}-{r}" for t in LABELS for r in (DR_REGION, MORE_REGION)),
    *LOCKS,
    AIR_GAPPED_VAULT,
}


def run_enterprise(raise_errors: bool = True, **overrides: object) -> ProgramRun:
    """Pulumi.dr.yaml with a second replica region."""
    return run_program(
        "dr", overrides={"replicaRegions": [MORE_REGION], **overrides}, raise_errors=raise_errors
    )


@pytest.fixture(scope="module")
def enterprise() -> ProgramRun:
    return run_enterprise()


@pytest.fixture(scope="module")
def unprotected() -> ProgramRun:
    return run_enterprise(protectBackups=False)


def _replicas(run: ProgramRun) -> dict[tuple[str, str], RegisteredResource]:
    """Each replica by (table name, region)."""
    return {
        (r.inputs["globalTableArn"].rsplit("/", 1)[-1], r.inputs["region"]): r
        for r in run.of_type(REPLICA)
    }


def _rules(plan: RegisteredResource) -> dict[str, dict[str, Any]]:
    return {rule["ruleName"]: rule for rule in plan.inputs["rules"]}


# --- where everything is ------------------------------------------------------------------


def test_every_enterprise_resource_is_sent_its_region(enterprise: ProgramRun) -> None:
    assert {key[1] for key in _replicas(enterprise)} == {DR_REGION, MORE_REGION}
    for name, region in LOCKS.items():
        assert enterprise.named(name).inputs.get("region") == region, name
    assert enterprise.one(AIR_GAPPED).inputs["region"] == DR_REGION
    for kind in (
        "resourceShare:ResourceShare",
        "resourceAssociation:ResourceAssociation",
        "principalAssociation:PrincipalAssociation",
    ):
        assert enterprise.one(f"aws:ram/{kind}").inputs["region"] == DR_REGION, kind
    # ReplicationLatency is published in the source region: the alarms are there, no region.
    latency = [
        alarm
        for alarm in enterprise.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if alarm.inputs.get("metricName") == "ReplicationLatency"
        and alarm.inputs.get("namespace") == "AWS/DynamoDB"
    ]
    assert len(latency) == 4
    assert all("region" not in alarm.inputs for alarm in latency)


# --- global table replicas ------------------------------------------------------------------


def test_replicas_are_of_documents_and_documentsyncs_in_dr_region_and_replica_regions(
    enterprise: ProgramRun,
) -> None:
    assert set(_replicas(enterprise)) == {
        (table, region) for table in TABLES for region in (DR_REGION, MORE_REGION)
    }
    for (table, _), replica in _replicas(enterprise).items():
        assert replica.inputs["globalTableArn"] == (
            f"arn:aws:dynamodb:{PRIMARY}:{ACCOUNT}:table/{table}"
        )
    assert enterprise.outputs["tableReplicas"] == {
        table: [DR_REGION, MORE_REGION] for table in TABLES
    }
    assert enterprise.outputs["verifyExpectations"]["globalTableReplicaRegions"] == [
        DR_REGION,
        MORE_REGION,
    ]


def test_no_replica_of_the_cache_or_websocket_tables() -> None:
    """FormKiQ 1.15 still has the websocket table; neither it nor the cache table (no stream,
    TTL-only data) gets a replica."""
    run = run_program("dr", version="1.15.0")
    every_table = {table.name for table in run.sample.tables}

    assert "formkiq-core-prod-webconnections" in every_table
    assert "formkiq-core-prod-cache" in every_table
    assert {key[0] for key in _replicas(run)} == set(TABLES)


def test_each_replica_has_pitr_and_deletion_protection_and_the_tables_own_key(
    enterprise: ProgramRun,
) -> None:
    for key, replica in _replicas(enterprise).items():
        assert replica.inputs["pointInTimeRecovery"] is True, key
        assert replica.inputs["deletionProtectionEnabled"] is True, key
        # A key or class given would force a new replica, deleting its items.
        assert "kmsKeyArn" not in replica.inputs, key
        assert "tableClassOverride" not in replica.inputs, key
        assert replica.inputs["tags"] == {
            "ManagedBy": "formkiq-backup",
            "FormKiQAppEnvironment": "prod",
        }


def test_replicas_of_one_table_are_added_one_after_the_other(enterprise: ProgramRun) -> None:
    """DynamoDB adds one replica per UpdateTable call."""
    replicas = _replicas(enterprise)
    for table in TABLES:
        first, second = replicas[(table, DR_REGION)], replicas[(table, MORE_REGION)]
        assert first.urn in second.dependencies
        assert second.urn not in first.dependencies


def test_replica_creation_may_take_hours_and_the_replica_is_never_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The options Pulumi is given for each replica (mocks do not record timeouts)."""
    seen: list[pulumi.ResourceOptions] = []

    class Recording(aws.dynamodb.TableReplica):
        def __init__(self, name: str, opts: pulumi.ResourceOptions, **kwargs: Any) -> None:
            seen.append(opts)
            super().__init__(name, opts=opts, **kwargs)

    # components/table_replicas.py reads `aws.dynamodb.TableReplica` when it builds.
    monkeypatch.setattr(aws.dynamodb, "TableReplica", Recording)
    run_program("dr")

    assert len(seen) == 2
    for opts in seen:
        assert opts.custom_timeouts is not None
        assert opts.custom_timeouts.create == "12h"
        assert (opts.protect, opts.retain_on_delete) == (True, True)


def test_a_latency_alarm_per_table_and_receiving_region_notifies_the_primary_topic(
    enterprise: ProgramRun,
) -> None:
    topic = enterprise.outputs["alarmTopicArn"]
    for table, label in zip(TABLES, LABELS, strict=True):
        for region in (DR_REGION, MORE_REGION):
            alarm = enterprise.named(f"formkiq-prod-table-replicas-{label}-latency-{region}")
            inputs = alarm.inputs
            assert (inputs["namespace"], inputs["metricName"]) == (
                "AWS/DynamoDB",
                "ReplicationLatency",
            )
            assert inputs["dimensions"] == {"TableName": table, "ReceivingRegion": region}
            # The tier's 1-minute RPO, in milliseconds, for five minutes.
            assert (inputs["threshold"], inputs["evaluationPeriods"]) == (60000, 5)
            assert inputs["treatMissingData"] == "notBreaching"  # an idle table publishes none
            assert inputs["alarmActions"] == [topic]


# --- vault locks ------------------------------------------------------------------------------


def test_both_vaults_are_locked_in_governance_mode_from_7_days_to_the_longest_rule(
    enterprise: ProgramRun,
) -> None:
    for name in LOCKS:
        lock = enterprise.named(name).inputs
        assert (lock["minRetentionDays"], lock["maxRetentionDays"]) == (7, 2555), name
        assert "changeableForDays" not in lock, name  # omitted: governance mode
    assert enterprise.named("formkiq-prod-vault-lock-lock").inputs["backupVaultName"] == (
        "formkiq-prod-backup-vault"
    )
    assert enterprise.named("formkiq-prod-dr-vault-lock-lock").inputs["backupVaultName"] == (
        "formkiq-prod-dr-backup-vault"
    )
    locks = enterprise.outputs["vaultLocks"]
    assert locks["formkiq-prod-backup-vault"] == {
        "region": PRIMARY,
        "mode": "governance",
        "minRetentionDays": 7,
        "maxRetentionDays": 2555,
        "changeableForDays": None,
    }
    assert locks["formkiq-prod-dr-backup-vault"]["region"] == DR_REGION
    # The air-gapped vault's lock is AWS's own, in compliance mode, with its creation bounds.
    assert locks["formkiq-prod-dr-airgap-vault"]["mode"] == "compliance"
    # verify expects both vaults locked.
    vaults = enterprise.outputs["verifyExpectations"]["vaults"]
    assert [(v["name"], v["locked"]) for v in vaults] == [
        ("formkiq-prod-backup-vault", True),
        ("formkiq-prod-dr-backup-vault", True),
    ]


def test_a_compliance_lock_is_sent_its_grace_period_once_acknowledged() -> None:
    run = run_enterprise(
        vaultLock={
            "mode": "compliance",
            "acknowledgeIrreversible": True,
            "changeableForDays": 5,
            "minRetentionDays": 30,
        }
    )

    for name in LOCKS:
        lock = run.named(name).inputs
        assert (lock["changeableForDays"], lock["minRetentionDays"]) == (5, 30)
    assert run.outputs["vaultLocks"]["formkiq-prod-backup-vault"]["mode"] == "compliance"
    out = StringIO()
    render(run, Console(file=out, width=120, color_system=None))
    said = " ".join(out.getvalue().replace("│", " ").split())
    assert "COMPLIANCE lock on formkiq-prod-backup-vault-vault, retention 30..2555 days" in said
    assert "after changeableForDays they can never be changed or removed, by anyone" in said


# --- the yearly rule and the copies -----------------------------------------------------------


def test_the_yearly_rule_keeps_seven_years_the_tables_points_cold_after_90_days(
    enterprise: ProgramRun,
) -> None:
    tables_plan = enterprise.named("formkiq-prod-backup-plan-plan")
    yearly = _rules(tables_plan)["yearly_kept_2555_days"]

    assert yearly["schedule"] == "cron(0 5 1 1 ? *)"  # the 1st of January, the daily time
    assert yearly["lifecycle"] == {"deleteAfter": 2555, "coldStorageAfter": 90}
    # Copied to the DR vault with the same lifecycle; the tables are not copied air-gapped.
    assert yearly["copyActions"] == [
        {"destinationVaultArn": DR_VAULT_ARN, "lifecycle": yearly["lifecycle"]}
    ]
    selection = enterprise.named("formkiq-prod-backup-plan-selection").inputs["resources"]
    assert sorted(arn.rsplit("/", 1)[-1] for arn in selection) == list(TABLES)


def test_the_buckets_plan_keeps_every_point_warm_and_copies_it_air_gapped_too(
    enterprise: ProgramRun,
) -> None:
    """S3 backups have no cold tier in a plan's lifecycle, and the air-gapped vault takes S3."""
    plan = enterprise.named("formkiq-prod-documents-plan-plan")
    selection = enterprise.named("formkiq-prod-documents-plan-selection").inputs

    assert selection["resources"] == [f"arn:aws:s3:::{BUCKET}"]
    assert plan.inputs["name"] == "formkiq-prod-documents-plan"
    for name, days in (
        ("daily_kept_35_days", 35),
        ("monthly_kept_400_days", 400),
        ("yearly_kept_2555_days", 2555),
    ):
        rule = _rules(plan)[name]
        assert rule["lifecycle"] == {"deleteAfter": days}, name
        assert rule["copyActions"] == [
            {"destinationVaultArn": DR_VAULT_ARN, "lifecycle": {"deleteAfter": days}},
            {"destinationVaultArn": AIR_GAPPED_ARN, "lifecycle": {"deleteAfter": days}},
        ], name
    # Both plans run as one service role, the one the DR key grants.
    role = enterprise.named("formkiq-prod-backup-plan-role").state["arn"]
    assert selection["iamRoleArn"] == role


def test_with_copy_tables_one_plan_copies_every_resource_air_gapped() -> None:
    run = run_enterprise(airGappedVault={"copyTables": True})

    assert [p.name for p in run.of_type("aws:backup/plan:Plan")] == [
        "formkiq-prod-backup-plan-plan"
    ]
    selection = run.named("formkiq-prod-backup-plan-selection").inputs["resources"]
    assert len(selection) == 3
    yearly = _rules(run.named("formkiq-prod-backup-plan-plan"))["yearly_kept_2555_days"]
    assert yearly["copyActions"][1] == {
        "destinationVaultArn": AIR_GAPPED_ARN,
        "lifecycle": {"deleteAfter": 2555},
    }
    assert run.outputs["verifyExpectations"]["airGappedVault"]["resourceTypes"] == [
        "DynamoDB",
        "S3",
    ]


def test_the_air_gapped_vault_is_compliance_bounded_and_shared_with_the_recovery_account(
    enterprise: ProgramRun,
) -> None:
    vault = enterprise.one(AIR_GAPPED).inputs
    assert vault["name"] == "formkiq-prod-dr-airgap-vault"
    # At least AWS's 7 days; a maximum that no retention change ever needs to move.
    assert (vault["minRetentionDays"], vault["maxRetentionDays"]) == (7, 36500)
    assert "encryptionKeyArn" not in vault  # AWS-owned key: out of this account's reach
    share = enterprise.one("aws:ram/resourceShare:ResourceShare").inputs
    assert share["allowExternalPrincipals"] is True
    principal = enterprise.one("aws:ram/principalAssociation:PrincipalAssociation").inputs
    assert principal["principal"] == RECOVERY_ACCOUNT
    shared = enterprise.one("aws:ram/resourceAssociation:ResourceAssociation").inputs
    assert shared["resourceArn"] == AIR_GAPPED_ARN
    assert enterprise.outputs["airGappedVaultArn"] == AIR_GAPPED_ARN


# --- never lose data on a config change ---------------------------------------------------------


def test_every_replica_lock_and_vault_is_protected_and_retained(
    enterprise: ProgramRun, unprotected: ProgramRun
) -> None:
    for name in ENTERPRISE_HOLDERS:
        resource = enterprise.named(name)
        assert (resource.protect, resource.retain_on_delete) == (True, True), name
        # protectBackups: false lifts the protection, never the retention.
        assert unprotected.named(name).retain_on_delete, name


def test_going_from_enterprise_to_enhanced_leaves_every_replica_lock_and_vault_in_place(
    enterprise: ProgramRun, unprotected: ProgramRun
) -> None:
    plan = removal_plan(enterprise, run_enterprise(tier="enhanced"))

    assert {r.name for r in plan.blocked} >= ENTERPRISE_HOLDERS
    assert not [r.name for r in plan.deleted if r.type in {REPLICA, LOCK, AIR_GAPPED}]
    # What goes holds no data (alarms, the RAM share, the bucket's own plan, the audit the
    # enhanced tier leaves off): no data holder or key is deleted.
    assert not {r.type for r in plan.deleted} & {
        REPLICA,
        LOCK,
        AIR_GAPPED,
        "aws:backup/vault:Vault",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:kms/key:Key",
    }
    assert "aws:backup/plan:Plan" in {r.type for r in plan.deleted}  # the bucket's own plan
    loose = removal_plan(unprotected, run_enterprise(tier="enhanced", protectBackups=False))
    assert loose.blocked == ()
    assert {r.name for r in loose.retained} >= ENTERPRISE_HOLDERS


def test_a_region_removed_from_replica_regions_keeps_its_replicas(
    enterprise: ProgramRun,
) -> None:
    plan = removal_plan(enterprise, run_enterprise(replicaRegions=[]))

    replicas = {f"formkiq-prod-table-replicas-{label}-{MORE_REGION}" for label in LABELS}
    assert {r.name for r in plan.blocked} == replicas
    assert {r.name for r in plan.retained} == replicas
    # Only their latency alarms go.
    assert {r.name for r in plan.deleted} == {
        f"formkiq-prod-table-replicas-{label}-latency-{MORE_REGION}" for label in LABELS
    }


# --- what the review says ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def review(enterprise: ProgramRun) -> str:
    out = StringIO()
    render(enterprise, Console(file=out, width=120, color_system=None))
    return " ".join(out.getvalue().replace("│", " ").split())


@pytest.mark.parametrize(
    "said",
    [
        "become DynamoDB GLOBAL TABLES with replicas in eu-west-1, us-west-2",
        "streams can no longer be disabled (a FormKiQ update that changes them fails)",
        "TTL deletes and mistakes included (a replica is not a backup)",
        "flow back through the primary table's stream to FormKiQ's stream consumers",
        "for 24 hours after a replica is added the table cannot be deleted",
        "if CloudFormation replaces or deletes a table, its replicas are orphaned",
        "Replicas are NEVER deleted by this stack",
        "disassociate it",
        "a change of vaultLock (or a longer yearly rule, which raises the default maximum) "
        "replaces each lock",
        "which is retained, never deleted",
        "compliance-locked by AWS from its creation",
        "still replicating",
    ],
)
def test_the_review_says_what_the_enterprise_tier_changes_and_keeps(review: str, said: str) -> None:
    assert said in review


def test_the_review_shows_each_replicas_safety_settings(review: str) -> None:
    assert (
        "replica of formkiq-core-prod-documents; PITR on; deletion protection on; the table's "
        "own key (AWS-owned); never deleted by this stack" in review
    )
    assert "governance lock on formkiq-prod-backup-vault-vault, retention 7..2555 days" in review


# --- bad input: refused before anything is registered or any AWS lookup is made ------------------

BAD_ENTERPRISE_INPUTS: dict[str, tuple[dict[str, object], list[str]]] = {
    "the primary region as a replica region": (
        {"replicaRegions": [PRIMARY]},
        [
            f'replicaRegions="{PRIMARY}" and aws:region="{PRIMARY}"',
            "a replica region must be another one",
        ],
    ),
    "drRegion twice": (
        {"replicaRegions": [DR_REGION]},
        [
            f'replicaRegions="{DR_REGION}" and drRegion="{DR_REGION}"',
            "drRegion always has a replica",
        ],
    ),
    "a replica region twice": (
        {"replicaRegions": [MORE_REGION, MORE_REGION]},
        [f'replicaRegions="{MORE_REGION}"', "is listed twice"],
    ),
    "a replica region in another partition": (
        {"replicaRegions": ["cn-north-1"]},
        ['replicaRegions="cn-north-1"', "cannot span partitions (aws to aws-cn)"],
    ),
    "a replica region that is no region": (
        {"replicaRegions": ["eu-west-9"]},
        ['replicaRegions="eu-west-9"', "is not a region where DynamoDB runs"],
    ),
    "compliance without the acknowledgement": (
        {"vaultLock": {"mode": "compliance"}},
        [
            'vaultLock.mode="compliance" and vaultLock.acknowledgeIrreversible=false',
            "set acknowledgeIrreversible: true",
        ],
    ),
    "a grace period under 3 days": (
        {
            "vaultLock": {
                "mode": "compliance",
                "acknowledgeIrreversible": True,
                "changeableForDays": 2,
            }
        },
        ["vaultLock.changeableForDays=2", "must be 3..36500 days"],
    ),
    "a lock minimum above the daily rule": (
        {"vaultLock": {"minRetentionDays": 40}},
        [
            "vaultLock.minRetentionDays=40",
            "rule daily_kept_35_days keeps its recovery points 35 days, less than the lock's "
            "minimum 40",
        ],
    ),
    "a lock maximum below the yearly rule": (
        {"vaultLock": {"maxRetentionDays": 400}},
        [
            "vaultLock.maxRetentionDays=400",
            "rule yearly_kept_2555_days keeps its recovery points 2555 days, more than the "
            "lock's maximum 400",
        ],
    ),
    "an air-gapped maximum below the yearly rule": (
        {"airGappedVault": {"maxRetentionDays": 1000}},
        ["airGappedVault.maxRetentionDays=1000", "rule yearly_kept_2555_days"],
    ),
    "an air-gapped minimum under AWS's 7 days": (
        {"airGappedVault": {"minRetentionDays": 3}},
        ["airGappedVault.minRetentionDays=3", "must be 7..36500 days"],
    ),
    "an air-gapped vault where AWS offers none": (
        {"drRegion": "ca-west-1"},
        ['drRegion="ca-west-1" and airGappedVault.enabled=true', "not available in ca-west-1"],
    ),
    "a recovery account that is no account": (
        {"airGappedVault": {"shareWithAccount": "4444-5555-6666"}},
        ['airGappedVault.shareWithAccount="4444-5555-6666"', "12-digit AWS account id"],
    ),
    "a yearly rule shorter than its cold storage and 90 days": (
        {"yearlyRetentionDays": 150},
        [
            "yearlyColdStorageAfterDays=90 and yearlyRetentionDays=150",
            "must be >= 180",
        ],
    ),
}


@pytest.mark.parametrize("case", list(BAD_ENTERPRISE_INPUTS), ids=list(BAD_ENTERPRISE_INPUTS))
def test_bad_enterprise_input_is_rejected_naming_key_value_and_rule(case: str) -> None:
    overrides, fragments = BAD_ENTERPRISE_INPUTS[case]
    run = run_program("dr", overrides=overrides, raise_errors=False)

    assert_refused_before_anything(case, run, fragments)


def test_enterprise_names_fit_aws_limits_for_the_longest_app_environment() -> None:
    longest = "customer-acme-europe-prod-1"  # 27 characters: FormKiQ's longest
    run = run_program("dr", overrides={"appEnvironment": longest})

    plans = [r.inputs["name"] for r in run.of_type("aws:backup/plan:Plan")]
    assert len(plans) == 2 and all(len(name) <= 50 for name in plans), plans
    selections = [r.inputs["name"] for r in run.of_type("aws:backup/selection:Selection")]
    assert all(len(name) <= 50 for name in selections), selections
    assert len(run.one(AIR_GAPPED).inputs["name"]) <= 50
    alarms = [r.state["name"] for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    assert all(len(name) <= 255 for name in alarms)


def test_the_enterprise_outputs_are_json_an_operator_can_read(enterprise: ProgramRun) -> None:
    """`pulumi stack output --json` carries them as they are: plain JSON values."""
    for key in ("tableReplicas", "vaultLocks", "airGappedVaultArn"):
        assert json.loads(json.dumps(enterprise.outputs[key])) == enterprise.outputs[key]


# --- the components refuse what AWS would, when another program builds them --------------------


def test_the_components_refuse_arguments_aws_would_refuse() -> None:
    lock = VaultLockArgs("vault", 7, 2555, LockMode.COMPLIANCE, changeable_for_days=2)
    assert lock.problems() == ["compliance mode needs changeable_for_days 3..36500"]
    governed = VaultLockArgs("vault", 7, 2555, LockMode.GOVERNANCE, changeable_for_days=3)
    assert governed.problems() == [
        "changeable_for_days makes a compliance lock: give mode compliance"
    ]
    assert VaultLockArgs("vault", 40, 35).problems() == [
        "the minimum retention is more than the maximum"
    ]
    gapped = AirGappedVaultArgs(
        "vault-name", 3, 2555, share_with_account="12345", region="ca-west-1"
    )
    assert [p.split(" (")[0] for p in gapped.problems()] == [
        "minimum retention must be 7..36500 days",
        "share_with_account '12345' is not an account id",
        "logically air-gapped vaults are not available in ca-west-1",
    ]
    table = ReplicatedTable("documents", TABLES[0], f"arn:aws:dynamodb:{PRIMARY}:{ACCOUNT}:table/x")
    replicas = TableReplicasArgs(
        tables=[table],
        replica_regions=[PRIMARY, DR_REGION, DR_REGION],
        table_region=PRIMARY,
        topic_arn="arn:aws:sns:us-east-1:111122223333:t",
        alarm_name_prefix="formkiq-prod",
        latency_limit_seconds=60,
    )
    assert [p.split(":")[0] for p in replicas.problems()] == [
        f"replica region {PRIMARY} is the tables' own region",
        f"replica region {DR_REGION} is given twice",
    ]


def test_a_backup_plan_name_past_50_characters_is_refused() -> None:
    """CreateBackupPlan: BackupPlanName takes 1 to 50 letters, digits and '-_.'."""
    assert aws_rules.plan_name_problems("formkiq-" + "a" * 27 + "-documents-plan") == []
    assert aws_rules.plan_name_problems("x" * 51) == [
        f"plan name {'x' * 51!r} must match ^[a-zA-Z0-9\\-_.]{{1,50}}$"
    ]
