"""`make review FROM=<stack>[:<tier>] TO=<stack>[:<tier>]`: what a config change does to backups.

Renders both configs offline (as `make preview` does; a side may also be a saved
`make preview FORMAT=json` document), matches their resources as the Pulumi engine would (by
URN, then by alias: formkiq_backup.offline.urns, so a tier change is not remove-all-add-all),
and reports, first, the data-loss risks; then the resources added, changed (with the settings
that change) and removed; the settings; and the change in recovery objectives.

Exit codes: 0 no risk, 1 risks found, 2 error (a stack rejected, a file missing or unreadable).
Like `make preview` it compares what the program asks for, not live state: `pulumi preview`
against the account remains the last word.
"""

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from formkiq_backup.offline.changes import replaced_by
from formkiq_backup.offline.document import (
    FORMAT,
    FORMAT_VERSION,
    preview_document,
    registered_resources,
)
from formkiq_backup.offline.program import PROJECT_DIR, StackFileError, run_program
from formkiq_backup.offline.topology import mermaid
from formkiq_backup.offline.urns import matches
from tiers.definitions import Tier

Entry = Mapping[str, Any]

NO_RISK, RISKS_FOUND, ERROR = 0, 1, 2

VAULT = "aws:backup/vault:Vault"
AIR_GAPPED_VAULT = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
TABLE = "aws:dynamodb/table:Table"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ALARMS = ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm")
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
VAULT_POLICY = "aws:backup/vaultPolicy:VaultPolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"

# What a data holder keeps, and what stays in AWS (and on the bill) when it is left unmanaged.
HOLDS: Mapping[str, tuple[str, str]] = {
    VAULT: (
        "recovery points",
        "the vault and every recovery point in it, billed at AWS Backup's storage rates until "
        "each expires by its lifecycle",
    ),
    AIR_GAPPED_VAULT: (
        "air-gapped recovery points",
        "the air-gapped vault and its recovery points, billed until each expires",
    ),
    KEY: (
        "the key that encrypts backup data",
        "the key ($1 a month): what it encrypts stays readable only while it exists",
    ),
    BUCKET: (
        "objects (exports, reports or replicas)",
        "the bucket and every object version in it, billed at S3's storage rates until its "
        "lifecycle removes them",
    ),
    TABLE_REPLICA: (
        "a replica of a FormKiQ table",
        "the replica table, still part of the global table: it keeps receiving, and billing, "
        "replicated writes and storage",
    ),
    TABLE: ("a table", "the table and its items, billed at DynamoDB's storage rates"),
}
# Where a key's ARN in these types' inputs makes the key a data holder.
_ENCRYPTED_BY = (
    VAULT,
    AIR_GAPPED_VAULT,
    TABLE_REPLICA,
    REPLICATION,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
)

# Risk kinds, most serious first: the order a review lists them in.
RISK_ORDER = (
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
)


@dataclass(frozen=True)
class Risk:
    """One way a change can lose backup data, or the means to get it back."""

    kind: str
    message: str
    resource: str = ""
    region: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "resource": self.resource,
            "region": self.region,
        }


