"""The guardrails of the formkiq-backup policy pack, as plain functions over (type, props).

No pulumi-policy import here: the pack's entry point (`policy/__main__.py`) wraps these in
CrossGuard policies, and the tests call them directly, on resources our own tiers register
under mocks and on deliberately broken ones. Props use the engine's camelCase input names. A
value the engine does not know yet (during `pulumi preview`) is `UNKNOWN`, and a rule never
fails on one: it judges only what it can see.

AWS's lifecycle, window, schedule and name rules are formkiq_backup.aws_rules' own checks,
imported, so the pack and the program never disagree.
"""

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from formkiq_backup import aws_rules


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()

VAULT = "aws:backup/vault:Vault"
AIR_GAPPED_VAULT = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
VAULT_POLICY = "aws:backup/vaultPolicy:VaultPolicy"
PLAN = "aws:backup/plan:Plan"
KEY = "aws:kms/key:Key"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
IAM_POLICY_TYPES = (
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
IAM_ROLE = "aws:iam/role:Role"
IAM_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
)
# What holds backup data (or the key to it): removing one must never delete it.
DATA_HOLDERS = (VAULT, AIR_GAPPED_VAULT, TABLE_REPLICA, *BUCKETS)
# Inputs through which a data holder names the KMS key its data is encrypted with.
_KEY_INPUTS: Mapping[str, tuple[str, ...]] = {
    VAULT: ("kmsKeyArn",),
    AIR_GAPPED_VAULT: ("encryptionKeyArn",),
    TABLE_REPLICA: ("kmsKeyArn",),
    REPLICATION: ("rules",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "rules",
    ),
}
# The statement AWS Config's backup-recovery-point-manual-deletion-disabled rule requires: a Deny
# of these three actions, with a wildcard Principal and Resource (AWS Config developer guide).
DENY_DELETE_ACTIONS = frozenset(
    {
        "backup:DeleteRecoveryPoint",
        "backup:UpdateRecoveryPointLifecycle",
        "backup:PutBackupVaultAccessPolicy",
    }
)
# AWS/Backup metrics of failed jobs (AWS Backup developer guide, "Monitoring AWS Backup metrics
# with CloudWatch").
_FAILURE_METRICS = frozenset(
    {
        "NumberOfBackupJobsFailed",
        "NumberOfBackupJobsAborted",
        "NumberOfBackupJobsExpired",
        "NumberOfCopyJobsFailed",
    }
)
_ADMINISTRATOR_POLICY = ":iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class Resource:
    """One resource as a policy sees it."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    protect: bool = False
    retain_on_delete: bool | None = None
    """None where the caller cannot see it: CrossGuard's PolicyResourceOptions has no
    retainOnDelete (pulumi-policy 1.21), so the pack checks `protect` alone."""
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Input -> URNs of the resources its value comes from."""


@dataclass(frozen=True)
class ResourceRule:
    """A rule over one resource: the messages of its violations (none: it passes)."""

    name: str
    description: str
    check: Callable[[Resource], list[str]]


@dataclass(frozen=True)
class StackRule:
    """A rule over every resource of a stack: (URN or "", message) of each violation."""

    name: str
    description: str
    check: Callable[[Sequence[Resource]], list[tuple[str, str]]]


def _known(value: Any) -> bool:
    return value is not UNKNOWN


def _document(value: Any) -> Mapping[str, Any] | None:
    """A policy document given as JSON text or as an object; None when not known."""
    if not _known(value) or value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return value if isinstance(value, Mapping) else None


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if document is None:
        return []
    return [s for s in _listed(document.get("Statement")) if isinstance(s, Mapping)]


def _days(value: Any) -> int | None:
    return int(float(value)) if _known(value) and value not in (None, "") else None


# --- resource rules -------------------------------------------------------------------------


def vault_encrypted_with_cmk(resource: Resource) -> list[str]:
    """A vault's recovery points are encrypted with a customer managed key: its policy is the
    stack's to guard (only break-glass roles may schedule its deletion). Without one, AWS Backup
    uses the AWS managed key aws/backup, whose policy nobody can restrict."""
    if resource.type != VAULT:
        return []
    key = resource.props.get("kmsKeyArn")
    if not _known(key):
        return []
    if not key:
        return [
            "backup vault has no kmsKeyArn: its recovery points use the AWS managed key "
            "aws/backup; give it a customer managed KMS key"
        ]
    if str(key).endswith("alias/aws/backup"):
        return [
            f"backup vault is encrypted with the AWS managed key ({key}); give it a "
            "customer managed KMS key"
        ]
    return []


