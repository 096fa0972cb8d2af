"""The Enhanced tier (Pulumi.dr.yaml moved to enhanced) against a sample FormKiQ: every kind of
data in drRegion.

Each render of the program is shared by the tests of this module (module-scoped fixtures): a
run takes seconds, the assertions on it none.
"""

import json
from typing import Any

import pytest

from components.exports_bucket import PROTECTED_BUCKET_ACTIONS
from formkiq_backup.aws_rules import SUPPORTED_VAULT_EVENTS
from formkiq_backup.offline.changes import removal_plan, replacement_plan
from formkiq_backup.offline.mocks import RegisteredResource
from formkiq_backup.offline.program import ProgramRun, run_program

DR_REGION = "us-west-2"
ACCOUNT = "111122223333"
FORMKIQ_BUCKET = f"formkiq-core-prod-documents-{ACCOUNT}"
EXPORTS_BUCKET = f"formkiq-prod-exports-{ACCOUNT}"
DOCUMENTS_REPLICA = f"formkiq-prod-documents-dr-{ACCOUNT}-{DR_REGION}"
EXPORTS_REPLICA = f"formkiq-prod-exports-dr-{ACCOUNT}-{DR_REGION}"
DR_VAULT_ARN = f"arn:aws:backup:{DR_REGION}:{ACCOUNT}:backup-vault:formkiq-prod-dr-backup-vault"
# What holds or encrypts DR data: never deleted by a config change.
DR_DATA_HOLDERS = {
    "formkiq-prod-dr-backup-vault-vault",
    "formkiq-prod-dr-backup-vault-key",
    "formkiq-prod-dr-backup-vault-access-policy",
    "formkiq-prod-dr-documents-replica-bucket",
    "formkiq-prod-dr-documents-replica-key",
    "formkiq-prod-dr-documents-replica-versioning",
    "formkiq-prod-dr-exports-replica-bucket",
    "formkiq-prod-dr-exports-replica-key",
    "formkiq-prod-dr-exports-replica-versioning",
}


def run_enhanced(raise_errors: bool = True, **overrides: object) -> ProgramRun:
    """Pulumi.dr.yaml (an enterprise stack) as an enhanced one; its enterprise keys are ignored
    with a warning."""
    return run_program("dr", overrides={"tier": "enhanced", **overrides}, raise_errors=raise_errors)


@pytest.fixture(scope="module")
def enhanced() -> ProgramRun:
    return run_enhanced()


@pytest.fixture(scope="module")
def unprotected() -> ProgramRun:
    return run_enhanced(protectBackups=False)


def _policy(resource: RegisteredResource, key: str = "policy") -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(resource.inputs[key])["Statement"]
    return statements


def _by_sid(resource: RegisteredResource) -> dict[str, dict[str, Any]]:
    return {statement.get("Sid", "?"): statement for statement in _policy(resource)}


# --- where everything is ------------------------------------------------------------------


