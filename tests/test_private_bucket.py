"""The exports bucket, the audit reports bucket and the replicas are one private bucket.

Deployed stacks hold these buckets and their data, so sharing the code must not move a
resource: every URN below is the one the engine gave it before the buckets shared
components/private_bucket.py (engine URNs as formkiq_backup.offline.urns computes them from a
render). A URN that changed would be a replacement: a new, empty bucket. Each bucket keeps the
policy statements it had; what they share (key, encryption, privacy, protection) is the same for
all four.
"""

import json
from typing import Any

import pytest

from components.private_bucket import PROTECTED_BUCKET_ACTIONS
from formkiq_backup.offline.program import ProgramRun, run_program
from formkiq_backup.offline.urns import engine_urns

ACCOUNT = "111122223333"
BREAK_GLASS = [f"arn:aws:iam::{ACCOUNT}:role/BackupBreakGlass"]
BUCKET_TYPES = ("ExportsBucket", "ReportsBucket", "ReplicaBucket")
# What every private bucket registers, by type and name suffix.
CHILDREN = (
    ("aws:kms/key:Key", "key"),
    ("aws:kms/alias:Alias", "key-alias"),
    ("aws:s3/bucket:Bucket", "bucket"),
    ("aws:s3/bucketVersioning:BucketVersioning", "versioning"),
    (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "encryption",
    ),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "public-access-block"),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "ownership"),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle"),
    ("aws:s3/bucketPolicy:BucketPolicy", "policy"),
)
DESCRIPTOR = ("aws:s3/bucketObjectv2:BucketObjectv2", "descriptor")
PUBLIC_ACCESS_BLOCKS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def deployed_urns(stack: str, tier: str, buckets: dict[str, str]) -> set[str]:
    """The URNs a deployed `stack` holds for `buckets` (component name -> component type)."""
    head = f"urn:pulumi:{stack}::formkiq-backup::formkiq-backup:index:{tier}$"
    urns = set()
    for name, kind in buckets.items():
        component = f"formkiq-backup:index:{kind}"
        urns.add(f"{head}{component}::{name}")
        children = CHILDREN + ((DESCRIPTOR,) if kind == "ExportsBucket" else ())
        urns |= {f"{head}{component}${child}::{name}-{suffix}" for child, suffix in children}
    return urns


@pytest.fixture(scope="module")
def standard() -> ProgramRun:
    return run_program("prod")


@pytest.fixture(scope="module")
def enhanced() -> ProgramRun:
    """Enhanced with audit: the exports bucket, both replicas and the reports bucket."""
    return run_program("dr", overrides={"tier": "enhanced", "audit": {"enabled": True}})


def bucket_urns(run: ProgramRun) -> set[str]:
    return {
        urn
        for urn in engine_urns(run.resources).values()
        if any(f"formkiq-backup:index:{kind}" in urn for kind in BUCKET_TYPES)
    }


def test_the_standard_stacks_exports_bucket_keeps_every_urn(standard: ProgramRun) -> None:
    assert bucket_urns(standard) == deployed_urns(
        "prod", "StandardBackup", {"formkiq-prod-exports": "ExportsBucket"}
    )


def test_the_enhanced_stacks_buckets_keep_every_urn(enhanced: ProgramRun) -> None:
    assert bucket_urns(enhanced) == deployed_urns(
        "dr",
        "EnhancedBackup",
        {
            "formkiq-prod-exports": "ExportsBucket",
            "formkiq-prod-audit-reports": "ReportsBucket",
            "formkiq-prod-dr-documents-replica": "ReplicaBucket",
            "formkiq-prod-dr-exports-replica": "ReplicaBucket",
        },
    )
    # Spelled out once, so a reader sees what "the URN it had" means.
    assert (
        "urn:pulumi:dr::formkiq-backup::formkiq-backup:index:EnhancedBackup$"
        "formkiq-backup:index:ReplicaBucket$aws:s3/bucket:Bucket::"
        "formkiq-prod-dr-documents-replica-bucket"
    ) in bucket_urns(enhanced)