def vault_policy_denies_recovery_point_deletion(resource: Resource) -> list[str]:
    """The vault policy holds the Deny AWS Config's backup-recovery-point-manual-deletion-disabled
    rule requires: DeleteRecoveryPoint, UpdateRecoveryPointLifecycle and
    PutBackupVaultAccessPolicy, Principal and Resource `*`."""
    if resource.type != VAULT_POLICY:
        return []
    raw = resource.props.get("policy")
    if not _known(raw):
        return []
    for statement in _statements(_document(raw)):
        principal = statement.get("Principal")
        everyone = principal == "*" or (
            isinstance(principal, Mapping) and "*" in _listed(principal.get("AWS"))
        )
        if (
            statement.get("Effect") == "Deny"
            and everyone
            and "*" in _listed(statement.get("Resource"))
            and set(_listed(statement.get("Action"))) >= DENY_DELETE_ACTIONS
        ):
            return []
    return [
        "vault policy has no Deny of "
        + ", ".join(sorted(DENY_DELETE_ACTIONS))
        + " with Principal and Resource '*' (AWS Config rule "
        "backup-recovery-point-manual-deletion-disabled): anyone IAM allows can delete "
        "recovery points"
    ]


def _lifecycle(value: Any) -> tuple[int, int | None] | None:
    """(deleteAfter, coldStorageAfter) of a lifecycle that deletes; None if it never does."""
    if not isinstance(value, Mapping):
        return None
    delete_after = _days(value.get("deleteAfter"))
    if delete_after is None:
        return None
    return delete_after, _days(value.get("coldStorageAfter"))


def plan_follows_aws_rules(resource: Resource) -> list[str]:
    """Each rule and copy action as AWS Backup accepts them: lifecycles (1..36500 days; cold at
    least 90 days before deletion), windows (start >= 60 min, completion longer), schedule and
    name: formkiq_backup.aws_rules' checks."""
    if resource.type != PLAN:
        return []
    problems: list[str] = []
    for rule in _listed(resource.props.get("rules")):
        if not isinstance(rule, Mapping):
            continue
        name = str(rule.get("ruleName", "?"))
        found: list[str] = []
        if _known(rule.get("ruleName")):
            found += aws_rules.rule_name_problems(name)
        lifecycle = _lifecycle(rule.get("lifecycle"))
        if lifecycle is not None:
            found += aws_rules.lifecycle_problems(*lifecycle)
        start, completion = _days(rule.get("startWindow")), _days(rule.get("completionWindow"))
        if start is not None and completion is not None:
            found += aws_rules.window_problems(start, completion)
        schedule = rule.get("schedule")
        if _known(schedule) and schedule:
            try:
                aws_rules.parse_backup_schedule(str(schedule))
            except aws_rules.ScheduleError as error:
                found.append(f"schedule {schedule}: {error}")
        for copy in _listed(rule.get("copyActions")):
            copied = _lifecycle(copy.get("lifecycle")) if isinstance(copy, Mapping) else None
            if copied is not None:
                found += aws_rules.copy_lifecycle_problems(*copied)
        problems += [f"rule {name}: {problem}" for problem in found]
    return problems


def copies_have_lifecycles(resource: Resource) -> list[str]:
    """Every copy action says when its copies expire: a copy without a lifecycle follows its
    source's (AWS::Backup::BackupPlan CopyActionResourceType), so the DR side's retention is
    decided nowhere a reviewer looks, and no vault lock's bounds can be sized to it."""
    if resource.type != PLAN:
        return []
    problems = []
    for rule in _listed(resource.props.get("rules")):
        if not isinstance(rule, Mapping):
            continue
        for copy in _listed(rule.get("copyActions")):
            if not isinstance(copy, Mapping):
                continue
            lifecycle = copy.get("lifecycle")
            if not _known(lifecycle):
                continue
            if not isinstance(lifecycle, Mapping) or _days(lifecycle.get("deleteAfter")) is None:
                problems.append(
                    f"rule {rule.get('ruleName', '?')}: copy to "
                    f"{copy.get('destinationVaultArn')} has no lifecycle (deleteAfter)"
                )
    return problems


def _enabled(block: Any) -> bool:
    return isinstance(block, Mapping) and block.get("status") == "Enabled"


