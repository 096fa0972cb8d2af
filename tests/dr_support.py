"""A seeded FormKiQ in moto and a way to run `formkiq-dr` against it, for the CLI tests."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from click.testing import CliRunner

from formkiq_backup.dr import context as dr_context
from formkiq_backup.dr.cli import cli
from formkiq_backup.dr.tables import MUTATING_CALLS
from formkiq_backup.offline.samples import SampleFormKiQ
from formkiq_backup.offline.seed import SeededDocument

MOTO_ACCOUNT = "123456789012"
DOCUMENTS = "formkiq-core-prod-documents"
SYNCS = "formkiq-core-prod-documentsyncs"
BUCKET = f"formkiq-core-prod-documents-{MOTO_ACCOUNT}"


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

    def replicate_documents(self, replica: str = "formkiq-prod-documents-replica") -> str:
        """Turn on replication of the whole documents bucket to a new versioned replica."""
        s3 = self.client("s3")
        s3.create_bucket(Bucket=replica)
        s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_replication(
            Bucket=BUCKET,
            ReplicationConfiguration={
                "Role": f"arn:aws:iam::{MOTO_ACCOUNT}:role/replication",
                "Rules": [
                    {
                        "ID": "documents",
                        "Priority": 1,
                        "Status": "Enabled",
                        "Filter": {},
                        "DeleteMarkerReplication": {"Status": "Enabled"},
                        "Destination": {"Bucket": f"arn:aws:s3:::{replica}"},
                    }
                ],
            },
        )
        return replica


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
