"""The four tiers of FormKiQ's backup guide, as data: each one is the previous one plus more.

| tier       | adds                                                              | RTO target |
|------------|-------------------------------------------------------------------|------------|
| basic      | PITR + S3 versioning, guarded and alarmed; one dashboard          | 1-4 h      |
| standard   | AWS Backup vault and plans, scheduled system exports              | 2-8 h      |
| enhanced   | cross-region copies, S3 replication, restore testing (audit: opt) | 15-60 min  |
| enterprise | table replicas, locked and air-gapped vaults, yearly rule, audit  | < 15 min * |

* the guide's target, met only by a small deployment with FormKiQ standing by in drRegion:
  FormKiQ Core cannot run on the replicas, so their items and objects are copied into its own
  tables and bucket, which takes as long as the data's size makes it (docs/failover.md).

This module is plain data (no Pulumi import), so the recovery tools can read what a tier
promises without loading the Pulumi SDK.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType


class Tier(StrEnum):
    """The backup tiers of FormKiQ's guide, lowest first."""

    BASIC = "basic"
    STANDARD = "standard"
    ENHANCED = "enhanced"
    ENTERPRISE = "enterprise"


class Capability(StrEnum):
    """Something a tier adds, in words a reviewer reads in a preview."""

    POSTURE_GUARD = "posture guard: PITR and versioning checked every 15 minutes, alarmed"
    AWS_BACKUP = "AWS Backup vault (deny-delete, own key) with daily and monthly plans"
    SYSTEM_EXPORTS = "scheduled exports of all system data (DynamoDB, Cognito, templates)"
    CROSS_REGION_COPIES = "cross-region copies into a DR vault and key in drRegion"
    S3_REPLICATION = "S3 cross-region replication with RTC and alarms"
    GLOBAL_TABLE_REPLICAS = "DynamoDB global table replicas in drRegion (and replicaRegions)"
    VAULT_LOCK = "vault lock on the primary and DR vaults"
    AIR_GAPPED_VAULT = "a logically air-gapped vault in drRegion, receiving copies"
    YEARLY_COLD_STORAGE = "yearly rule kept seven years, DynamoDB's points in cold storage"
    RESTORE_TESTING = "AWS Backup restore testing, each restore validated against its source"
    AUDIT = "AWS Backup Audit Manager framework and reports"
    DASHBOARD = "one CloudWatch dashboard of the stack's checks, jobs and alarms"


# What a stack may switch off where its tier has it: restore tests cost money per test
# (restoreTesting.enabled: false); a logically air-gapped vault is unavailable in some regions
# and its copies are billed on their own (airGappedVault.enabled: false).
SWITCHABLE_OFF = frozenset({Capability.RESTORE_TESTING, Capability.AIR_GAPPED_VAULT})

# What puts copies or replicas in a second region: a tier with any of these needs drRegion.
SECOND_REGION_CAPABILITIES = frozenset(
    {
        Capability.CROSS_REGION_COPIES,
        Capability.S3_REPLICATION,
        Capability.GLOBAL_TABLE_REPLICAS,
        Capability.AIR_GAPPED_VAULT,
    }
)


class RuleKind(StrEnum):
    """A backup rule a tier schedules; settings give its schedule and retention."""

    DAILY = "daily"
    MONTHLY = "monthly"
    YEARLY = "yearly"


def rule_name(kind: RuleKind, retention_days: int) -> str:
    """`daily_kept_35_days`: a rule's name says what it keeps (the plan, the lock checks and
    the preview all name a rule so)."""
    return f"{kind.value}_kept_{retention_days}_days"


# The rule kinds a capability adds to the plan the AWS Backup builder makes (the yearly rule is
# Enterprise's): that builder realises them, no builder of their own.
RULE_CAPABILITIES: Mapping[RuleKind, Capability] = MappingProxyType(
    {RuleKind.YEARLY: Capability.YEARLY_COLD_STORAGE}
)