def replication_has_delete_markers_and_rtc(resource: Resource) -> list[str]:
    """Each enabled replication rule replicates delete markers (so a deleted document reads as
    deleted in drRegion too) and runs with RTC and its metrics (AmazonS3 user guide, "Meeting
    compliance requirements with S3 Replication Time Control": ReplicationTime comes with
    Metrics)."""
    if resource.type != REPLICATION:
        return []
    problems = []
    for rule in _listed(resource.props.get("rules")):
        if not isinstance(rule, Mapping) or rule.get("status") != "Enabled":
            continue
        name = f"rule {rule.get('id', '?')}"
        destination = rule.get("destination") or {}
        if _known(rule.get("deleteMarkerReplication")) and not _enabled(
            rule.get("deleteMarkerReplication")
        ):
            problems.append(f"{name}: delete marker replication is not Enabled")
        if isinstance(destination, Mapping):
            if _known(destination.get("replicationTime")) and not _enabled(
                destination.get("replicationTime")
            ):
                problems.append(
                    f"{name}: Replication Time Control (replicationTime) is not Enabled"
                )
            if _known(destination.get("metrics")) and not _enabled(destination.get("metrics")):
                problems.append(f"{name}: replication metrics are not Enabled (RTC needs them)")
    return problems


def _allows_everything(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Allow" or "*" not in _listed(statement.get("Resource")):
        return False
    if "NotAction" in statement:
        return True
    return any(action in ("*", "*:*") for action in _listed(statement.get("Action")))


def no_iam_star_on_star(resource: Resource) -> list[str]:
    """No IAM policy allows every action on every resource (nor all but a few: NotAction),
    and no AdministratorAccess attachment: a backup role that can do anything can delete what
    it backs up."""
    documents: list[Any] = []
    if resource.type in IAM_POLICY_TYPES:
        documents.append(resource.props.get("policy"))
    elif resource.type == IAM_ROLE:
        inline = resource.props.get("inlinePolicies")
        documents += [p.get("policy") for p in _listed(inline) if isinstance(p, Mapping)]
    elif resource.type in IAM_ATTACHMENTS:
        arn = resource.props.get("policyArn")
        if _known(arn) and str(arn).endswith(_ADMINISTRATOR_POLICY):
            return [f"attaches {arn}: every action on every resource"]
        return []
    problems = []
    for document in documents:
        for statement in _statements(_document(document)):
            if _allows_everything(statement):
                what = f"all but {statement.get('NotAction')}" if "NotAction" in statement else "*"
                problems.append(f"statement {statement.get('Sid', '(no Sid)')} allows {what} on *")
    return problems


RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "vault-encrypted-with-cmk",
        "Backup vaults are encrypted with a customer managed KMS key.",
        vault_encrypted_with_cmk,
    ),
    ResourceRule(
        "vault-policy-denies-recovery-point-deletion",
        "Vault access policies deny DeleteRecoveryPoint, UpdateRecoveryPointLifecycle and "
        "PutBackupVaultAccessPolicy to '*' (AWS Config backup-recovery-point-manual-deletion-"
        "disabled).",
        vault_policy_denies_recovery_point_deletion,
    ),
    ResourceRule(
        "backup-rules-follow-aws-rules",
        "Backup rules and copy actions obey AWS Backup's lifecycle, window, schedule and name "
        "rules.",
        plan_follows_aws_rules,
    ),
    ResourceRule(
        "copies-have-lifecycles",
        "Every copy action has a lifecycle that deletes its copies.",
        copies_have_lifecycles,
    ),
    ResourceRule(
        "replication-has-delete-markers-and-rtc",
        "S3 replication rules replicate delete markers and run with RTC and metrics.",
        replication_has_delete_markers_and_rtc,
    ),
    ResourceRule(
        "no-iam-star-on-star",
        "No IAM policy allows every action on every resource.",
        no_iam_star_on_star,
    ),
)


# --- stack rules ----------------------------------------------------------------------------


def _identifiers(resource: Resource) -> set[str]:
    """What other resources' inputs may call this one: its URN, and its ARN, id or name once
    known."""
    found = {resource.urn}
    for key in ("arn", "keyId", "id", "name", "bucket"):
        value = resource.props.get(key)
        if _known(value) and isinstance(value, str) and value:
            found.add(value)
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _referenced_keys(resources: Sequence[Resource]) -> set[str]:
    """Identifiers of the keys data holders are encrypted with: values and the URNs their
    inputs come from (the key's ARN is not known yet in a first preview)."""
    referenced: set[str] = set()
    for resource in resources:
        for key in _KEY_INPUTS.get(resource.type, ()):
            referenced.update(_strings(resource.props.get(key)))
            referenced.update(resource.property_dependencies.get(key, ()))
    return referenced


