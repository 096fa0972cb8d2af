"""Monthly cost drivers of a render: what is fixed, and the per-GB rates of what grows.

Computed from the resources a render registers and the stack's settings, priced from the one
dated table in formkiq_backup/prices.py. Fixed items are counted (keys, alarms, dashboards,
scheduled runs); what grows with FormKiQ's data is given as a rate and what multiplies it, since
an offline render knows the schedule and retention but not the size of the tables or buckets.
"""

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from formkiq_backup import aws_rules
from formkiq_backup.config import SETTINGS_BY_KEY
from formkiq_backup.prices import NOT_PRICED, PRICES, PRICES_AS_OF, PRICES_REGION

_DAYS_IN_MONTH = 30.44
_MONTH = timedelta(days=_DAYS_IN_MONTH)
# EventBridge Scheduler: 14 million invocations a month are free (EventBridge pricing).
_FREE_SCHEDULER_INVOCATIONS = 14_000_000
_EXPORT_ACTION = "arn:aws:scheduler:::aws-sdk:dynamodb:exportTableToPointInTime"


def cost_drivers(
    resources: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """The `costs` section of a preview document."""
    custom = [entry for entry in resources if entry["custom"]]
    fixed = _fixed(custom)
    return {
        "currency": "USD",
        "asOf": PRICES_AS_OF,
        "region": PRICES_REGION,
        "label": f"AWS list prices of {PRICES_REGION} as of {PRICES_AS_OF} "
        "(formkiq_backup/prices.py): not a quote",
        "fixed": fixed,
        "fixedMonthlyTotal": round(sum(line["monthly"] for line in fixed), 2),
        "perGB": _growing(custom, settings),
        "notPriced": list(NOT_PRICED),
    }


def _of_type(resources: Sequence[Mapping[str, Any]], suffix: str) -> list[Mapping[str, Any]]:
    return [entry for entry in resources if entry["type"].endswith(suffix)]


def _line(item: str, quantity: float, price: str, note: str = "") -> dict[str, Any]:
    unit = PRICES[price]
    return {
        "item": item,
        "quantity": quantity,
        "price": price,
        "unitPrice": unit.usd,
        "unit": unit.unit,
        "monthly": round(quantity * unit.usd, 2),
        "note": note,
        "source": unit.source,
    }


def _fixed(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    keys = _of_type(resources, ":kms/key:Key")
    rotated = [key for key in keys if key["inputs"].get("enableKeyRotation")]
    lines = [
        _line("customer managed KMS keys", len(keys), "kmsKey"),
        _line(
            "rotated keys' older key material",
            len(rotated),
            "kmsKeyRotation",
            "from a year after creation; twice that after two years, then no more",
        ),
        _line("CloudWatch alarms", len(_of_type(resources, "/metricAlarm:MetricAlarm")), "alarm"),
        _line(
            "CloudWatch dashboards",
            len(_of_type(resources, "/dashboard:Dashboard")),
            "dashboard",
            "free while the account has no more than 3",
        ),
    ]
    runs, gb_seconds = _scheduled_lambda(resources)
    lines.append(
        _line(
            "Lambda runs on a schedule (requests)",
            round(runs / 1_000_000, 6),
            "lambdaRequest",
            f"about {runs:,} runs a month",
        )
    )
    lines.append(
        _line(
            "Lambda compute, at most",
            round(gb_seconds),
            "lambdaArmGbSecond",
            "every scheduled run taking its whole timeout; real runs take seconds",
        )
    )
    schedules = _of_type(resources, ":scheduler/schedule:Schedule")
    invocations = sum(
        _runs_a_month(entry["inputs"].get("scheduleExpression")) for entry in schedules
    )
    billed = max(0, invocations - _FREE_SCHEDULER_INVOCATIONS)
    lines.append(
        _line(
            f"EventBridge Scheduler schedules ({len(schedules)})",
            round(billed / 1_000_000, 6),
            "schedulerInvocation",
            f"about {invocations:,} invocations a month, within the 14 million free",
        )
    )
    return lines


def _runs_a_month(expression: object) -> int:
    """About how often a schedule fires in a month: rate() exactly, cron() by its longest gap."""
    text = str(expression or "")
    if text.startswith("rate("):
        value, unit = text[5:-1].split()
        every = timedelta(**{unit.rstrip("s") + "s": int(value)})
        return math.ceil(_MONTH / every)
    try:
        gap = aws_rules.parse_backup_schedule(text).longest_gap
    except aws_rules.ScheduleError:
        return 0
    return max(1, round(_MONTH / gap))


def _scheduled_lambda(resources: Sequence[Mapping[str, Any]]) -> tuple[int, float]:
    """Runs a month of every function a schedule invokes, and the GB-seconds they could take."""
    functions = {entry["arn"]: entry for entry in _of_type(resources, "/function:Function")}
    rules = {
        entry["inputs"].get("name"): entry["inputs"].get("scheduleExpression")
        for entry in _of_type(resources, "/eventRule:EventRule")
    }
    triggers = [
        (rules.get(entry["inputs"].get("rule")), entry["inputs"].get("arn"))
        for entry in _of_type(resources, "/eventTarget:EventTarget")
    ] + [
        (entry["inputs"].get("scheduleExpression"), entry["inputs"].get("target", {}).get("arn"))
        for entry in _of_type(resources, ":scheduler/schedule:Schedule")
    ]
    runs, gb_seconds = 0, 0.0
    for expression, target in triggers:
        function = functions.get(target)
        if function is None or not expression:
            continue
        count = _runs_a_month(expression)
        memory_gb = float(function["inputs"].get("memorySize", 128)) / 1024
        runs += count
        gb_seconds += count * memory_gb * float(function["inputs"].get("timeout", 3))
    return runs, gb_seconds


def _rate(item: str, price: str, per: str) -> dict[str, Any]:
    unit = PRICES[price]
    return {
        "item": item,
        "price": price,
        "unitPrice": unit.usd,
        "unit": unit.unit,
        "per": per,
        "source": unit.source,
    }


def _growing(
    resources: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Rates of what grows with FormKiQ's data, and what multiplies each here."""
    rates: list[dict[str, Any]] = []
    plans = _of_type(resources, ":backup/plan:Plan")
    if plans:
        rates += _backup_rates(settings)
    if any(rule.get("copyActions") for plan in plans for rule in plan["inputs"].get("rules", [])):
        rates.append(
            _rate(
                "recovery points copied to drRegion",
                "backupCrossRegionTransfer",
                "GB copied: each table's backup in full every day, the bucket's changes; the "
                "DR vault then stores them again at the storage rates above",
            )
        )
    if _of_type(resources, "/bucketReplicationConfig:BucketReplicationConfig"):
        rates += [
            _rate(
                "S3 replication to drRegion",
                "s3InterRegionTransfer",
                "GB written to each replicated bucket (new objects and versions)",
            ),
            _rate("S3 Replication Time Control", "s3ReplicationTimeControl", "GB replicated"),
            _rate(
                "replica buckets' storage",
                "s3Standard",
                "GB of every replicated version "
                "kept, until the replica's lifecycle removes old versions",
            ),
        ]
    exports = [
        entry
        for entry in _of_type(resources, ":scheduler/schedule:Schedule")
        if entry["inputs"].get("target", {}).get("arn") == _EXPORT_ACTION
    ]
    if exports:
        runs = _runs_a_month(settings.get("exportSchedule"))
        kept = int(_setting(settings, "exportRetentionDays"))
        transition = aws_rules.GLACIER_IR_TRANSITION_DAYS
        rates += [
            _rate(
                "DynamoDB exports",
                "dynamodbExport",
                f"GB of table size x {runs} export(s) a month x {len(exports)} tables",
            ),
            _rate(f"exports, first {transition} days", "s3Standard", "GB of every export kept"),
            _rate(
                f"exports, day {transition} on",
                "s3GlacierInstantRetrieval",
                f"GB of every export kept, until day {kept}",
            ),
        ]
    if _of_type(resources, ":dynamodb/tableReplica:TableReplica"):
        rates += [
            _rate(
                "table replicas' storage",
                "dynamodbStorage",
                "GB of table size, in each replica's region",
            ),
            _rate(
                "replicated writes",
                "dynamodbReplicatedWrite",
                "million writes to the replicated tables, once per replica",
            ),
        ]
    return rates


def _setting(settings: Mapping[str, Any], key: str) -> Any:
    """The stack's value (defaults merged in), or the declared default where the render has no
    stack settings (a program body built in a test)."""
    return settings[key] if key in settings else SETTINGS_BY_KEY[key].default


def _backup_rates(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    daily = int(_setting(settings, "dailyRetentionDays"))
    monthly = int(_setting(settings, "monthlyRetentionDays"))
    cold = int(_setting(settings, "coldStorageAfterDays") or 0)
    warm_months = min(cold, monthly) if cold else monthly
    rates = [
        _rate(
            "DynamoDB recovery points, warm",
            "backupWarmDynamoDB",
            f"GB of table size x about {daily + round(warm_months / _DAYS_IN_MONTH)} recovery "
            f"points kept ({daily} daily, {round(warm_months / _DAYS_IN_MONTH)} monthly: each "
            "a full backup)",
        ),
        _rate(
            "S3 recovery points",
            "backupWarmS3",
            "GB of the documents bucket, plus each change kept (incremental)",
        ),
    ]
    if cold and monthly > cold:
        rates.insert(
            1,
            _rate(
                "DynamoDB recovery points, cold",
                "backupColdDynamoDB",
                f"GB of table size x about {round((monthly - cold) / _DAYS_IN_MONTH)} monthly "
                f"recovery points cold (after {cold} days, until {monthly})",
            ),
        )
    return rates
