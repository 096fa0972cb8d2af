"""A seeded FormKiQ in moto and a way to run `formkiq-dr` against it, for the CLI tests."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from click.testing import CliRunner

from formkiq_backup.dr import context as dr_context
from formkiq_backup.dr.cli import cli
from formkiq_backup.dr.tables import MUTATING_CALLS
from formkiq_backup.offline.samples import SampleFormKiQ
from formkiq_backup.offline.seed import SeededDocument

if TYPE_CHECKING:
    from mypy_boto3_s3.literals import BucketLocationConstraintType

MOTO_ACCOUNT = "123456789012"
DOCUMENTS = "formkiq-core-prod-documents"
SYNCS = "formkiq-core-prod-documentsyncs"
BUCKET = f"formkiq-core-prod-documents-{MOTO_ACCOUNT}"
# The calls repair writes items with: an item deleted since is put, one changed since updated,
# one created since deleted (--delete-new); formkiq_backup/dr/writes.py.
ITEM_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


@dataclass
class Outcome:
    """What one CLI run returned: its exit code and its --json report."""

    exit_code: int
    report: dict[str, Any]
    stderr: str
    stdout: str = ""

    def entries(self, section: str) -> list[dict[str, Any]]:
        return [entry for entry in self.report["entries"] if entry["section"] == section]

    def statuses(self, section: str) -> dict[str, str]:
        return {entry["subject"]: entry["status"] for entry in self.entries(section)}


@dataclass
class World:
    """A FormKiQ 1.19 'prod' in moto: documents in sites default and finance, users."""

    session: boto3.session.Session
    sample: SampleFormKiQ
    documents: list[SeededDocument]
    pool_id: str

    def client(self, service: str) -> Any:
        return self.session.client(service)  # type: ignore[call-overload]

    def run(self, *args: str, app_env: str = "prod", as_json: bool = True) -> Outcome:
        """`formkiq-dr <args> --app-env <env> --json`, in-process; without `as_json`, the
        text summary, 200 columns wide."""
        flags = ["--app-env", app_env, *(["--json"] if as_json else [])]
        result = CliRunner().invoke(
            cli, [*args, *flags], catch_exceptions=False, env={"COLUMNS": "200"}
        )
        report = json.loads(result.stdout) if as_json and result.stdout.strip() else {}
        return Outcome(result.exit_code, report, result.stderr, result.stdout)

    def finance(self) -> list[SeededDocument]:
        return [d for d in self.documents if d.site == "finance"]

    def default_site(self) -> list[SeededDocument]:
        return [d for d in self.documents if d.site == "default"]

    def item(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.client("dynamodb").get_item(
            TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}}
        )
        item: dict[str, Any] | None = found.get("Item")
        return item

    def tables(self) -> set[str]:
        return set(self.client("dynamodb").list_tables()["TableNames"])


def watch_source_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every mutating call naming FormKiQ's tables or bucket that the CLI attempts.

    Registered first on each client the CLI creates, so attempts its own guard refuses are
    recorded too; an independent witness, not the guard checking itself.
    """
    seen: list[str] = []
    sources = {DOCUMENTS, SYNCS, BUCKET}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        if model.name not in MUTATING_CALLS.get(service, ()):
            return
        named = {params.get("TableName"), params.get("TargetTableName"), params.get("Bucket")}
        named |= set(params.get("RequestItems", {}))
        if named & sources:
            seen.append(f"{service}:{model.name}")

    original = dr_context.DrContext.client

    def watched(self: dr_context.DrContext, service: str, region: str | None = None) -> Any:
        created = original(self, service, region)
        if not getattr(created, "_watched", False):
            created.meta.events.register_first("before-parameter-build", record)
            created._watched = True
        return created

    monkeypatch.setattr(dr_context.DrContext, "client", watched)
    return seen


def hook_clients(monkeypatch: pytest.MonkeyPatch, event: str, handler: Any) -> None:
    """Register a botocore event handler, first, on every client formkiq-dr makes."""
    original = dr_context.DrContext.client

    def client_with_hook(
        self: dr_context.DrContext, service: str, region: str | None = None
    ) -> Any:
        created = original(self, service, region)
        hooked: set[str] = created.__dict__.setdefault("_test_hooks", set())
        if event not in hooked:
            created.meta.events.register_first(event, handler)
            hooked.add(event)
        return created

    monkeypatch.setattr(dr_context.DrContext, "client", client_with_hook)