class DataClass(StrEnum):
    """What FormKiQ data is at stake, as stack outputs name it."""

    DOCUMENT_METADATA = "documentMetadata"
    DOCUMENT_CONTENT = "documentContent"
    USER_DIRECTORY = "userDirectory"
    SYSTEM_CONFIGURATION = "systemConfiguration"


@dataclass(frozen=True)
class RecoveryObjective:
    """A tier's target for one data class: how much can be lost and how long recovery takes."""

    rpo_minutes: int | None
    """Worst-case data loss; None when the tier does not protect this data."""
    rto_minutes: tuple[int, int] | None
    protected_by: tuple[str, ...] = ()
    note: str = ""
    rpo_follows: str | None = None
    """The schedule setting whose longest gap is the RPO (`exportSchedule`): rpo_minutes is then
    its default's, and `following` gives the stack's own."""

    def following(self, gaps: Mapping[str, timedelta]) -> "RecoveryObjective":
        """This objective with the RPO its schedule setting gives (`gaps`: setting -> gap)."""
        if self.rpo_follows is None or self.rpo_follows not in gaps:
            return self
        return replace(self, rpo_minutes=int(gaps[self.rpo_follows] // timedelta(minutes=1)))

    def as_output(self) -> dict[str, object]:
        """The stack output shape: readable strings and the numbers behind them."""
        return {
            "rpo": _rpo_text(self.rpo_minutes),
            "rpoMinutes": self.rpo_minutes,
            "rto": (
                "-"
                if self.rto_minutes is None
                else f"{_duration(self.rto_minutes[0])} to {_duration(self.rto_minutes[1])}"
            ),
            "rtoMinutes": (
                None
                if self.rto_minutes is None
                else {"min": self.rto_minutes[0], "max": self.rto_minutes[1]}
            ),
            "protectedBy": list(self.protected_by),
            "note": self.note,
        }


_NOT_PROTECTED = RecoveryObjective(None, None)
# The setting whose schedule sets the exported data classes' RPO (a stack key).
EXPORT_SCHEDULE = "exportSchedule"


@dataclass(frozen=True)
class TierSpec:
    """Everything a tier adds and promises; one builder turns it into components."""

    tier: Tier
    summary: str
    rto_target: str
    capabilities: frozenset[Capability]
    backup_rules: tuple[RuleKind, ...] = ()
    recovery_point_max_age_hours: int | None = None
    """Newest recovery point older than this means the schedule is broken (alarm, verify)."""
    recovery_objectives: Mapping[DataClass, RecoveryObjective] = field(
        default_factory=lambda: MappingProxyType({})
    )
    optional_capabilities: frozenset[Capability] = frozenset()
    """Built only where a stack switches them on (audit in enhanced: `audit.enabled`)."""

    @property
    def needs_dr_region(self) -> bool:
        """Whether something this tier builds lives in drRegion."""
        return bool(self.capabilities & SECOND_REGION_CAPABILITIES)

    @property
    def possible_capabilities(self) -> frozenset[Capability]:
        """What a stack of this tier may build: its capabilities and the optional ones."""
        return self.capabilities | self.optional_capabilities

    def switched(self, on: frozenset[Capability], off: frozenset[Capability]) -> "TierSpec":
        """The tier as a stack builds it: optional capabilities it switched on added, and those
        of SWITCHABLE_OFF it switched off removed. Nothing else can be switched either way."""
        capabilities = (self.capabilities | (self.optional_capabilities & on)) - (
            off & SWITCHABLE_OFF
        )
        return replace(self, capabilities=capabilities, optional_capabilities=frozenset())

    def extended(
        self,
        tier: Tier,
        summary: str,
        rto_target: str,
        adds: frozenset[Capability],
        objectives: Mapping[DataClass, RecoveryObjective],
        **changes: object,
    ) -> "TierSpec":
        """The next tier up: everything this tier has, plus `adds`."""
        return replace(
            self,
            tier=tier,
            summary=summary,
            rto_target=rto_target,
            capabilities=self.capabilities | adds,
            recovery_objectives=MappingProxyType({**self.recovery_objectives, **objectives}),
            **changes,  # type: ignore[arg-type]
        )


BASIC = TierSpec(
    tier=Tier.BASIC,
    summary="Point-in-time recovery + S3 versioning, guarded and alarmed",
    rto_target="1-4 hours",
    # One dashboard per stack, basic included: its posture checks and alarms are worth a page.
    capabilities=frozenset({Capability.POSTURE_GUARD, Capability.DASHBOARD}),
    recovery_objectives=MappingProxyType(
        {
            DataClass.DOCUMENT_METADATA: RecoveryObjective(
                rpo_minutes=5,
                rto_minutes=(60, 240),
                protected_by=("DynamoDB PITR (35 days) on Documents and DocumentSyncs",),
                note="PITR restores into a new table: cut over or repair from it",
            ),
            DataClass.DOCUMENT_CONTENT: RecoveryObjective(
                rpo_minutes=0,
                rto_minutes=(1, 60),
                protected_by=("S3 versioning on the documents bucket",),
                note="a FormKiQ purge deletes every version: not recoverable at this tier",
            ),
            DataClass.USER_DIRECTORY: _NOT_PROTECTED,
            DataClass.SYSTEM_CONFIGURATION: _NOT_PROTECTED,
        }
    ),
)

STANDARD = BASIC.extended(
    Tier.STANDARD,
    summary="Basic + AWS Backup vault and plans + scheduled exports of all system data",
    rto_target="2-8 hours",
    adds=frozenset({Capability.AWS_BACKUP, Capability.SYSTEM_EXPORTS}),
    backup_rules=(RuleKind.DAILY, RuleKind.MONTHLY),
    # A daily schedule, its 3-hour completion window, and slack: the guide's plan shape.
    recovery_point_max_age_hours=26,
    objectives={
        DataClass.DOCUMENT_METADATA: RecoveryObjective(
            rpo_minutes=5,
            rto_minutes=(120, 480),
            protected_by=(
                "DynamoDB PITR (35 days)",
                "AWS Backup daily and monthly recovery points",
            ),
            note="recovery points outlive a deleted table and the 35-day PITR window",
        ),
        DataClass.DOCUMENT_CONTENT: RecoveryObjective(
            rpo_minutes=0,
            rto_minutes=(120, 480),
            protected_by=("S3 versioning", "AWS Backup daily and monthly recovery points"),
            note="after a purge, content returns from the newest daily recovery point",
        ),
        # Up to the export schedule's longest gap of changes can be lost: a month by default.
        DataClass.USER_DIRECTORY: RecoveryObjective(
            rpo_minutes=31 * 1440,
            rpo_follows=EXPORT_SCHEDULE,
            rto_minutes=(60, 240),
            protected_by=("scheduled Cognito users export (users and groups, gzipped JSON Lines)",),
            note="passwords cannot be exported: every restored user needs a new password",
        ),
        DataClass.SYSTEM_CONFIGURATION: RecoveryObjective(
            rpo_minutes=31 * 1440,
            rpo_follows=EXPORT_SCHEDULE,
            rto_minutes=(120, 480),
            protected_by=(
                "scheduled export of FormKiQ's CloudFormation templates, parameters, outputs",
                "scheduled export of every /formkiq/<env>/ SSM parameter",
            ),
            note="redeploy FormKiQ from the saved templates and parameters",
        ),
    },
)


def _also_replicated(spec: TierSpec, data_class: DataClass) -> RecoveryObjective:
    """The exports behind `data_class`, now also in drRegion."""
    objective = spec.recovery_objectives[data_class]
    return replace(
        objective,
        protected_by=(*objective.protected_by, "the exports bucket replicated to drRegion"),
    )


ENHANCED = STANDARD.extended(
    Tier.ENHANCED,
    summary="Standard + cross-region copies, S3 cross-region replication and restore testing",
    rto_target="15-60 minutes",
    adds=frozenset(
        {Capability.CROSS_REGION_COPIES, Capability.S3_REPLICATION, Capability.RESTORE_TESTING}
    ),
    # The guide's Enterprise tier asks for audit evidence; an Enhanced stack may opt in.
    optional_capabilities=frozenset({Capability.AUDIT}),
    objectives={
        # In the primary region nothing changes; these say what survives a regional outage.
        DataClass.DOCUMENT_METADATA: RecoveryObjective(
            rpo_minutes=5,
            rto_minutes=(120, 480),
            protected_by=(
                "DynamoDB PITR (35 days)",
                "AWS Backup daily and monthly recovery points",
                "AWS Backup copies of them in drRegion",
            ),
            note="after a regional outage, metadata returns from the newest copy in drRegion "
            "(up to a day old): docs/failover.md",
        ),
        # RTC replicates 99.99% of objects within 15 minutes (AmazonS3 replication-time-control).
        DataClass.DOCUMENT_CONTENT: RecoveryObjective(
            rpo_minutes=15,
            rto_minutes=(15, 60),
            protected_by=(
                "S3 versioning",
                "S3 replication with RTC to a replica bucket in drRegion",
                "AWS Backup copies in drRegion",
            ),
            note="replicas stay SSE-S3 like FormKiQ's objects; a FormKiQ purge is not "
            "replicated (formkiq-dr purge-replica); objects older than the rule need "
            "formkiq-dr replicate-existing once",
        ),
        DataClass.USER_DIRECTORY: _also_replicated(STANDARD, DataClass.USER_DIRECTORY),
        DataClass.SYSTEM_CONFIGURATION: replace(
            _also_replicated(STANDARD, DataClass.SYSTEM_CONFIGURATION),
            note="deploy FormKiQ in drRegion from the saved templates and parameters",
        ),
    },
)

ENTERPRISE = ENHANCED.extended(
    Tier.ENTERPRISE,
    summary="Enhanced + global table replicas, locked and air-gapped vaults, a yearly rule and "
    "audit evidence",
    # The guide's < 15 minutes holds only for a small deployment with FormKiQ already deployed in
    # drRegion: FormKiQ Core names its tables and bucket from AppEnvironment and cannot be pointed
    # at the replicas, so their data is copied into its own (docs/failover.md).
    rto_target="< 15 minutes only for a small deployment with FormKiQ standing by in drRegion; "
    "otherwise the time to copy the replicas into it, as a rehearsal measures",
    adds=frozenset(
        {
            Capability.GLOBAL_TABLE_REPLICAS,
            Capability.VAULT_LOCK,
            Capability.AIR_GAPPED_VAULT,
            Capability.YEARLY_COLD_STORAGE,
            Capability.AUDIT,
        }
    ),
    optional_capabilities=frozenset(),
    backup_rules=(RuleKind.DAILY, RuleKind.MONTHLY, RuleKind.YEARLY),
    objectives={
        # Global tables replicate asynchronously, "typically within a second" (DynamoDB
        # developer guide, "How global tables work"); the ReplicationLatency alarm and
        # `formkiq-dr verify` hold each replica to this RPO.
        DataClass.DOCUMENT_METADATA: RecoveryObjective(
            rpo_minutes=1,
            rto_minutes=(15, 60),
            protected_by=(
                "DynamoDB global table replicas in drRegion (and replicaRegions)",
                "DynamoDB PITR (35 days) on every replica",
                "AWS Backup daily, monthly and yearly recovery points in locked vaults, copied "
                "to drRegion",
            ),
            note="a replica takes every write and delete too, TTL deletes and mistakes "
            "included: those are undone from PITR or a recovery point (2-8 hours). In drRegion "
            "the items are copied from the replicas into FormKiQ's own tables there (FormKiQ "
            "Core cannot run on the replicas): 15 minutes for a small deployment with FormKiQ "
            "standing by, longer with the item count (docs/failover.md)",
        ),
        DataClass.DOCUMENT_CONTENT: replace(
            ENHANCED.recovery_objectives[DataClass.DOCUMENT_CONTENT],
            protected_by=(
                "S3 versioning",
                "S3 replication with RTC to a replica bucket in drRegion",
                "AWS Backup copies in drRegion and in a logically air-gapped vault",
            ),
        ),
    },
)

TIERS: Mapping[Tier, TierSpec] = MappingProxyType(
    {spec.tier: spec for spec in (BASIC, STANDARD, ENHANCED, ENTERPRISE)}
)


def _rpo_text(minutes: int | None) -> str:
    if minutes is None:
        return "not protected by this tier"
    if minutes == 0:
        return "none: every version is kept"
    return _duration(minutes)


def _duration(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day{'s' if minutes != 1440 else ''}"
    if minutes % 60 == 0:
        return f"{minutes // 60} hour{'s' if minutes != 60 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- recovery objectives by incident ---------------------------------------------------------
# The data-class objectives above answer "how well is this data kept"; a reviewer's question is
# "what happens when X goes wrong". Each incident lists the ways a tier can recover from it,
# best first; a tier's answer is the first whose capabilities it has (the others follow it as
# fall-backs), so a tier that adds a capability never reads slower than the tier below it.

# The setting whose longest gap between two daily backups is an RPO (a stack key).
BACKUP_SCHEDULE = "backupSchedule"


class Incident(StrEnum):
    """What goes wrong, as a runbook names it (the keys of `objectives.byIncident`)."""

    ACCIDENTAL_CHANGE = "accidentalChange"
    DELETED_TABLE = "deletedTable"
    PURGED_DOCUMENT = "purgedDocument"
    PRIMARY_REGION_LOSS = "primaryRegionLoss"
    COMPROMISED_ACCOUNT = "compromisedAccount"

    @property
    def heading(self) -> str:
        """The incident in words, as the preview's table names it."""
        return _INCIDENT_HEADINGS[self]


_INCIDENT_HEADINGS = {
    Incident.ACCIDENTAL_CHANGE: "accidental change or deletion of documents, within the PITR "
    "window (35 days)",
    Incident.DELETED_TABLE: "a FormKiQ table deleted",
    Incident.PURGED_DOCUMENT: "a document purged in FormKiQ (every version deleted)",
    Incident.PRIMARY_REGION_LOSS: "the primary region lost",
    Incident.COMPROMISED_ACCOUNT: "the account compromised (an administrator deletes data)",
}


@dataclass(frozen=True)
class Remedy:
    """One way to recover from an incident, available to a tier having `needs`."""

    needs: frozenset[Capability]
    recovers_with: str
    rpo_minutes: int
    rto_minutes: tuple[int, int]
    rpo_follows: str | None = None
    """The schedule setting whose longest gap is the RPO (BACKUP_SCHEDULE); rpo_minutes is
    then its default's."""
    note: str = ""


_ALWAYS: frozenset[Capability] = frozenset()
_DAY = 1440
# FormKiQ's backup guide: PITR restores to any second of the window, typically up to 5 minutes
# behind now (LatestRestorableDateTime), into a new table.
_PITR = Remedy(
    _ALWAYS,
    "DynamoDB PITR: restore the table to the second before, into a new table, and repair "
    "from it (formkiq-dr repair); S3 versions for the content",
    rpo_minutes=5,
    rto_minutes=(60, 240),
)
_RECOVERY_POINTS = Remedy(
    frozenset({Capability.AWS_BACKUP}),
    "the newest AWS Backup recovery point (daily), restored and repaired from",
    rpo_minutes=_DAY,
    rpo_follows=BACKUP_SCHEDULE,
    rto_minutes=(120, 480),
)

INCIDENT_REMEDIES: Mapping[Incident, tuple[Remedy, ...]] = MappingProxyType(
    {
        Incident.ACCIDENTAL_CHANGE: (_PITR,),
        Incident.DELETED_TABLE: (
            # "If you delete a table with point-in-time recovery enabled, a system backup is
            # automatically created and retained for 35 days" (DynamoDB developer guide,
            # Point-in-time recovery for DynamoDB).
            Remedy(
                _ALWAYS,
                "the system backup DynamoDB keeps 35 days for a table deleted with PITR on "
                "(its state at deletion)",
                rpo_minutes=5,
                rto_minutes=(60, 240),
            ),
            replace(
                _RECOVERY_POINTS,
                note="after 35 days, or where PITR was off when the table was deleted",
            ),
        ),
        Incident.PURGED_DOCUMENT: (
            # Deletes by version id are not replicated (AmazonS3 user guide, "What does Amazon
            # S3 replicate?"): a purge leaves the replica's versions in place.
            Remedy(
                frozenset({Capability.S3_REPLICATION}),
                "the replica bucket in drRegion (a purge is not replicated), with the "
                "metadata from PITR",
                rpo_minutes=15,
                rto_minutes=(15, 60),
            ),
            replace(
                _RECOVERY_POINTS,
                recovers_with="the newest AWS Backup recovery point of the documents bucket "
                "(daily), with the metadata from PITR",
            ),
        ),
        Incident.PRIMARY_REGION_LOSS: (
            Remedy(
                frozenset({Capability.GLOBAL_TABLE_REPLICAS, Capability.S3_REPLICATION}),
                "the table replicas and the replica buckets in drRegion",
                rpo_minutes=15,
                rto_minutes=(30, 480),
                note="the data is in drRegion already, but FormKiQ Core cannot run on the "
                "replicas: a FormKiQ there needs their items and objects copied into its own "
                "tables and bucket, minutes for a small deployment, hours for a large one "
                "(docs/failover.md)",
            ),
            Remedy(
                frozenset({Capability.CROSS_REGION_COPIES, Capability.S3_REPLICATION}),
                "the newest copy in the DR vault (tables) and the replica buckets (documents)",
                rpo_minutes=_DAY,
                rpo_follows=BACKUP_SCHEDULE,
                rto_minutes=(120, 480),
                note="documents lose up to 15 minutes, tables up to a day: docs/failover.md",
            ),
        ),
        Incident.COMPROMISED_ACCOUNT: (
            Remedy(
                frozenset({Capability.VAULT_LOCK}),
                "recovery points in compliance-locked vaults, which nobody can delete before "
                "they expire",
                rpo_minutes=_DAY,
                rpo_follows=BACKUP_SCHEDULE,
                rto_minutes=(120, 480),
            ),
            replace(
                _RECOVERY_POINTS,
                recovers_with="recovery points in a vault whose policy denies deletion to all "
                "but break-glass roles",
                note="an attacker holding a break-glass role can still delete them",
            ),
        ),
    }
)

_UNPROTECTED_NOTES = {
    Incident.PURGED_DOCUMENT: "a purge deletes every version: not recoverable at this tier",
    Incident.PRIMARY_REGION_LOSS: "nothing is kept outside the primary region at this tier",
    Incident.COMPROMISED_ACCOUNT: "an administrator can turn PITR off (dropping its history) "
    "and delete tables and versions: nothing at this tier survives that",
}


def incident_objectives(
    capabilities: frozenset[Capability], gaps: Mapping[str, timedelta]
) -> dict[Incident, RecoveryObjective]:
    """What recovers each incident with these capabilities: the best remedy's RPO and RTO, and
    every remedy the tier has, best first, as `protected_by`. `gaps`: setting -> longest gap."""
    objectives = {}
    for incident, remedies in INCIDENT_REMEDIES.items():
        have = [remedy for remedy in remedies if remedy.needs <= capabilities]
        if not have:
            objectives[incident] = replace(_NOT_PROTECTED, note=_UNPROTECTED_NOTES[incident])
            continue
        best, *fall_backs = have
        objectives[incident] = RecoveryObjective(
            rpo_minutes=best.rpo_minutes,
            rto_minutes=best.rto_minutes,
            protected_by=(
                best.recovers_with,
                *(
                    f"{remedy.recovers_with} ({remedy.note})"
                    if remedy.note
                    else remedy.recovers_with
                    for remedy in fall_backs
                ),
            ),
            note=best.note,
            rpo_follows=best.rpo_follows,
        ).following(gaps)
    return objectives
