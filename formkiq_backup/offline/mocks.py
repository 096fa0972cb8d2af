"""Pulumi mocks that answer invokes from a sample FormKiQ deployment and record everything.

Strict on purpose: an invoke nobody answers fails the run (Pulumi's default would quietly
return empty fields), and answers use the provider's camelCase schema keys, as the real
provider returns them.
"""

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

from formkiq_backup.offline.samples import SampleFormKiQ


class UnansweredInvokeError(LookupError):
    """The program called an invoke the offline environment does not answer."""


@dataclass(frozen=True)
class AliasSpec:
    """One alias a resource was registered with, as the engine receives it (an alias spec)."""

    name: str = ""
    type: str = ""
    parent_urn: str = ""
    no_parent: bool = False
    """`Alias(parent=pulumi.ROOT_STACK_RESOURCE)`: the resource used to have no parent."""
    urn: str = ""
    """A whole URN given as the alias, instead of a spec."""

    @classmethod
    def from_request(cls, alias: Any) -> "AliasSpec":
        if alias.urn:
            return cls(urn=alias.urn)
        spec = alias.spec
        return cls(spec.name, spec.type, spec.parentUrn, spec.noParent)


@dataclass(frozen=True)
class RegisteredResource:
    """One resource registration as the engine would receive it."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    custom: bool
    parent_urn: str
    protect: bool
    retain_on_delete: bool
    dependencies: tuple[str, ...] = ()
    """URNs this resource waits for: explicit depends_on and those its inputs come from."""
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    aliases: tuple[AliasSpec, ...] = ()
    """Mocks resolve no alias: formkiq_backup.offline.urns does, as the engine would."""
    provider: str = ""
    """The explicit provider reference (`<urn>::<id>`) it was sent; "" for the default one."""
    property_dependencies: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(input, URNs its value comes from), as the engine receives them: what links a vault to
    its key while the key's ARN is still unknown."""