def pitr_window(monkeypatch: pytest.MonkeyPatch, earliest: datetime, latest: datetime) -> None:
    """moto reports a PITR window frozen at the moment PITR was enabled (earliest = latest);
    AWS's moves: up to 35 days back, to about five minutes ago. Fill in AWS's, in the API's
    own shape, after moto answers DescribeContinuousBackups."""

    def with_window(parsed: dict[str, Any], **_: Any) -> None:
        pitr = parsed.get("ContinuousBackupsDescription", {}).get(
            "PointInTimeRecoveryDescription", {}
        )
        if pitr.get("PointInTimeRecoveryStatus") == "ENABLED":
            pitr.update(EarliestRestorableDateTime=earliest, LatestRestorableDateTime=latest)

    hook_clients(monkeypatch, "after-call.dynamodb.DescribeContinuousBackups", with_window)


def aws_error(
    monkeypatch: pytest.MonkeyPatch, service: str, operation: str, code: str, status: int
) -> list[str]:
    """Answer every call of `operation` with an AWS error, without sending it (as botocore's
    Stubber does, on the `before-call` event). Returns the calls answered so."""
    answered: list[str] = []

    def fail(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if model.name != operation:
            return None
        answered.append(operation)
        parsed = {
            "Error": {"Code": code, "Message": "not allowed" if status == 403 else "failed"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse(
            f"https://{service}.us-east-1.amazonaws.com/", status, HTTPHeaders(), None
        ), parsed

    hook_clients(monkeypatch, f"before-call.{service}.{operation}", fail)
    return answered


def no_aws_session(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record any attempt to open an AWS session: a usage error must come before one."""
    opened: list[str] = []

    def create(*args: Any, **kwargs: Any) -> Any:
        opened.append("DrContext.create")
        raise AssertionError("an AWS session was opened")

    monkeypatch.setattr(dr_context.DrContext, "create", create)
    return opened


def run_cli(*args: str, env: dict[str, str] | None = None) -> Outcome:
    """`formkiq-dr <args>` in-process, exactly as given (no --app-env or --json added)."""
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    report = json.loads(result.stdout) if "--json" in args and result.stdout.strip() else {}
    return Outcome(result.exit_code, report, result.stderr, result.stdout)


# Our replication rule as the stack puts it (AWS's API shape).
REPLICATION_RULE_ID = "formkiq-backup-dr"


def our_replication(replica: str, role: str, **rule_changes: Any) -> dict[str, Any]:
    """A ReplicationConfiguration holding our rule to `replica`, as the stack puts it."""
    rule: dict[str, Any] = {
        "ID": REPLICATION_RULE_ID,
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
        "Destination": {
            "Bucket": f"arn:aws:s3:::{replica}",
            "StorageClass": "STANDARD",
            "EncryptionConfiguration": {
                "ReplicaKmsKeyID": f"arn:aws:kms:us-west-2:{MOTO_ACCOUNT}:key/replica"
            },
            "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
        },
    }
    rule.update(rule_changes)
    return {"Role": role, "Rules": [rule]}


class FaithfulReplication:
    """S3 replication configurations as AWS gives them back.

    moto 5.2.5 answers GetBucketReplication with `DeleteMarkerReplication: Disabled` and
    `Filter: {Prefix: ""}` for every rule, whatever was put (moto/s3/responses.py,
    get_bucket_replication); AWS returns the rules as they were put. This puts a configuration
    into moto, remembers it, and hands it back whole after moto answers, on every client it is
    attached to.
    """

    def __init__(self) -> None:
        self.configurations: dict[str, dict[str, Any]] = {}

    def put(self, s3: Any, bucket: str, configuration: dict[str, Any]) -> None:
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=configuration)
        self.configurations[bucket] = configuration

    def attach(self, events: Any) -> None:
        events.register("before-parameter-build.s3.GetBucketReplication", self._remember)
        events.register("after-call.s3.GetBucketReplication", self._answer)

    def attach_to_dr_clients(self, monkeypatch: pytest.MonkeyPatch) -> None:
        hook_clients(monkeypatch, "before-parameter-build.s3.GetBucketReplication", self._remember)
        hook_clients(monkeypatch, "after-call.s3.GetBucketReplication", self._answer)

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["replication_bucket"] = params.get("Bucket")

    def _answer(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        stored = self.configurations.get(str(context.get("replication_bucket")))
        if stored is not None and "ReplicationConfiguration" in parsed:
            parsed["ReplicationConfiguration"] = json.loads(json.dumps(stored))


def replicas_in(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    region: "BucketLocationConstraintType",
    replicas: Sequence[str],
) -> FaithfulReplication:
    """Versioned replica buckets in `region` (as the Enhanced tier builds them), and S3's
    replication configurations handed back as put, on every client the command makes."""
    dr_s3 = world.session.client("s3", region_name=region)
    for replica in replicas:
        dr_s3.create_bucket(
            Bucket=replica, CreateBucketConfiguration={"LocationConstraint": region}
        )
        dr_s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    faithful = FaithfulReplication()
    faithful.attach_to_dr_clients(monkeypatch)
    return faithful