def data_holders_protected_and_retained(resources: Sequence[Resource]) -> list[tuple[str, str]]:
    """Vaults, buckets, table replicas and the keys they are encrypted with are `protect`ed
    (Pulumi refuses to delete them) and retained on delete (a removal from the program leaves
    them in AWS): a config change must never delete backup data."""
    keys = _referenced_keys(resources)
    problems = []
    for resource in resources:
        holds = resource.type in DATA_HOLDERS or (
            resource.type == KEY and bool(_identifiers(resource) & keys)
        )
        if not holds:
            continue
        missing = [] if resource.protect else ["protect"]
        if resource.retain_on_delete is False:
            missing.append("retainOnDelete")
        if missing:
            problems.append(
                (
                    resource.urn,
                    f"{resource.type} {resource.name} holds backup data but lacks "
                    f"{' and '.join(missing)}",
                )
            )
    return problems


def vaults_have_deny_delete_policies(resources: Sequence[Resource]) -> list[tuple[str, str]]:
    """Every vault has an access policy (whose content vault-policy-denies-recovery-point-
    deletion checks): a vault without one lets anyone IAM allows delete its recovery points."""
    covered: set[str] = set()
    for resource in resources:
        if resource.type == VAULT_POLICY:
            covered.update(_strings(resource.props.get("backupVaultName")))
            covered.update(resource.property_dependencies.get("backupVaultName", ()))
    return [
        (
            resource.urn,
            f"backup vault {resource.name} has no vault access policy denying recovery point "
            "deletion",
        )
        for resource in resources
        if resource.type == VAULT and not (_identifiers(resource) & covered)
    ]


def _watches_backup_failures(resource: Resource) -> bool:
    if resource.type == METRIC_ALARM:
        return (
            resource.props.get("namespace") == "AWS/Backup"
            and resource.props.get("metricName") in _FAILURE_METRICS
        )
    if resource.type == EVENT_RULE:
        pattern = _document(resource.props.get("eventPattern")) or {}
        states = (pattern.get("detail") or {}).get("state") or []
        return "aws.backup" in _listed(pattern.get("source")) and "FAILED" in _listed(states)
    return False


def backup_failures_alarmed(resources: Sequence[Resource]) -> list[tuple[str, str]]:
    """A stack with a backup plan hears when a job fails: an EventBridge rule on AWS Backup's
    FAILED job states with a target, or a CloudWatch alarm on a failed-jobs metric with an
    action. AWS Backup's vault notifications for failed jobs are deprecated and never sent
    (AWS Backup API reference, PutBackupVaultNotifications)."""
    if not any(resource.type == PLAN for resource in resources):
        return []
    targeted: set[str] = set()
    for resource in resources:
        if resource.type == EVENT_TARGET:
            targeted.update(_strings(resource.props.get("rule")))
            targeted.update(resource.property_dependencies.get("rule", ()))
    for resource in resources:
        if not _watches_backup_failures(resource):
            continue
        if resource.type == METRIC_ALARM and _listed(resource.props.get("alarmActions")):
            return []
        if resource.type == EVENT_RULE and _identifiers(resource) & targeted:
            return []
    return [
        (
            "",
            "the stack has a backup plan but nothing alarms on failed backup jobs: add an "
            "EventBridge rule on aws.backup job state FAILED with a target, or a CloudWatch "
            "alarm on NumberOfBackupJobsFailed with an action",
        )
    ]


STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "data-holders-protected-and-retained",
        "Vaults, buckets, table replicas and the keys that encrypt them are protected (and "
        "retained on delete, where that can be seen).",
        data_holders_protected_and_retained,
    ),
    StackRule(
        "vaults-have-deny-delete-policies",
        "Every backup vault has an access policy.",
        vaults_have_deny_delete_policies,
    ),
    StackRule(
        "backup-failures-alarmed",
        "A stack with a backup plan alarms on failed backup jobs.",
        backup_failures_alarmed,
    ),
)


def violations(resources: Sequence[Resource]) -> dict[str, list[tuple[str, str]]]:
    """Every rule's violations over a stack, by rule name (an empty list: it passes)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for rule in RESOURCE_RULES:
        found[rule.name] = [
            (resource.urn, message) for resource in resources for message in rule.check(resource)
        ]
    for stack_rule in STACK_RULES:
        found[stack_rule.name] = stack_rule.check(resources)
    return found