def test_every_dr_resource_is_sent_dr_region_and_no_primary_resource_any_region(
    enhanced: ProgramRun,
) -> None:
    custom = [r for r in enhanced.resources if r.custom]
    dr = [r for r in custom if r.name.startswith("formkiq-prod-dr-")]
    iam = {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"}

    assert {r.inputs.get("region") for r in dr if r.type not in iam} == {DR_REGION}
    assert [r.name for r in dr if r.type in iam and "region" in r.inputs] == []
    primary = [r for r in custom if not r.name.startswith("formkiq-prod-dr-")]
    assert [r.name for r in primary if "region" in r.inputs] == []
    # The DR side: a vault with key and alerts, two replicas with keys, alarms, a topic.
    kinds = {r.type.split(":")[-1] for r in dr}
    assert kinds >= {"Vault", "Key", "Bucket", "BucketVersioning", "MetricAlarm", "Topic"}


def test_outputs_name_the_dr_side(enhanced: ProgramRun) -> None:
    outputs = enhanced.outputs
    assert outputs["tier"] == "enhanced"
    assert outputs["drRegion"] == DR_REGION
    assert outputs["drBackupVaultArn"] == DR_VAULT_ARN
    assert outputs["drAlarmTopicArn"].startswith(f"arn:aws:sns:{DR_REGION}:")
    assert outputs["documentsReplicaBucket"] == DOCUMENTS_REPLICA
    assert outputs["exportsReplicaBucket"] == EXPORTS_REPLICA
    assert outputs["batchReplicationRoleArn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/formkiq-prod-batch-replication"
    )
    content = outputs["recoveryObjectives"]["documentContent"]
    assert (content["rpo"], content["rpoMinutes"]) == ("15 minutes", 15)  # the RTC target
    assert "stay SSE-S3" in content["note"]
    assert "purge is not replicated" in content["note"]


# --- cross-region copies --------------------------------------------------------------------


def test_every_rule_copies_to_the_dr_vault_kept_exactly_as_long_as_the_rule(
    enhanced: ProgramRun,
) -> None:
    plan = enhanced.one("aws:backup/plan:Plan")
    rules = plan.inputs["rules"]

    assert [rule["ruleName"] for rule in rules] == ["daily_kept_35_days", "monthly_kept_400_days"]
    for rule in rules:
        assert rule["copyActions"] == [
            {"destinationVaultArn": DR_VAULT_ARN, "lifecycle": rule["lifecycle"]}
        ]
    # The monthly rule goes cold after 90 days, and so do its copies: 400 >= 90 + 90.
    assert rules[1]["copyActions"][0]["lifecycle"] == {"deleteAfter": 400, "coldStorageAfter": 90}
    # The plan waits for the vault it copies into.
    assert enhanced.named("formkiq-prod-dr-backup-vault-vault").urn in plan.dependencies


def test_the_backup_role_and_the_dr_key_policy_both_grant_the_dr_key(
    enhanced: ProgramRun,
) -> None:
    role_arn = enhanced.named("formkiq-prod-backup-plan-role").state["arn"]
    key = enhanced.named("formkiq-prod-dr-backup-vault-key")
    statements = _by_sid(key)

    assert statements["CopyRolesUseKey"]["Principal"] == {"AWS": [role_arn]}
    assert "kms:Encrypt" in statements["CopyRolesUseKey"]["Action"]
    assert statements["CopyRolesLetAwsBackupHoldGrants"]["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"}
    }
    grant = enhanced.named("formkiq-prod-dr-backup-vault-copy-role-0")
    assert grant.inputs["role"] == enhanced.named("formkiq-prod-backup-plan-role").state["name"]
    use = _by_sid(grant)["UseCopyDestinationKey"]
    assert use["Resource"] == key.state["arn"]
    assert set(use["Action"]) >= {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"}


def test_the_dr_vault_denies_deletes_and_notifies_the_dr_topic_with_supported_events(
    enhanced: ProgramRun,
) -> None:
    policy = _policy(enhanced.named("formkiq-prod-dr-backup-vault-access-policy"))[0]
    assert policy["Effect"] == "Deny"
    assert "backup:DeleteRecoveryPoint" in policy["Action"]
    assert policy["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{ACCOUNT}:role/BackupBreakGlass"
    ]
    notifications = enhanced.named("formkiq-prod-dr-backup-vault-notifications")
    assert set(notifications.inputs["backupVaultEvents"]) <= SUPPORTED_VAULT_EVENTS
    assert notifications.inputs["snsTopicArn"] == enhanced.outputs["drAlarmTopicArn"]
    dr_topic_policy = enhanced.named("formkiq-prod-dr-alerts-topic-policy")
    assert dr_topic_policy.urn in notifications.dependencies


def test_copy_job_failures_are_caught_in_both_regions(enhanced: ProgramRun) -> None:
    """Which region emits a cross-region copy's events is not documented: rules in both."""
    topics = {"": enhanced.outputs["alarmTopicArn"], "dr-": enhanced.outputs["drAlarmTopicArn"]}
    for scope, topic in topics.items():
        rule = enhanced.named(f"formkiq-prod-{scope}backup-alerts-job-failures")
        assert "Copy Job State Change" in json.loads(rule.inputs["eventPattern"])["detail-type"]
        target = enhanced.named(f"formkiq-prod-{scope}backup-alerts-job-failures-to-topic")
        assert target.inputs["arn"] == topic
    # A vault of copies never completes a backup job: no silence alarm in the DR region.
    dr_alarms = [
        a for a in enhanced.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if "-dr-" in a.name
    ]
    assert not [a for a in dr_alarms if a.inputs["namespace"] == "AWS/Backup"]


def test_each_topic_admits_exactly_its_regions_publishers(enhanced: ProgramRun) -> None:
    def services(name: str) -> set[str]:
        found: set[str] = set()
        for statement in _policy(enhanced.named(name)):
            if statement["Effect"] == "Allow":
                found |= set(statement["Principal"]["Service"])
        return found

    expected = {"backup.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"}
    assert services("formkiq-prod-dr-alerts-topic-policy") == expected
    assert services("formkiq-prod-alerts-topic-policy") == expected


# --- replication ----------------------------------------------------------------------------


def _config(run: ProgramRun, bucket: str) -> RegisteredResource:
    configs = [
        r
        for r in run.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        if r.inputs["bucket"] == bucket
    ]
    assert len(configs) == 1, f"one replication document per bucket, found {len(configs)}"
    return configs[0]


@pytest.mark.parametrize(
    ("source", "replica", "kind"),
    [
        (FORMKIQ_BUCKET, DOCUMENTS_REPLICA, "documents"),
        (EXPORTS_BUCKET, EXPORTS_REPLICA, "exports"),
    ],
)
def test_one_v2_rule_replicates_the_whole_bucket_with_delete_markers_and_rtc(
    enhanced: ProgramRun, source: str, replica: str, kind: str
) -> None:
    config = _config(enhanced, source)
    replica_key = enhanced.named(f"formkiq-prod-dr-{kind}-replica-key").state["arn"]

    assert config.inputs["rules"] == [
        {
            "id": "formkiq-backup-dr",
            "status": "Enabled",
            "priority": 1,
            "filter": {"prefix": ""},
            "deleteMarkerReplication": {"status": "Enabled"},
            "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
            "destination": {
                "bucket": f"arn:aws:s3:::{replica}",
                "storageClass": "STANDARD",
                "encryptionConfiguration": {"replicaKmsKeyId": replica_key},
                "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
                "metrics": {"status": "Enabled", "eventThreshold": {"minutes": 15}},
            },
        }
    ]
    assert "region" not in config.inputs  # the source's region: the primary
    # S3 refuses a rule to an unversioned bucket: the rule waits for the replica's versioning.
    versioning = enhanced.named(f"formkiq-prod-dr-{kind}-replica-versioning")
    assert versioning.urn in config.dependencies
    assert (
        config.inputs["role"]
        == enhanced.named(f"formkiq-prod-{kind}-replication-role").state["arn"]
    )


def test_the_exports_rule_waits_for_the_exports_bucket_this_stack_builds(
    enhanced: ProgramRun,
) -> None:
    config = _config(enhanced, EXPORTS_BUCKET)
    assert enhanced.named("formkiq-prod-exports-versioning").urn in config.dependencies


def test_nothing_but_the_replication_rule_touches_formkiqs_bucket(enhanced: ProgramRun) -> None:
    """CloudFormation owns it: no versioning, lifecycle, notification or policy of ours."""
    touching = [
        r.type
        for r in enhanced.resources
        if r.custom and FORMKIQ_BUCKET in (r.inputs.get("bucket"), r.inputs.get("name"))
    ]
    assert touching == ["aws:s3/bucketReplicationConfig:BucketReplicationConfig"]
    assert not enhanced.of_type("aws:s3/bucketNotification:BucketNotification")


def test_replication_roles_have_least_privilege_and_a_key_only_where_one_is_used(
    enhanced: ProgramRun,
) -> None:
    documents = _by_sid(enhanced.named("formkiq-prod-documents-replication-permissions"))
    exports = _by_sid(enhanced.named("formkiq-prod-exports-replication-permissions"))

    assert documents["ReadSourceConfiguration"]["Resource"] == f"arn:aws:s3:::{FORMKIQ_BUCKET}"
    assert documents["ReadSourceVersions"]["Action"] == [
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging",
    ]
    assert documents["ReplicateIntoDestination"]["Resource"] == (
        f"arn:aws:s3:::{DOCUMENTS_REPLICA}/*"
    )
    assert documents["EncryptReplicas"]["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{DR_REGION}.amazonaws.com"
    }
    # FormKiQ's objects are SSE-S3: no source key. The exports bucket's key decrypts its own.
    assert "DecryptSourceObjects" not in documents
    decrypt = exports["DecryptSourceObjects"]
    assert decrypt["Resource"] == enhanced.named("formkiq-prod-exports-key").state["arn"]
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    trust = _policy(enhanced.named("formkiq-prod-documents-replication-role"), "assumeRolePolicy")
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]