@dataclass
class FormKiQMocks(pulumi.runtime.Mocks):
    """Answers AWS invokes from `sample`; records invokes and resource inputs."""

    sample: SampleFormKiQ
    invokes: list[MockCallArgs] = field(default_factory=list)
    created: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict
    )

    def call(self, args: MockCallArgs) -> Any:
        self.invokes.append(args)
        answer = {
            "aws:index/getCallerIdentity:getCallerIdentity": self._caller_identity,
            "aws:index/getRegion:getRegion": self._region,
            "aws:index/getPartition:getPartition": self._partition,
            "aws:ssm/getParametersByPath:getParametersByPath": self._parameters_by_path,
            "aws:dynamodb/getTable:getTable": self._table,
            "aws:s3/getBucket:getBucket": self._bucket,
        }.get(args.token)
        if answer is None:
            raise UnansweredInvokeError(f"no offline answer for invoke {args.token} {args.args}")
        return answer(args.args)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = {**args.inputs, **self._computed(args)}
        self.created[(args.typ, args.name)] = (dict(args.inputs), state)
        if not args.custom:
            return None, {}
        return args.resource_id or state.get("id") or f"{args.name}-id", state

    # --- invoke answers (camelCase, as the provider's schema names them) ---------------------

    def _caller_identity(self, _: dict[str, Any]) -> dict[str, Any]:
        account = self.sample.account_id
        return {
            "accountId": account,
            "userId": "AROAEXAMPLEDEPLOYER:deploy",
            "arn": f"arn:{self.sample.partition}:sts::{account}:assumed-role/deployer/deploy",
            "id": account,
        }

    def _region(self, _: dict[str, Any]) -> dict[str, Any]:
        region = self.sample.region
        return {
            "region": region,
            "name": region,
            "id": region,
            "description": region,
            "endpoint": f"ec2.{region}.amazonaws.com",
        }

    def _partition(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "partition": self.sample.partition,
            "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws",
            "id": self.sample.partition,
        }

    def _parameters_by_path(self, args: dict[str, Any]) -> dict[str, Any]:
        # SSM matches by hierarchy: /formkiq/prod does not match /formkiq/production/x.
        path = args["path"].rstrip("/")
        recursive = bool(args.get("recursive"))
        names = sorted(
            name
            for name in self.sample.parameters
            if name.startswith(path + "/") and (recursive or "/" not in name[len(path) + 1 :])
        )
        return {
            "id": path,
            "path": args["path"],
            "recursive": recursive,
            "withDecryption": bool(args.get("withDecryption", True)),
            "region": self.sample.region,
            "names": names,
            "values": [self.sample.parameters[name] for name in names],
            "types": ["String"] * len(names),
            "arns": [
                f"arn:{self.sample.partition}:ssm:{self.sample.region}:{self.sample.account_id}"
                f":parameter{n}"
                for n in names
            ],
        }

    def _table(self, args: dict[str, Any]) -> dict[str, Any]:
        table = self.sample.table(args["name"])
        if table is None:
            raise LookupError(
                f"reading DynamoDB Table ({args['name']}): ResourceNotFoundException:"
                " Requested resource not found"
            )
        return {
            "id": table.name,
            "name": table.name,
            "arn": self.sample.table_arn(table.name),
            "billingMode": "PAY_PER_REQUEST",
            "hashKey": "PK",
            "rangeKey": "SK",
            "streamEnabled": table.stream_view_type is not None,
            "streamViewType": table.stream_view_type or "",
            "streamArn": self.sample.stream_arn(table.name) if table.stream_view_type else "",
            "streamLabel": "2026-03-02T10:15:30.123" if table.stream_view_type else "",
            "pointInTimeRecovery": {
                "enabled": table.pitr_enabled,
                "recoveryPeriodInDays": table.pitr_recovery_period_days
                if table.pitr_enabled
                else 0,
            },
            "deletionProtectionEnabled": False,
            "tags": dict(table.tags),
            "ttl": {"attributeName": "TimeToLive", "enabled": True},
            "region": self.sample.region,
        }

    def _bucket(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args["bucket"]
        if name not in self.sample.buckets:
            raise LookupError(f"reading S3 Bucket ({name}): couldn't find resource")
        return {
            "id": name,
            "bucket": name,
            "arn": f"arn:{self.sample.partition}:s3:::{name}",
            "bucketRegion": self.sample.region,
            "region": self.sample.region,
            "bucketDomainName": f"{name}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{name}.s3.{self.sample.region}.amazonaws.com",
            "hostedZoneId": "Z3AQBSTGFYJSTF",
        }

    # --- computed resource outputs ----------------------------------------------------------

    def _computed(self, args: MockResourceArgs) -> dict[str, Any]:
        """The outputs AWS would compute, shaped like real ARNs and ids."""
        region = args.inputs.get("region") or self.sample.region
        account, partition = self.sample.account_id, self.sample.partition
        # Pulumi auto-names resources that are given no name: <resource name>-<7 hex>.
        name = args.inputs.get("name") or f"{args.name}-{_digest(args.name)[:7]}"
        token = str(uuid.UUID(_digest(args.typ + args.name)[:32]))
        base = f"arn:{partition}:{{}}:{region}:{account}:"
        computed: dict[str, Any] = {
            "aws:kms/key:Key": {"keyId": token, "arn": base.format("kms") + f"key/{token}"},
            "aws:kms/alias:Alias": {"arn": base.format("kms") + str(args.inputs.get("name"))},
            "aws:sns/topic:Topic": {"name": name, "arn": base.format("sns") + name},
            "aws:backup/vault:Vault": {
                "name": name,
                "arn": base.format("backup") + f"backup-vault:{name}",
            },
            "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": {
                "name": name,
                "arn": base.format("backup") + f"backup-vault:{name}",
            },
            "aws:backup/vaultLockConfiguration:VaultLockConfiguration": {
                "backupVaultArn": base.format("backup")
                + f"backup-vault:{args.inputs.get('backupVaultName')}",
            },
            "aws:dynamodb/tableReplica:TableReplica": {
                # The replica's ARN: the main table's name, in the replica's region.
                "arn": base.format("dynamodb")
                + "table/"
                + str(args.inputs.get("globalTableArn", "")).rsplit("/", 1)[-1],
            },
            "aws:ram/resourceShare:ResourceShare": {
                "arn": base.format("ram") + f"resource-share/{token}",
            },
            "aws:backup/plan:Plan": {
                "id": token,
                "version": "v1",
                "arn": base.format("backup") + f"backup-plan:{token}",
            },
            "aws:backup/selection:Selection": {"id": token},
            "aws:backup/restoreTestingPlan:RestoreTestingPlan": {
                "name": name,
                "arn": base.format("backup") + f"restore-testing-plan:{name}-{token[:8]}",
            },
            "aws:backup/framework:Framework": {
                "name": name,
                "arn": base.format("backup") + f"framework:{name}-{token}",
            },
            "aws:backup/reportPlan:ReportPlan": {
                "name": name,
                "arn": base.format("backup") + f"report-plan:{name}-{token}",
            },
            "aws:cloudwatch/dashboard:Dashboard": {
                "dashboardArn": f"arn:{partition}:cloudwatch::{account}:dashboard/"
                + str(args.inputs.get("dashboardName")),
            },
            "aws:cfg/recorder:Recorder": {"name": name},
            "aws:iam/role:Role": {
                "name": name,
                "id": name,
                "arn": f"arn:{partition}:iam::{account}:role/{name}",
            },
            "aws:lambda/function:Function": {
                "name": name,
                "arn": base.format("lambda") + f"function:{name}",
            },
            "aws:cloudwatch/logGroup:LogGroup": {
                "name": name,
                "arn": base.format("logs") + f"log-group:{name}",
            },
            "aws:cloudwatch/eventRule:EventRule": {
                "name": name,
                "arn": base.format("events") + f"rule/{name}",
            },
            "aws:cloudwatch/metricAlarm:MetricAlarm": {
                "name": name,
                "arn": base.format("cloudwatch") + f"alarm:{name}",
            },
            "aws:s3/bucket:Bucket": {
                "id": args.inputs.get("bucket") or name,
                "bucket": args.inputs.get("bucket") or name,
                "arn": f"arn:{partition}:s3:::{args.inputs.get('bucket') or name}",
                "bucketRegion": region,
            },
            "aws:sqs/queue:Queue": {
                "name": name,
                "arn": base.format("sqs") + name,
                "url": f"https://sqs.{region}.amazonaws.com/{account}/{name}",
            },
            "aws:scheduler/scheduleGroup:ScheduleGroup": {
                "name": name,
                "arn": base.format("scheduler") + f"schedule-group/{name}",
            },
            "aws:scheduler/schedule:Schedule": {
                "name": name,
                "arn": base.format("scheduler")
                + f"schedule/{args.inputs.get('groupName', 'default')}/{name}",
            },
        }.get(args.typ, {})
        return computed


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps the resource options mocks do not see (protect, retain,
    aliases)."""

    def __init__(self, mocks: FormKiQMocks) -> None:
        super().__init__(mocks)
        self.formkiq_mocks = mocks
        self.registrations: list[tuple[str, Any]] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.registrations.append((response.urn, request))
        return response

    def registered(self) -> list[RegisteredResource]:
        """Every resource except the root stack, in registration order."""
        found = []
        for urn, request in self.registrations:
            if request.type == "pulumi:pulumi:Stack":
                continue
            inputs, state = self.formkiq_mocks.created.get((request.type, request.name), ({}, {}))
            found.append(
                RegisteredResource(
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    inputs=inputs,
                    state=state,
                    custom=bool(request.custom),
                    parent_urn=request.parent,
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    dependencies=tuple(request.dependencies),
                    ignore_changes=tuple(request.ignoreChanges),
                    replace_on_changes=tuple(request.replaceOnChanges),
                    aliases=tuple(AliasSpec.from_request(alias) for alias in request.aliases),
                    provider=request.provider,
                    property_dependencies=tuple(
                        sorted(
                            (key, tuple(value.urns))
                            for key, value in request.propertyDependencies.items()
                        )
                    ),
                )
            )
        return found


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
