"""An Enterprise stack's DR side around the seeded FormKiQ in moto, for verify and failover-check.

moto 5.2.6 plays the part of most of it: the replica tables in us-west-2 (created there and
filled with the source's items, as DynamoDB's replication leaves them), the replica buckets
(every current version, at the source's version ids, as S3 replication writes them), the
exports replica, both vaults with their Vault Lock (PutBackupVaultLockConfiguration:
DescribeBackupVault gives back Locked, MinRetentionDays, MaxRetentionDays and LockDate), and
CloudWatch's ReplicationLatency datapoints (PutMetricData into AWS/DynamoDB, in the source
region).

Where moto has no API or no field, the answer AWS gives is filled in with AWS's own shapes:
- DescribeTable never lists a replica (`Replicas[]` with `ReplicaStatus`): added after moto
  answers, in both regions' views;
- AWS Backup recovery points (ListRecoveryPointsByResource) and logically air-gapped vaults
  (DescribeBackupVault with VaultType and VaultState) do not exist in moto: answered before the
  call is sent, as botocore's Stubber does, each answer checked against the operation's output
  shape in botocore's model (`AwsAnswers`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.validate import validate_parameters

from formkiq_backup.exports import TableExpectation
from formkiq_backup.offline.seed import create_formkiq_table, write_items
from tests.dr_support import (
    BUCKET,
    DOCUMENTS,
    MOTO_ACCOUNT,
    SYNCS,
    FaithfulReplication,
    World,
    hook_clients,
    our_replication,
)
from tests.exports_support import good_exports, record_export_times, write_completed_table_export
from tests.test_dr_verify import ARNS, VAULT, recovery_points
from tests.test_dr_verify_dr_region import (
    DOCUMENTS_REPLICA,
    DR,
    DR_VAULT,
    EXPORTS,
    EXPORTS_REPLICA,
    ReplicationStatuses,
    role,
    write_replica,
)

PRIMARY: Final = "us-east-1"
AIR_GAPPED: Final = "formkiq-prod-dr-airgap-vault"
# The newest document, added today in site finance (the seeded ones are months old).
NEWEST_ID: Final = "0f0f0f0f-1111-4222-8333-444455556666"
NEWEST_KEY: Final = f"finance/{NEWEST_ID}"
READ_ONLY_PREFIXES: Final = ("Describe", "List", "Get", "Head", "Query", "Scan")

Answer = Callable[[str, dict[str, Any]], dict[str, Any] | None]
"""(region, request parameters) -> the response, or None to let moto answer."""


@dataclass
class Call:
    service: str
    operation: str
    region: str
    params: dict[str, Any]


class AwsAnswers:
    """Answers chosen calls before they are sent, as botocore's Stubber does: the response is
    checked against the operation's output shape (botocore's model) and handed back as
    parsed; every other call reaches moto. Records every call formkiq-dr's clients make."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Call] = []
        self._answers: dict[tuple[str, str], Answer] = {}
        hook_clients(monkeypatch, "before-parameter-build", self._remember)
        hook_clients(monkeypatch, "before-call", self._before_call)

    def answer(self, service: str, operation: str, respond: Answer) -> None:
        self._answers[(service, operation)] = respond

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """The call's parameters as the caller gave them (before-call sees the request)."""
        context["answers_params"] = dict(params)

    def _before_call(
        self, model: Any, context: dict[str, Any], request_signer: Any, **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        service = model.service_model.service_name
        region = str(request_signer.region_name)
        params = context.get("answers_params", {})
        self.calls.append(Call(service, model.name, region, params))
        respond = self._answers.get((service, model.name))
        response = respond(region, params) if respond else None
        if response is None:
            return None
        validate_parameters(response, model.output_shape)
        parsed = dict(response, ResponseMetadata={"HTTPStatusCode": 200})
        url = f"https://{service}.{region}.amazonaws.com/"
        return AWSResponse(url, 200, HTTPHeaders(), None), parsed

    def writes(self) -> list[str]:
        return [
            f"{c.service}:{c.operation}"
            for c in self.calls
            if not c.operation.startswith(READ_ONLY_PREFIXES) and c.operation != "GetCallerIdentity"
        ]


@dataclass
class DrSide:
    """What the test can change about the DR side before running a command."""

    world: World
    answers: AwsAnswers
    replica_status: dict[str, str] = field(
        default_factory=lambda: {DOCUMENTS: "ACTIVE", SYNCS: "ACTIVE"}
    )
    """Each table's ReplicaStatus for DR as the source's DescribeTable reports it."""
    copies: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    """(region, resource ARN) -> ages in hours of its completed recovery points there."""
    air_gapped: dict[str, Any] | None = None
    """DescribeBackupVault's answer for the air-gapped vault; None: there is no such vault."""

    def client(self, service: str, region: str = DR) -> Any:
        return self.world.session.client(service, region_name=region)  # type: ignore[call-overload]

    def latency(self, milliseconds: float, table: str = DOCUMENTS, minutes_ago: int = 2) -> None:
        """A ReplicationLatency datapoint for `table`'s replica in DR, in the source region."""
        self.client("cloudwatch", PRIMARY).put_metric_data(
            Namespace="AWS/DynamoDB",
            MetricData=[
                {
                    "MetricName": "ReplicationLatency",
                    "Dimensions": [
                        {"Name": "TableName", "Value": table},
                        {"Name": "ReceivingRegion", "Value": DR},
                    ],
                    "Value": milliseconds,
                    "Unit": "Milliseconds",
                    "Timestamp": datetime.now(UTC) - timedelta(minutes=minutes_ago),
                }
            ],
        )


def dr_side(
    world: World, monkeypatch: pytest.MonkeyPatch, *, latency_ms: float | None = 850.0
) -> DrSide:
    """The seeded FormKiQ as a healthy Enterprise stack leaves it, in both regions; with
    `latency_ms` None, nothing was written lately, so no ReplicationLatency was published."""
    side = DrSide(world, AwsAnswers(monkeypatch))
    _add_newest_document(world)
    _replica_tables(side)
    replication = _replica_buckets(side, monkeypatch)
    _exports(side, monkeypatch, replication)
    _vaults(side)
    side.air_gapped = air_gapped_vault()
    side.copies = {
        **{(PRIMARY, arn): [2.0] for arn in ARNS.values()},
        **{(DR, arn): [3.0] for arn in ARNS.values()},
    }
    side.answers.answer("backup", "ListRecoveryPointsByResource", _recovery_points(side))
    side.answers.answer("backup", "DescribeBackupVault", _air_gapped_answer(side))
    hook_clients(monkeypatch, "after-call.dynamodb.DescribeTable", _replica_views(side))
    if latency_ms is not None:
        for table in (DOCUMENTS, SYNCS):
            side.latency(latency_ms, table)
    return side


def air_gapped_vault(**changes: Any) -> dict[str, Any]:
    """DescribeBackupVault's answer for a logically air-gapped vault (AWS's shape)."""
    return {
        "BackupVaultName": AIR_GAPPED,
        "BackupVaultArn": f"arn:aws:backup:{DR}:{MOTO_ACCOUNT}:backup-vault:{AIR_GAPPED}",
        "VaultType": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT",
        "VaultState": "AVAILABLE",
        "CreationDate": datetime.now(UTC) - timedelta(days=30),
        "NumberOfRecoveryPoints": 12,
        "Locked": True,
        "MinRetentionDays": 7,
        "MaxRetentionDays": 2555,
        "EncryptionKeyType": "AWS_OWNED_KMS_KEY",
    } | changes


def _add_newest_document(world: World) -> None:
    today = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    stamp = today.strftime("%Y-%m-%dT%H:%M:%S+0000")
    body = b"the newest document\n"
    put = world.client("s3").put_object(Bucket=BUCKET, Key=NEWEST_KEY, Body=body)
    item = {
        "PK": {"S": f"finance/docs#{NEWEST_ID}"},
        "SK": {"S": "document"},
        "documentId": {"S": NEWEST_ID},
        "path": {"S": "invoices/newest.txt"},
        "contentLength": {"N": str(len(body))},
        "s3version": {"S": put["VersionId"]},
        "inserteddate": {"S": stamp},
        "lastModifiedDate": {"S": stamp},
        "GSI1PK": {"S": f"finance/docts#{today:%Y-%m-%d}"},
        "GSI1SK": {"S": f"{stamp}#{NEWEST_ID}"},
    }
    write_items(world.client("dynamodb"), [(DOCUMENTS, item)])


def _replica_tables(side: DrSide) -> None:
    """Each protected table in DR with the source's items: what a replica holds."""
    source, replica = side.world.client("dynamodb"), side.client("dynamodb")
    for table in side.world.sample.tables:
        if table.name not in (DOCUMENTS, SYNCS):
            continue
        create_formkiq_table(replica, table)
        items = source.scan(TableName=table.name)["Items"]
        write_items(replica, [(table.name, item) for item in items])


def _replica_buckets(side: DrSide, monkeypatch: pytest.MonkeyPatch) -> FaithfulReplication:
    """Both replica buckets, versioned, our rule on the documents bucket; every current version
    of the documents in the replica at its version id, and S3 saying each was replicated."""
    s3 = side.client("s3")
    for bucket in (DOCUMENTS_REPLICA, EXPORTS_REPLICA):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": DR})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for listed in side.world.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]:
        write_replica(side.world, listed["Key"])
    replication = FaithfulReplication()
    replication.attach_to_dr_clients(monkeypatch)
    rule = our_replication(DOCUMENTS_REPLICA, role("documents"))
    replication.put(side.world.client("s3"), BUCKET, rule)
    ReplicationStatuses().attach(monkeypatch)
    return replication


def _exports(
    side: DrSide, monkeypatch: pytest.MonkeyPatch, replication: FaithfulReplication
) -> None:
    """Fresh exports in the exports bucket, our rule on it, and all of it in the replica
    (tables' exports with the summary manifests DynamoDB writes, which moto does not)."""
    world = side.world
    record_export_times(world.session, monkeypatch)
    expectations = good_exports(world.session, world.sample, world.pool_id)
    source, replica = world.client("s3"), side.client("s3")
    replication.put(source, EXPORTS, our_replication(EXPORTS_REPLICA, role("exports")))
    for listed in source.list_objects_v2(Bucket=EXPORTS).get("Contents", []):
        body = source.get_object(Bucket=EXPORTS, Key=listed["Key"])["Body"].read()
        replica.put_object(Bucket=EXPORTS_REPLICA, Key=listed["Key"], Body=body)
    key = f"arn:aws:kms:{DR}:{MOTO_ACCOUNT}:key/exports"
    for table in expectations.tables:
        write_completed_table_export(
            world.session,
            EXPORTS_REPLICA,
            key,
            TableExpectation(table.name, table.arn),
            when=datetime.now(UTC) - timedelta(days=2),
            item_count=10,
        )


def _vaults(side: DrSide) -> None:
    """Both vaults, each with the governance lock the stack sets (7..2555 days)."""
    for region, name in ((PRIMARY, VAULT), (DR, DR_VAULT)):
        backup = side.client("backup", region)
        backup.create_backup_vault(BackupVaultName=name)
        backup.put_backup_vault_lock_configuration(
            BackupVaultName=name, MinRetentionDays=7, MaxRetentionDays=2555
        )


def _recovery_points(side: DrSide) -> Answer:
    def respond(region: str, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["ResourceArn"]
        vault = VAULT if region == PRIMARY else DR_VAULT
        answer: dict[str, Any] = recovery_points(arn, side.copies.get((region, arn), []), vault)
        return answer

    return respond


def _air_gapped_answer(side: DrSide) -> Answer:
    """The air-gapped vault's description; every other vault is moto's."""

    def respond(region: str, params: dict[str, Any]) -> dict[str, Any] | None:
        if params.get("BackupVaultName") != AIR_GAPPED or side.air_gapped is None:
            return None
        return side.air_gapped

    return respond


def _replica_views(side: DrSide) -> Callable[..., None]:
    """DescribeTable's `Replicas[]` in both regions' answers (ReplicaDescription's shape)."""

    def with_replicas(parsed: dict[str, Any], **_: Any) -> None:
        table = parsed.get("Table", {})
        name, arn = table.get("TableName"), str(table.get("TableArn", ""))
        if name not in side.replica_status:
            return
        if f":{PRIMARY}:" in arn:
            table["Replicas"] = [{"RegionName": DR, "ReplicaStatus": side.replica_status[name]}]
        elif f":{DR}:" in arn:
            table["Replicas"] = [{"RegionName": PRIMARY, "ReplicaStatus": "ACTIVE"}]

    return with_replicas


def enterprise_outputs(tmp_path: Path, **changes: Any) -> Path:
    """`pulumi stack output --json` of an Enterprise stack over the seeded FormKiQ (the shape
    formkiq_backup.offline.program renders for Pulumi.dr.yaml)."""
    lock = {"mode": "governance", "minRetentionDays": 7, "maxRetentionDays": 2555}
    expectations: dict[str, Any] = {
        "tier": "enterprise",
        "appEnvironment": "prod",
        "primaryRegion": PRIMARY,
        "drRegion": DR,
        "tables": [DOCUMENTS, SYNCS],
        "buckets": [BUCKET],
        "vaults": [
            {"name": VAULT, "region": PRIMARY, "maxRecoveryPointAgeHours": 26, "locked": True},
            {"name": DR_VAULT, "region": DR, "maxRecoveryPointAgeHours": 26, "locked": True},
        ],
        "globalTableReplicaRegions": [DR],
        "replication": [
            _replication("documents", BUCKET, DOCUMENTS_REPLICA),
            _replication("exports", EXPORTS, EXPORTS_REPLICA),
        ],
        "airGappedVault": {
            "name": AIR_GAPPED,
            "region": DR,
            "resourceTypes": ["S3"],
            "arn": f"arn:aws:backup:{DR}:{MOTO_ACCOUNT}:backup-vault:{AIR_GAPPED}",
        },
        "vaultLocks": [
            {"name": VAULT, "region": PRIMARY, **lock, "changeableForDays": None},
            {"name": DR_VAULT, "region": DR, **lock, "changeableForDays": None},
            {"name": AIR_GAPPED, "region": DR, **lock, "mode": "compliance"},
        ],
    } | changes
    outputs = {
        "tier": expectations["tier"],
        "recoveryObjectives": {"documentMetadata": {"rpo": "1 minute", "rpoMinutes": 1}},
        "verifyExpectations": expectations,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs, indent=2))
    return path


def _replication(kind: str, source: str, replica: str) -> dict[str, str]:
    return {
        "replicated": kind,
        "sourceBucket": source,
        "replicaBucket": replica,
        "replicaRegion": DR,
        "ruleId": "formkiq-backup-dr",
        "roleArn": f"arn:aws:iam::{MOTO_ACCOUNT}:role/formkiq-prod-{kind}-replication",
    }