@pytest.mark.parametrize("kind", ["documents", "exports"])
def test_replica_buckets_are_versioned_encrypted_private_and_tls_only(
    enhanced: ProgramRun, kind: str
) -> None:
    prefix = f"formkiq-prod-dr-{kind}-replica"
    assert enhanced.named(f"{prefix}-versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    encryption = enhanced.named(f"{prefix}-encryption").inputs["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": enhanced.named(f"{prefix}-key").state["arn"],
    }
    assert enhanced.named(f"{prefix}-key").inputs["enableKeyRotation"] is True
    block = enhanced.named(f"{prefix}-public-access-block").inputs
    assert all(block[flag] for flag in ("blockPublicAcls", "blockPublicPolicy"))
    assert all(block[flag] for flag in ("ignorePublicAcls", "restrictPublicBuckets"))
    policy = _by_sid(enhanced.named(f"{prefix}-policy"))
    assert policy["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    # As the exports bucket: deleting replicas, and lifting that protection, break-glass only.
    guard = policy["OnlyBreakGlassDeletesReplicasOrLiftsThisProtection"]
    assert guard["Action"] == list(PROTECTED_BUCKET_ACTIONS)
    assert guard["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::111122223333:role/BackupBreakGlass"]}
    }
    # Put last: the first deploy sets versioning and lifecycle before they are denied.
    waits_for = {urn.rsplit("::", 1)[1] for urn in enhanced.named(f"{prefix}-policy").dependencies}
    assert {f"{prefix}-versioning", f"{prefix}-lifecycle"} <= waits_for