def statements(run: ProgramRun, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(run.named(name).inputs["policy"])["Statement"]
    return found


def shape(statement: dict[str, Any]) -> tuple[str, str, Any, Any]:
    """A statement as its Sid, effect, actions and condition."""
    return (statement["Sid"], statement["Effect"], statement["Action"], statement["Condition"])


def test_each_bucket_keeps_its_policy_statements(enhanced: ProgramRun) -> None:
    tls = ("DenyInsecureTransport", "Deny", "s3:*", {"Bool": {"aws:SecureTransport": "false"}})
    break_glass = {"ArnNotLike": {"aws:PrincipalArn": BREAK_GLASS}}
    protected = list(PROTECTED_BUCKET_ACTIONS)
    reports_role = (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/reports.backup.amazonaws.com/"
        "AWSServiceRoleForBackupReports"
    )

    assert [shape(s) for s in statements(enhanced, "formkiq-prod-exports-policy")] == [
        tls,
        ("OnlyBreakGlassDeletesExportsOrLiftsThisProtection", "Deny", protected, break_glass),
    ]
    for replica in ("documents", "exports"):
        assert [
            shape(s) for s in statements(enhanced, f"formkiq-prod-dr-{replica}-replica-policy")
        ] == [
            tls,
            ("OnlyBreakGlassDeletesReplicasOrLiftsThisProtection", "Deny", protected, break_glass),
        ]
    assert [shape(s) for s in statements(enhanced, "formkiq-prod-audit-reports-policy")] == [
        tls,
        ("OnlyBreakGlassDeletesVersions", "Deny", ["s3:DeleteObjectVersion"], break_glass),
        (
            "BackupReportsDelivery",
            "Allow",
            "s3:PutObject",
            {
                "StringEquals": {
                    "aws:PrincipalAccount": ACCOUNT,
                    "s3:x-amz-acl": "bucket-owner-full-control",
                },
                "ArnEquals": {"aws:PrincipalArn": reports_role},
            },
        ),
    ]
    delivery = statements(enhanced, "formkiq-prod-audit-reports-policy")[2]
    assert delivery["Resource"] == f"arn:aws:s3:::formkiq-prod-reports-{ACCOUNT}/reports/*"


PRIVATE_BUCKETS = (
    "formkiq-prod-exports",
    "formkiq-prod-audit-reports",
    "formkiq-prod-dr-documents-replica",
    "formkiq-prod-dr-exports-replica",
)


@pytest.mark.parametrize("bucket", PRIVATE_BUCKETS)
def test_every_bucket_is_private_versioned_kms_encrypted_and_kept(
    enhanced: ProgramRun, bucket: str
) -> None:
    key = enhanced.named(f"{bucket}-key")
    encryption = enhanced.named(f"{bucket}-encryption").inputs["rules"]
    access = enhanced.named(f"{bucket}-public-access-block").inputs

    assert enhanced.named(f"{bucket}-versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    assert encryption == [
        {
            "applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": key.state["arn"],
            },
            "bucketKeyEnabled": True,
        }
    ]
    assert [access[block] for block in PUBLIC_ACCESS_BLOCKS] == [True] * 4
    assert enhanced.named(f"{bucket}-ownership").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    # The key: rotating, only break-glass roles may delete, disable or re-policy it.
    guard = {s["Sid"]: s for s in statements(enhanced, f"{bucket}-key")}["OnlyBreakGlassDeletesKey"]
    assert guard["Action"] == ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"]
    assert key.inputs["enableKeyRotation"] is True
    # Every resource stays in AWS when it leaves the program, and a removal stops and asks.
    for _, suffix in CHILDREN:
        resource = enhanced.named(f"{bucket}-{suffix}")
        assert (resource.protect, resource.retain_on_delete) == (True, True), suffix


def test_the_policy_goes_on_after_the_versioning_and_lifecycle_it_may_freeze(
    enhanced: ProgramRun,
) -> None:
    for bucket in PRIVATE_BUCKETS:
        waits_for = set(enhanced.named(f"{bucket}-policy").dependencies)
        assert {
            enhanced.named(f"{bucket}-versioning").urn,
            enhanced.named(f"{bucket}-lifecycle").urn,
        } <= waits_for, bucket