@dataclass(frozen=True)
class Change:
    """A resource added, changed or removed, with the settings that change."""

    action: str
    type: str
    name: str
    region: str | None
    settings: tuple[tuple[str, Any, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "type": self.type,
            "name": self.name,
            "region": self.region,
            "settings": [
                {"path": path, "before": before, "after": after}
                for path, before, after in self.settings
            ],
        }


@dataclass
class Review:
    """Two renders compared."""

    before: Mapping[str, Any]
    after: Mapping[str, Any]
    risks: list[Risk] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    settings: list[tuple[str, Any, Any]] = field(default_factory=list)
    objectives: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(group, name, before, after) of each objective that changes."""

    @property
    def exit_code(self) -> int:
        return RISKS_FOUND if self.risks else NO_RISK


class ReviewError(Exception):
    """A side that cannot be rendered or read; the message says which and why."""


# --- comparing ------------------------------------------------------------------------------


def review(before: Mapping[str, Any], after: Mapping[str, Any]) -> Review:
    """Compare two preview documents (`before` as the stack is, `after` as it would be)."""
    for name, document in (("FROM", before), ("TO", after)):
        if document.get("format") != FORMAT or document.get("version") != FORMAT_VERSION:
            raise ReviewError(
                f"{name} is not a {FORMAT} document of version {FORMAT_VERSION}: render it "
                "again with `make preview FORMAT=json`"
            )
    pairs, removed, added = pair_resources(
        before["resources"], _rebased(after["resources"], after["stack"], before["stack"])
    )
    result = Review(before, after)
    data_keys = _data_keys(before["resources"]) | _data_keys(after["resources"])
    result.risks = _risks(before, after, pairs, removed, data_keys)
    order = ("added", "changed", "removed")
    result.changes = sorted(
        [
            *(_change("added", entry, ()) for entry in added if entry["custom"]),
            *(
                _change("changed", new, diffs)
                for old, new in pairs
                if new["custom"] and (diffs := _differences(old, new))
            ),
            *(_change("removed", entry, ()) for entry in removed),
        ],
        key=lambda change: (order.index(change.action), change.type, change.name),
    )
    result.settings = _setting_differences(before["settings"], after["settings"])
    result.objectives = _objective_differences(before["objectives"], after["objectives"])
    return result


def _rebased(resources: Sequence[Entry], stack: str, onto: str) -> list[Entry]:
    """TO's resources as FROM's stack would register them: the question a review answers is
    what FROM's stack becomes with TO's configuration, so URNs take FROM's stack name."""
    if stack == onto:
        return list(resources)
    old, new = f"urn:pulumi:{stack}::", f"urn:pulumi:{onto}::"

    def moved(urn: str | None) -> str | None:
        return new + urn[len(old) :] if urn and urn.startswith(old) else urn

    return [
        {
            **entry,
            "urn": moved(entry["urn"]),
            "parent": moved(entry["parent"]),
            "aliases": [
                {**alias, "urn": moved(alias["urn"]), "parentUrn": moved(alias["parentUrn"])}
                for alias in entry["aliases"]
            ],
        }
        for entry in resources
    ]


def pair_resources(
    before: Sequence[Entry], after: Sequence[Entry]
) -> tuple[list[tuple[Entry, Entry]], list[Entry], list[Entry]]:
    """(before, after) pairs the engine would update, the custom resources of `before` it would
    remove, and the resources of `after` it would create."""
    by_urn = {entry["urn"]: entry for entry in before}
    found = matches(set(by_urn), registered_resources(after))
    after_by_urn = {entry["urn"]: entry for entry in after}
    pairs = [
        (by_urn[previous], after_by_urn[urn])
        for urn, previous in found.items()
        if previous is not None
    ]
    kept = {previous for previous in found.values() if previous is not None}
    removed = [entry for entry in before if entry["custom"] and entry["urn"] not in kept]
    added = [after_by_urn[urn] for urn, previous in found.items() if previous is None]
    return pairs, removed, added


def _label(entry: Entry) -> str:
    return f"{entry['type']} {entry['name']}"


def _data_keys(resources: Sequence[Entry]) -> set[str]:
    """ARNs and ids of keys some data holder is encrypted with."""
    referenced: set[str] = set()
    for entry in resources:
        if entry["type"] in _ENCRYPTED_BY:
            referenced.update(_strings(entry["inputs"]))
    return referenced


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def holds_data(entry: Entry, data_keys: set[str]) -> bool:
    """Whether removing or replacing `entry` can lose backup data."""
    if entry["type"] == KEY:
        return bool(entry.get("arn")) and entry["arn"] in data_keys
    return entry["type"] in HOLDS


def _fate(entry: Entry) -> tuple[str, str]:
    """(risk kind, what happens to the old resource) by the engine's rules."""
    stays = HOLDS.get(entry["type"], ("", "the resource"))[1]
    if entry["protect"]:
        then = (
            f"then it stays in AWS, unmanaged: {stays}"
            if entry["retainOnDelete"]
            else "then it is DELETED"
        )
        return "blocked", (
            "`pulumi up` stops here: the resource is protected (set protectBackups: false for "
            f"that one update to go on); {then}"
        )
    if entry["retainOnDelete"]:
        return "unmanaged", f"left unmanaged: Pulumi forgets it and it stays in AWS: {stays}"
    return "deleted", f"DELETED from AWS, with its {HOLDS.get(entry['type'], ('data', ''))[0]}"


def _risks(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    pairs: Sequence[tuple[Entry, Entry]],
    removed: Sequence[Entry],
    data_keys: set[str],
) -> list[Risk]:
    risks: list[Risk] = []
    for entry in removed:
        if holds_data(entry, data_keys):
            kind, fate = _fate(entry)
            risks.append(Risk(kind, f"removed: {fate}", _label(entry), entry["region"]))
    for old, new in pairs:
        if not old["custom"]:
            continue
        risks += _replacement_risks(old, new, data_keys)
        risks += _pair_risks(old, new, data_keys)
    risks += _removed_function_risks(removed)
    risks += _dr_region_risks(before, after)
    return sorted(risks, key=lambda risk: (RISK_ORDER.index(risk.kind), risk.resource))


def _replacement_risks(old: Entry, new: Entry, data_keys: set[str]) -> list[Risk]:
    """A replaced data holder: a new, empty one, and the old one's fate."""
    keys = replaced_by(registered_resources([old])[0], registered_resources([new])[0])
    if not keys or not holds_data(old, data_keys):
        return []
    kind, fate = _fate(old)
    changed = ", ".join(
        f"{key} {json.dumps(old['inputs'].get(key))} -> {json.dumps(new['inputs'].get(key))}"
        for key in keys
    )
    return [
        Risk(
            "replaced" if kind == "deleted" else kind,
            f"REPLACED ({changed}): a new, empty one is created; the old one is {fate}",
            _label(old),
            old["region"],
        )
    ]


def _pair_risks(old: Entry, new: Entry, data_keys: set[str]) -> list[Risk]:
    risks: list[Risk] = []
    label, region = _label(new), new["region"]
    if holds_data(old, data_keys):
        for option, meaning in (
            ("protect", "Pulumi no longer refuses to delete it"),
            ("retainOnDelete", "removing it from the program would now delete it"),
        ):
            if old[option] and not new[option]:
                risks.append(Risk("protection", f"{option} turned off: {meaning}", label, region))
    inspect = {
        PLAN: _plan_risks,
        REPLICATION: _replication_risks,
        LIFECYCLE: _lifecycle_risks,
        LOCK: _lock_risks,
        SELECTION: _selection_risks,
        VAULT_POLICY: _policy_risks,
        BUCKET_POLICY: _policy_risks,
        VERSIONING: _versioning_risks,
        TABLE_REPLICA: _replica_setting_risks,
    }.get(old["type"])
    if inspect is not None:
        risks += [
            Risk(kind, message, label, region)
            for kind, message in inspect(old["inputs"], new["inputs"])
        ]
    return risks


def _removed_function_risks(removed: Sequence[Entry]) -> list[Risk]:
    """What stops when a resource that is not a data holder goes: backups, copies,
    replication, locks, alarms."""
    risks: list[Risk] = []
    for entry in removed:
        label, region = _label(entry), entry["region"]
        inputs = entry["inputs"]
        if entry["type"] == PLAN:
            risks.append(
                Risk("backups", "backup plan removed: no new recovery points", label, region)
            )
        elif entry["type"] == SELECTION:
            risks.append(
                Risk(
                    "backups",
                    f"no longer backed up: {_names(inputs.get('resources'))}",
                    label,
                    region,
                )
            )
        elif entry["type"] == REPLICATION:
            risks.append(
                Risk(
                    "replication",
                    f"replication of {inputs.get('bucket')} stops (S3 removes the bucket's whole "
                    "replication configuration)",
                    label,
                    region,
                )
            )
        elif entry["type"] == LOCK:
            risks.append(Risk("lock", _lock_removed(inputs), label, region))
        elif entry["type"] == TABLE_REPLICA:
            risks.append(
                Risk("replication", f"table replica in {region} no longer managed", label, region)
            )
        elif entry["type"] in (VAULT_POLICY, BUCKET_POLICY) and not entry["retainOnDelete"]:
            denied = ", ".join(sorted(_denied_actions(inputs))) or "nothing"
            risks.append(Risk("protection", f"policy deleted: it denied {denied}", label, region))
        elif entry["type"] == VERSIONING and not entry["retainOnDelete"]:
            # Deleting the resource suspends versioning on a versioned bucket (Terraform
            # aws_s3_bucket_versioning, which pulumi-aws's BucketVersioning is).
            risks.append(
                Risk("protection", f"versioning of {inputs.get('bucket')} suspended", label, region)
            )
        elif entry["type"] in ALARMS:
            risks.append(
                Risk("alarms", "alarm removed: nobody is told of what it watched", label, region)
            )
        elif entry["type"] == EVENT_RULE and "aws.backup" in json.dumps(inputs.get("eventPattern")):
            risks.append(Risk("alarms", "AWS Backup alert rule removed", label, region))
    return risks


def _names(arns: Any) -> str:
    return ", ".join(str(arn).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for arn in arns or []) or "-"


def _dr_region_risks(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Risk]:
    old, new = before["regions"].get("dr"), after["regions"].get("dr")
    if old and new and old != new:
        moved = [e for e in before["resources"] if e["custom"] and e["region"] == old]
        return [
            Risk(
                "drRegion",
                f"drRegion {old} -> {new}: the whole DR side is replaced ({len(moved)} resources "
                f"in {old} give way to new, empty ones in {new}; copies and replicas made so far "
                f"stay in {old}, each as listed here)",
                region=old,
            )
        ]
    if old and not new:
        return [
            Risk(
                "drRegion",
                f"no DR region any more: nothing new reaches {old} (copies, replicas); what is "
                "there stays as listed here",
                region=old,
            )
        ]
    return []


# --- risks by resource type -----------------------------------------------------------------

_FOR_NEW_POINTS = (
    "applies to new recovery points only: those already in a vault keep the lifecycle they were "
    "made with (changing theirs is UpdateRecoveryPointLifecycle, AWS Backup API reference)"
)


def _rule_kind(name: str) -> str:
    """A rule's kind, so a rule renamed with its retention (daily_kept_35_days ->
    daily_kept_14_days) is compared with itself."""
    return name.split("_kept_", maxsplit=1)[0]


def _days(lifecycle: Any) -> float:
    """Days a lifecycle keeps a recovery point; infinity when it never deletes."""
    value = (lifecycle or {}).get("deleteAfter")
    return float("inf") if value in (None, 0) else float(value)


def _shown_days(days: float) -> str:
    return "forever" if days == float("inf") else f"{days:g} days"


def _plan_risks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    risks: list[tuple[str, str]] = []
    new_rules = {_rule_kind(rule["ruleName"]): rule for rule in new.get("rules", [])}
    for rule in old.get("rules", []):
        kind = _rule_kind(rule["ruleName"])
        match = new_rules.get(kind)
        if match is None:
            risks.append(
                ("backups", f"rule {rule['ruleName']} removed: it makes no more recovery points")
            )
            continue
        before, after = _days(rule.get("lifecycle")), _days(match.get("lifecycle"))
        if after < before:
            risks.append(
                (
                    "retention",
                    f"rule {kind}: recovery points kept {_shown_days(before)} -> "
                    f"{_shown_days(after)}; {_FOR_NEW_POINTS}",
                )
            )
        copies = {copy["destinationVaultArn"]: copy for copy in match.get("copyActions", [])}
        for copy in rule.get("copyActions", []):
            destination = copy["destinationVaultArn"]
            if destination not in copies:
                risks.append(("copies", f"rule {kind}: copies to {destination} stop"))
                continue
            before, after = (
                _days(copy.get("lifecycle")),
                _days(copies[destination].get("lifecycle")),
            )
            if after < before:
                risks.append(
                    (
                        "retention",
                        f"rule {kind}: copies in {destination} kept {_shown_days(before)} -> "
                        f"{_shown_days(after)}; {_FOR_NEW_POINTS}",
                    )
                )
    return risks


def _selection_risks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    dropped = [arn for arn in old.get("resources", []) if arn not in new.get("resources", [])]
    return [("backups", f"no longer backed up: {_names(dropped)}")] if dropped else []


def _replication_risks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    risks: list[tuple[str, str]] = []
    rules = {rule.get("id"): rule for rule in new.get("rules", [])}
    for rule in old.get("rules", []):
        match = rules.get(rule.get("id"))
        where = f"rule {rule.get('id')} of {old.get('bucket')}"
        if match is None or (rule.get("status") == "Enabled" and match.get("status") != "Enabled"):
            risks.append(("replication", f"{where}: replication stops"))
            continue
        if _enabled(rule.get("deleteMarkerReplication")) and not _enabled(
            match.get("deleteMarkerReplication")
        ):
            risks.append(("replication", f"{where}: delete markers no longer replicated"))
        if _enabled(rule.get("destination", {}).get("replicationTime")) and not _enabled(
            match.get("destination", {}).get("replicationTime")
        ):
            risks.append(
                ("replication", f"{where}: Replication Time Control off (no 15-minute target)")
            )
    return risks


def _enabled(block: Any) -> bool:
    return isinstance(block, Mapping) and block.get("status") == "Enabled"


def _lifecycle_risks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """S3 applies a lifecycle to the objects already in the bucket (AmazonS3 user guide,
    "Managing the lifecycle of objects"): a shorter expiry deletes what is now older."""
    risks: list[tuple[str, str]] = []
    rules = {rule.get("id"): rule for rule in new.get("rules", [])}
    # Rule ids may carry their retention (keep-dynamodb-365-days): else the same prefix.
    by_prefix = {
        json.dumps(rule.get("filter"), sort_keys=True): rule for rule in new.get("rules", [])
    }
    for rule in old.get("rules", []):
        match = rules.get(rule.get("id")) or by_prefix.get(
            json.dumps(rule.get("filter"), sort_keys=True)
        )
        if match is None or match.get("status") != "Enabled":
            continue
        prefix = (rule.get("filter") or {}).get("prefix") or "(whole bucket)"
        for path, what in (
            (("expiration", "days"), "objects"),
            (("noncurrentVersionExpiration", "noncurrentDays"), "old versions"),
        ):
            before = _days({"deleteAfter": (rule.get(path[0]) or {}).get(path[1])})
            after = _days({"deleteAfter": (match.get(path[0]) or {}).get(path[1])})
            if after < before:
                risks.append(
                    (
                        "expires",
                        f"{old.get('bucket')} {prefix}: {what} kept {_shown_days(before)} -> "
                        f"{_shown_days(after)}: S3 applies this to what is already in the bucket "
                        "and deletes everything older",
                    )
                )
    return risks


def _lock_mode(inputs: Mapping[str, Any]) -> str:
    # Governance = no ChangeableForDays; compliance = ChangeableForDays >= 3 (AWS Backup Vault
    # Lock, PutBackupVaultLockConfiguration).
    return "compliance" if inputs.get("changeableForDays") else "governance"


def _denied_actions(inputs: Mapping[str, Any]) -> set[str]:
    """The actions a resource policy's Deny statements name."""
    policy = inputs.get("policy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return set()
    if not isinstance(policy, Mapping):
        return set()
    statements = policy.get("Statement", [])
    denied: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        if isinstance(statement, Mapping) and statement.get("Effect") == "Deny":
            actions = statement.get("Action", [])
            denied |= {actions} if isinstance(actions, str) else set(actions)
    return denied


def _policy_risks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A vault or bucket policy that stops denying what it denied (recovery point or object
    deletion, lifecycle or policy changes)."""
    lost = _denied_actions(old) - _denied_actions(new)
    if not lost:
        return []
    return [("protection", f"the policy no longer denies {', '.join(sorted(lost))}")]


def _versioning_risks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Versioning no longer enabled: an overwrite or delete keeps no previous version, and S3
    replication, which needs versioning on both buckets, stops."""
    before = (old.get("versioningConfiguration") or {}).get("status")
    after = (new.get("versioningConfiguration") or {}).get("status")
    if before != "Enabled" or after == "Enabled":
        return []
    return [
        (
            "protection",
            f"versioning of {new.get('bucket')} {before} -> {after}: overwrites and deletes keep "
            "no previous version, and replication stops",
        )
    ]


def _replica_setting_risks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A table replica's own safety settings turned off."""
    meanings = {
        "pointInTimeRecovery": "PITR off on the replica: its restorable history is dropped",
        "deletionProtectionEnabled": "deletion protection off: the replica can be deleted",
    }
    return [
        ("protection", meaning)
        for key, meaning in meanings.items()
        if old.get(key) and not new.get(key)
    ]


def _lock_risks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    vault = new.get("backupVaultName")
    changes = [
        f"{key} {old.get(key)} -> {new.get(key)}"
        for key in ("minRetentionDays", "maxRetentionDays", "changeableForDays")
        if old.get(key) != new.get(key)
    ]
    if not changes:
        return []
    mode = f"{_lock_mode(old)} -> {_lock_mode(new)}"
    return [
        (
            "lock",
            f"lock of {vault} ({mode}): {', '.join(changes)}; backup and copy jobs whose "
            "retention falls outside the bounds fail; a compliance lock past its "
            "changeable days cannot be changed, so `pulumi up` fails there",
        )
    ]


def _lock_removed(inputs: Mapping[str, Any]) -> str:
    return (
        f"lock of {inputs.get('backupVaultName')} ({_lock_mode(inputs)}) removed: its "
        "recovery points can be deleted again early by whoever the vault policy allows; a "
        "compliance lock past its changeable days cannot be removed (`pulumi up` fails)"
    )


# --- settings that change -------------------------------------------------------------------

_RULE_KEYS = ("ruleName", "id", "Sid", "name", "key")


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves of a value by path: `rules[daily_kept_35_days].lifecycle.deleteAfter`; list items
    named by their rule name, id or Sid where they have one."""
    if isinstance(value, Mapping):
        if not value:
            return {path: {}} if path else {}
        return {
            leaf: item
            for key in sorted(value)
            for leaf, item in flatten(value[key], f"{path}.{key}" if path else str(key)).items()
        }
    if isinstance(value, list):
        if not value:
            return {path: []}
        found: dict[str, Any] = {}
        for index, item in enumerate(value):
            name = next(
                (str(item[k]) for k in _RULE_KEYS if isinstance(item, Mapping) and k in item),
                str(index),
            )
            found.update(flatten(item, f"{path}[{name}]"))
        return found
    return {path: value}


def _differences(old: Entry, new: Entry) -> tuple[tuple[str, Any, Any], ...]:
    before = {**flatten(old["inputs"]), "(protect)": old["protect"]}
    after = {**flatten(new["inputs"]), "(protect)": new["protect"]}
    before["(retainOnDelete)"], after["(retainOnDelete)"] = (
        old["retainOnDelete"],
        new["retainOnDelete"],
    )
    return tuple(
        (path, before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    )


def _change(action: str, entry: Entry, settings: tuple[tuple[str, Any, Any], ...]) -> Change:
    return Change(action, entry["type"], entry["name"], entry["region"], settings)


def _setting_differences(
    before: Sequence[Entry], after: Sequence[Entry]
) -> list[tuple[str, Any, Any]]:
    def shown(entry: Entry | None) -> Any:
        if entry is None:
            return None
        return entry["value"] if not entry["ignored"] else f"{json.dumps(entry['value'])} (ignored)"

    old = {entry["key"]: entry for entry in before}
    new = {entry["key"]: entry for entry in after}
    return [
        (key, shown(old.get(key)), shown(new.get(key)))
        for key in [*old, *(k for k in new if k not in old)]
        if shown(old.get(key)) != shown(new.get(key))
    ]


def _objective_differences(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    found = []
    for group in ("byIncident", "byDataClass"):
        old, new = before.get(group, {}), after.get(group, {})
        for name in [*old, *(k for k in new if k not in old)]:
            was, now = _objective_text(old.get(name)), _objective_text(new.get(name))
            if was != now:
                found.append((group, name, was, now))
    return found


def _objective_text(objective: Mapping[str, Any] | None) -> str:
    if objective is None:
        return "-"
    by = ", ".join(objective["protectedBy"]) or "-"
    return f"RPO {objective['rpo']}; RTO {objective['rto']}; by {by}"


# --- loading each side ----------------------------------------------------------------------


def load_side(text: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """`<stack>[:<tier>]` rendered offline, or a `make preview FORMAT=json` file (*.json)."""
    if text.endswith(".json"):
        path = Path(text)
        try:
            document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReviewError(f"{text}: no such file") from None
        except json.JSONDecodeError as error:
            raise ReviewError(f"{text}: not JSON ({error})") from None
        return document
    stack, _, tier = text.partition(":")
    if not stack:
        raise ReviewError(f"{text!r}: give <stack> or <stack>:<tier>, e.g. prod:enhanced")
    if tier and tier not in {t.value for t in Tier}:
        raise ReviewError(
            f"{text!r}: tier {tier!r} must be one of {', '.join(t.value for t in Tier)}"
        )
    try:
        run = run_program(
            stack,
            overrides={"tier": tier} if tier else None,
            project_dir=project_dir,
            raise_errors=False,
        )
    except (FileNotFoundError, StackFileError) as error:
        raise ReviewError(f"{text}: {error}") from None
    if run.error is not None:
        raise ReviewError(f"{text}: stack rejected:\n{run.error}")
    return preview_document(run)


# --- output ---------------------------------------------------------------------------------


def _side(document: Mapping[str, Any]) -> str:
    return f"{document['stack']} ({document['tier']})"


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def text_report(result: Review) -> str:
    """The review for a terminal or a saved file."""
    lines = [
        f"formkiq-backup review: {_side(result.before)} -> {_side(result.after)}",
        "(offline renders of both configs against a sample FormKiQ, not a pulumi preview)",
        "",
    ]
    if result.risks:
        lines.append(
            f"!!! {len(result.risks)} DATA-LOSS RISK{'S' if len(result.risks) != 1 else ''}"
        )
        lines += [
            f"  [{risk.kind}] {risk.resource + ' ' if risk.resource else ''}"
            f"{'(' + risk.region + ') ' if risk.region else ''}: {risk.message}"
            for risk in result.risks
        ]
    else:
        lines.append("No data-loss risk found.")
    lines += ["", _counts(result)]
    symbols = {"added": "+", "changed": "~", "removed": "-"}
    for change in result.changes:
        lines.append(f"  {symbols[change.action]} {change.type} {change.name} ({change.region})")
        lines += [
            f"      {path}: {_value(before)} -> {_value(after)}"
            for path, before, after in change.settings
        ]
    lines += ["", "Settings:" if result.settings else "Settings: no change"]
    lines += [f"  {key}: {_value(old)} -> {_value(new)}" for key, old, new in result.settings]
    lines += ["", "Recovery objectives:" if result.objectives else "Recovery objectives: no change"]
    for group, name, was, now in result.objectives:
        lines += [f"  {group}.{name}", f"    was: {was}", f"    now: {now}"]
    return "\n".join(lines) + "\n"


def _counts(result: Review) -> str:
    counted = dict.fromkeys(("added", "changed", "removed"), 0)
    for change in result.changes:
        counted[change.action] += 1
    return "Resources: " + ", ".join(f"{count} {action}" for action, count in counted.items())


def markdown_report(result: Review) -> str:
    """The review as a pull-request comment: risks first, the DR topology as Mermaid."""
    lines = [
        f"## formkiq-backup review: `{_side(result.before)}` → `{_side(result.after)}`",
        "",
        "_Offline renders of both configs against a sample FormKiQ; not a `pulumi preview`._",
        "",
    ]
    if result.risks:
        lines += [
            f"### ⚠️ {len(result.risks)} data-loss risk{'s' if len(result.risks) != 1 else ''}",
            "",
        ]
        lines += [
            f"- **{risk.kind}**{' `' + risk.resource + '`' if risk.resource else ''}"
            f"{' (' + risk.region + ')' if risk.region else ''}: {risk.message}"
            for risk in result.risks
        ]
    else:
        lines.append("### ✅ No data-loss risk found")
    lines += ["", "### DR topology", ""]
    for title, document in (("before", result.before), ("after", result.after)):
        lines += [
            f"**{title}** ({_side(document)})",
            "",
            "```mermaid",
            mermaid(document),
            "```",
            "",
        ]
    lines += [f"### {_counts(result)}", ""]
    if result.changes:
        lines += ["| | resource | region | settings that change |", "|---|---|---|---|"]
        symbols = {"added": "added", "changed": "changed", "removed": "removed"}
        for change in result.changes:
            settings = "<br>".join(
                f"`{path}`: {_cell(before)} → {_cell(after)}"
                for path, before, after in change.settings
            )
            lines.append(
                f"| {symbols[change.action]} | `{change.type}` {change.name} | "
                f"{change.region or ''} | {settings} |"
            )
    lines += ["", "### Settings", ""]
    lines += [f"- `{key}`: {_cell(old)} → {_cell(new)}" for key, old, new in result.settings] or [
        "No change."
    ]
    lines += ["", "### Recovery objectives", ""]
    if result.objectives:
        lines += ["| objective | before | after |", "|---|---|---|"]
        lines += [
            f"| {group}.{name} | {was} | {now} |" for group, name, was, now in result.objectives
        ]
    else:
        lines.append("No change.")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = _value(value).replace("|", "\\|")
    return f"`{text[:120]}{'…' if len(text) > 120 else ''}`"


def json_report(result: Review) -> dict[str, Any]:
    """The review as data, for CI."""
    return {
        "format": "formkiq-backup-review",
        "version": FORMAT_VERSION,
        "from": {"stack": result.before["stack"], "tier": result.before["tier"]},
        "to": {"stack": result.after["stack"], "tier": result.after["tier"]},
        "exitCode": result.exit_code,
        "risks": [risk.as_json() for risk in result.risks],
        "changes": [change.as_json() for change in result.changes],
        "settings": [{"key": k, "before": old, "after": new} for k, old, new in result.settings],
        "objectives": [
            {"group": group, "name": name, "before": was, "after": now}
            for group, name, was, now in result.objectives
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 no risk, 1 risks found, 2 error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--from", dest="source", required=True, help="<stack>[:<tier>] or a .json render"
    )
    parser.add_argument(
        "--to", dest="target", required=True, help="<stack>[:<tier>] or a .json render"
    )
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)
    try:
        result = review(
            load_side(args.source, args.project_dir), load_side(args.target, args.project_dir)
        )
    except ReviewError as error:
        print(f"review not possible: {error}", file=sys.stderr)
        return ERROR
    if args.format == "json":
        sys.stdout.write(json.dumps(json_report(result), indent=2, sort_keys=True) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(markdown_report(result))
    else:
        sys.stdout.write(text_report(result))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