def test_replica_keys_are_guarded_like_the_vault_key(enhanced: ProgramRun) -> None:
    for kind in ("documents", "exports"):
        key = enhanced.named(f"formkiq-prod-dr-{kind}-replica-key").inputs
        statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
        assert "kms:PutKeyPolicy" in statements["OnlyBreakGlassDeletesKey"]["Action"]
        assert key["bypassPolicyLockoutSafetyCheck"] is True


def test_documents_replica_keeps_every_version_and_moves_old_ones_to_glacier_ir(
    enhanced: ProgramRun,
) -> None:
    rules = enhanced.named("formkiq-prod-dr-documents-replica-lifecycle").inputs["rules"]
    assert rules == [
        {
            "id": "noncurrent-to-glacier-ir-after-30-days",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrentVersionTransitions": [{"noncurrentDays": 30, "storageClass": "GLACIER_IR"}],
        }
    ]


def test_exports_replica_expires_like_the_exports_bucket(enhanced: ProgramRun) -> None:
    """S3 does not replicate lifecycle actions: the replica carries the source's rules."""
    replica = enhanced.named("formkiq-prod-dr-exports-replica-lifecycle").inputs["rules"]
    source = enhanced.named("formkiq-prod-exports-lifecycle").inputs["rules"]
    assert replica == source


def test_replication_alarms_live_where_s3_publishes_each_metric(enhanced: ProgramRun) -> None:
    primary_topic = enhanced.outputs["alarmTopicArn"]
    dr_topic = enhanced.outputs["drAlarmTopicArn"]
    alarms = {
        (a.inputs["dimensions"]["SourceBucket"], a.inputs["metricName"]): a
        for a in enhanced.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["namespace"] == "AWS/S3"
    }
    for source, replica in ((FORMKIQ_BUCKET, DOCUMENTS_REPLICA), (EXPORTS_BUCKET, EXPORTS_REPLICA)):
        failed = alarms[(source, "OperationsFailedReplication")]
        assert "region" not in failed.inputs  # the source's region
        assert failed.inputs["alarmActions"] == [primary_topic]
        for metric in (
            "ReplicationLatency",
            "BytesPendingReplication",
            "OperationsPendingReplication",
        ):
            alarm = alarms[(source, metric)]
            assert alarm.inputs["region"] == DR_REGION  # the destination's region
            assert alarm.inputs["alarmActions"] == [dr_topic]
            assert alarm.inputs["dimensions"] == {
                "SourceBucket": source,
                "DestinationBucket": replica,
                "RuleId": "formkiq-backup-dr",
            }
            assert alarm.inputs["treatMissingData"] == "ignore"
    assert len(alarms) == 8


def test_the_guard_checks_our_rule_on_each_source_every_15_minutes(enhanced: ProgramRun) -> None:
    guard = enhanced.named("formkiq-prod-posture-guard-function")
    rules = json.loads(guard.inputs["environment"]["variables"]["REPLICATION_RULES"])
    assert rules == [
        {
            "sourceBucket": FORMKIQ_BUCKET,
            "ruleId": "formkiq-backup-dr",
            "destinationBucketArn": f"arn:aws:s3:::{DOCUMENTS_REPLICA}",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/formkiq-prod-documents-replication",
            "rtcMinutes": 15,
        },
        {
            "sourceBucket": EXPORTS_BUCKET,
            "ruleId": "formkiq-backup-dr",
            "destinationBucketArn": f"arn:aws:s3:::{EXPORTS_REPLICA}",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/formkiq-prod-exports-replication",
            "rtcMinutes": 15,
        },
    ]
    # The roles the guard expects are the roles the rules name.
    for rule in rules:
        kind = "documents" if rule["sourceBucket"] == FORMKIQ_BUCKET else "exports"
        role = enhanced.named(f"formkiq-prod-{kind}-replication-role")
        assert role.state["arn"] == rule["roleArn"]
    read = _by_sid(enhanced.named("formkiq-prod-posture-guard-permissions"))
    assert read["ReadReplicationConfiguration"] == {
        "Sid": "ReadReplicationConfiguration",
        "Effect": "Allow",
        "Action": "s3:GetReplicationConfiguration",
        "Resource": [f"arn:aws:s3:::{FORMKIQ_BUCKET}", f"arn:aws:s3:::{EXPORTS_BUCKET}"],
    }
    alarms = {
        a.inputs["dimensions"]["BucketName"]: a
        for a in enhanced.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == "ReplicationConfigured"
    }
    assert set(alarms) == {FORMKIQ_BUCKET, EXPORTS_BUCKET}
    assert {a.inputs["treatMissingData"] for a in alarms.values()} == {"breaching"}


def test_the_guard_alarms_when_copies_stop_reaching_the_dr_vault(enhanced: ProgramRun) -> None:
    variables = enhanced.named("formkiq-prod-posture-guard-function").inputs["environment"][
        "variables"
    ]
    assert (variables["COPY_VAULT_NAME"], variables["COPY_VAULT_REGION"]) == (
        "formkiq-prod-dr-backup-vault",
        DR_REGION,
    )
    alarms = {
        a.inputs["dimensions"]["ResourceName"]
        for a in enhanced.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["metricName"] == "CopyFresh"
    }
    assert alarms == {
        "formkiq-core-prod-documents",
        "formkiq-core-prod-documentsyncs",
        FORMKIQ_BUCKET,
    }


def test_the_batch_replication_role_may_only_replicate_our_sources_and_report_to_exports(
    enhanced: ProgramRun,
) -> None:
    trust = _policy(enhanced.named("formkiq-prod-batch-replication-role"), "assumeRolePolicy")
    assert trust[0]["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    permissions = _by_sid(enhanced.named("formkiq-prod-batch-replication-permissions"))
    assert permissions["InitiateReplication"]["Resource"] == [
        f"arn:aws:s3:::{FORMKIQ_BUCKET}/*",
        f"arn:aws:s3:::{EXPORTS_BUCKET}/*",
    ]
    assert permissions["WriteManifestAndReport"]["Resource"] == (
        f"arn:aws:s3:::{EXPORTS_BUCKET}/batch-replication/*"
    )
    batch = enhanced.outputs["verifyExpectations"]["batchReplication"]
    assert batch == {
        "roleArn": enhanced.outputs["batchReplicationRoleArn"],
        "reportBucket": EXPORTS_BUCKET,
        "reportPrefix": "batch-replication/",
    }


# --- never lose data on a config change ---------------------------------------------------


def test_every_dr_data_holder_is_protected_and_retained(
    enhanced: ProgramRun, unprotected: ProgramRun
) -> None:
    for name in DR_DATA_HOLDERS:
        resource = enhanced.named(name)
        assert (resource.protect, resource.retain_on_delete) == (True, True), name
        # protectBackups: false lifts the protection, never the retention.
        assert unprotected.named(name).retain_on_delete, name


def test_going_from_enhanced_to_standard_keeps_every_replica_and_recovery_point(
    enhanced: ProgramRun, unprotected: ProgramRun
) -> None:
    standard = run_program("dr", overrides={"tier": "standard", "drRegion": None})
    plan = removal_plan(enhanced, standard)

    assert {r.name for r in plan.blocked} >= DR_DATA_HOLDERS
    assert not {r.name for r in plan.deleted} & DR_DATA_HOLDERS
    # What goes stops new copies, replication and their alarms; it holds no data.
    deleted_types = {r.type for r in plan.deleted}
    assert "aws:s3/bucketReplicationConfig:BucketReplicationConfig" in deleted_types
    assert not deleted_types & {
        "aws:backup/vault:Vault",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketVersioning:BucketVersioning",
    }
    # The only key that goes encrypts the DR alert topic's messages, no data.
    assert [r.name for r in plan.deleted if r.type == "aws:kms/key:Key"] == [
        "formkiq-prod-dr-alerts-key"
    ]
    # Unprotected, the same downgrade leaves them in AWS rather than deleting them.
    unprotected_standard = run_program(
        "dr", overrides={"tier": "standard", "drRegion": None, "protectBackups": False}
    )
    loose = removal_plan(unprotected, unprotected_standard)
    assert loose.blocked == ()
    assert {r.name for r in loose.retained} >= DR_DATA_HOLDERS


def test_a_new_dr_region_replaces_the_dr_side_and_keeps_the_old_one(
    enhanced: ProgramRun,
) -> None:
    moved = run_enhanced(drRegion="eu-west-1")
    plan = replacement_plan(enhanced, moved)

    # Every DR data holder is replaced (region is a replacing input); the old ones are blocked
    # while protected and then retained: nothing in us-west-2 is deleted.
    assert {r.name for r in plan.blocked} >= DR_DATA_HOLDERS
    assert {r.name for r in plan.retained} >= DR_DATA_HOLDERS
    assert not {r.name for r in plan.deleted} & DR_DATA_HOLDERS
    assert {r.inputs["region"] for r in plan.retained} == {DR_REGION}
    # Nothing of the primary side is replaced: the rule on FormKiQ's bucket is updated in place.
    assert not [r.name for r in (*plan.blocked, *plan.deleted) if "-dr-" not in r.name]
    # Replica bucket names carry the region: the new ones do not collide with the kept ones.
    assert moved.outputs["documentsReplicaBucket"] == (
        f"formkiq-prod-documents-dr-{ACCOUNT}-eu-west-1"
    )
    assert moved.outputs["drBackupVaultArn"].startswith("arn:aws:backup:eu-west-1:")


# --- bad input: refused before anything is registered or any AWS lookup is made ------------


@pytest.mark.parametrize(
    ("dr_region", "message"),
    [
        ("us-east-1", "must differ from the primary region"),
        ("us-west-9", "is not an AWS region where AWS Backup runs"),
        ("cn-north-1", "copies cannot cross partitions (aws to aws-cn)"),
        (None, "required for tier enhanced"),
    ],
)
def test_a_bad_dr_region_stops_the_enhanced_program_before_any_resource(
    dr_region: str | None, message: str
) -> None:
    """The config checks themselves are in test_config_validation.py; this proves the whole
    program stops on them before registering anything or calling AWS."""
    run = run_enhanced(raise_errors=False, drRegion=dr_region)

    assert message in str(run.error)
    assert "drRegion" in str(run.error)
    assert run.resources == []
    assert run.invokes == []


def test_dr_names_fit_aws_limits_for_the_longest_app_environment() -> None:
    longest = "customer-acme-europe-prod-1"  # 27 characters: FormKiQ's longest
    run = run_enhanced(appEnvironment=longest)

    buckets = [r.inputs["bucket"] for r in run.of_type("aws:s3/bucket:Bucket")]
    assert len(buckets) == 3 and all(len(name) <= 63 for name in buckets), buckets
    assert all(name == name.lower() for name in buckets)
    roles = [r.state["name"] for r in run.of_type("aws:iam/role:Role")]
    assert all(len(name) <= 64 for name in roles), roles
    alarms = [r.state["name"] for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    assert all(len(name) <= 255 for name in alarms)
    vaults = [r.inputs["name"] for r in run.of_type("aws:backup/vault:Vault")]
    assert all(len(name) <= 50 for name in vaults), vaults
