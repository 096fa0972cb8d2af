"""Repair's writes: each conditional on the live item the plan saw, each tracked in the ledger.

One implementation for `repair` (one writer) and `repair --from-export` (several writers).

A write must never lose what a user did after the plan was made. A condition expression
compares only the attributes it names: its functions (`attribute_exists`,
`attribute_not_exists`, `attribute_type`, `begins_with`, `contains`, `size`) each take one
attribute path, and none counts an item's attributes or lists their names (Amazon DynamoDB
developer guide, "Condition and filter expressions, operators, and functions"). So no condition
can refuse an item for gaining an attribute the plan never saw. What is done instead:

- An item changed since (overwrite): `UpdateItem`, not `PutItem`. A put "completely replaces
  the existing item" (API reference, PutItem), so an attribute added after the plan would
  vanish; an update SETs the attributes that differ and REMOVEs those the reference lacks, so
  an added attribute stays. `ReturnValues=ALL_OLD` returns the item as it was just before the
  update (API reference, UpdateItem), in the same atomic call, so the attributes it gained since
  the plan are named in the report, as a conflict.
- An item created since (`--delete-new`): `DeleteItem` with `ReturnValues=ALL_OLD`. When the
  deleted item had gained attributes since the plan, it is put back at once, as it was
  (conditional on no item having taken its key meanwhile), and reported as a conflict. Should
  even that fail, the report carries the deleted item whole, so nothing is lost silently.
- An item deleted since: `PutItem` conditional on the key not existing (nothing to lose).

A re-read just before the write (a consistent GetItem) would not close the gap: an attribute
added between the read and the write would still be replaced by a put.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.dr.report import Report, Status
from formkiq_backup.tablediff import Action, Change, TableDiff

# DynamoDB's limit on an expression string ("Expression parameters", Amazon DynamoDB developer
# guide: "The maximum length of any expression string is 4 KB").
MAX_EXPRESSION_CHARS = 4_000
CONFLICT = "ConditionalCheckFailedException"


class UnguardedItemError(ValueError):
    """An item a conditional write cannot protect: too many attributes for one expression."""


@dataclass(frozen=True)
class Conflict:
    """A write that met an item changed since the plan in a way no condition could see."""

    detail: str
    deleted: Mapping[str, Any] | None = None
    """An item deleted, then found changed, that could not be put back: here, whole."""


def key_text(key: Mapping[str, Any]) -> str:
    """An item's key as the report shows it: `PK / SK`."""
    return " / ".join(str(next(iter(value.values()))) for value in key.values())


def unchanged_condition(found: Mapping[str, Any]) -> dict[str, Any]:
    """A condition true only while every attribute still has the value the plan saw.

    Items too large for one 4 KB expression are guarded by their scalar attributes.
    """
    for attributes in (list(found), [n for n, v in found.items() if {"S", "N", "BOOL"} & set(v)]):
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": found[name] for i, name in enumerate(attributes)}
        expression = " AND ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
        if len(expression) <= MAX_EXPRESSION_CHARS:
            return {
                "ConditionExpression": expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
    raise UnguardedItemError(
        f"{len(found)} attributes do not fit one {MAX_EXPRESSION_CHARS}-character condition, so "
        "a concurrent change could not be detected; restore this item by hand"
    )


def overwrite_request(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The UpdateItem that turns `found` into `wanted` while `found` is what the item holds,
    leaving any attribute the item gained since in place (and returning the old item)."""
    request = unchanged_condition(found)
    names: dict[str, str] = dict(request["ExpressionAttributeNames"])
    placeholders = {name: placeholder for placeholder, name in names.items()}

    def placeholder(attribute: str) -> str:
        if attribute not in placeholders:
            placeholders[attribute] = f"#b{len(placeholders)}"
            names[placeholders[attribute]] = attribute
        return placeholders[attribute]

    values: dict[str, Any] = dict(request["ExpressionAttributeValues"])
    changed = [(name, value) for name, value in wanted.items() if found.get(name) != value]
    sets = []
    for number, (name, value) in enumerate(changed):
        values[f":w{number}"] = value
        sets.append(f"{placeholder(name)} = :w{number}")
    removes = [placeholder(name) for name in found if name not in wanted]
    clauses = [f"SET {', '.join(sets)}"] if sets else []
    clauses += [f"REMOVE {', '.join(removes)}"] if removes else []
    update = " ".join(clauses)
    if len(update) > MAX_EXPRESSION_CHARS:
        raise UnguardedItemError(
            f"{len(sets) + len(removes)} attributes to change do not fit one "
            f"{MAX_EXPRESSION_CHARS}-character update; restore this item by hand"
        )
    return request | {
        "UpdateExpression": update,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_OLD",
    }


def write_change(dynamodb: Any, table: str, change: Change) -> Conflict | None:
    """One conditional write. None when the item is now as the plan wanted; otherwise what
    the item had gained since the plan, and what was done about it (a conflict).

    A ConditionalCheckFailedException (the item changed in an attribute the plan saw) and an
    UnguardedItemError (refused before sending) are the caller's to report.
    """
    if change.action is Action.PUT:
        names = {f"#k{i}": name for i, name in enumerate(change.key)}
        dynamodb.put_item(
            TableName=table,
            Item=change.wanted,
            ConditionExpression=" AND ".join(f"attribute_not_exists({n})" for n in names),
            ExpressionAttributeNames=names,
        )
        return None
    assert change.found is not None
    if change.action is Action.OVERWRITE:
        assert change.wanted is not None
        old = dynamodb.update_item(
            TableName=table, Key=change.key, **overwrite_request(change.found, change.wanted)
        ).get("Attributes", {})
        added = sorted(set(old) - set(change.found))
        if not added:
            return None
        return Conflict(
            f"changed since the plan was made: {', '.join(added)} added; the plan's attributes "
            f"were written and {', '.join(added)} kept: check the item"
        )
    old = dynamodb.delete_item(
        TableName=table, Key=change.key, ReturnValues="ALL_OLD", **unchanged_condition(change.found)
    ).get("Attributes", {})
    added = sorted(set(old) - set(change.found))
    if not added:
        return None
    return _put_back(dynamodb, table, change, old, added)


def _put_back(
    dynamodb: Any, table: str, change: Change, old: Mapping[str, Any], added: list[str]
) -> Conflict:
    """An item deleted as new that had gained attributes since the plan: back as it was."""
    names = {f"#k{i}": name for i, name in enumerate(change.key)}
    try:
        dynamodb.put_item(
            TableName=table,
            Item=old,
            ConditionExpression=" AND ".join(f"attribute_not_exists({n})" for n in names),
            ExpressionAttributeNames=names,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != CONFLICT:
            raise
        return Conflict(
            f"changed since the plan was made ({', '.join(added)} added) and deleted; a new item "
            "took its key before it could be put back: the deleted item is in this entry's data",
            deleted=old,
        )
    return Conflict(
        f"changed since the plan was made ({', '.join(added)} added): put back, not deleted"
    )


class WriteLog:
    """Every planned write of one run, as one record of the report's ledger (`item writes`).

    Counts what became of each write; safe to call from several threads (a botocore client is
    too: boto3's guide, "Multithreading or multiprocessing with clients"). Stopped part-way (an
    access error, the endpoint gone, Ctrl-C), it says how many writes were made and which were
    sent without an answer, so the operator knows where the table stands.
    """

    def __init__(self, report: Report, table: str) -> None:
        self.report, self.table = report, table
        self.outcome: Counter[str] = Counter(
            {"written": 0, "conflicts": 0, "unguarded": 0, "kept": 0}
        )
        self.in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.record = report.ledger.ask(
            "apply", "item writes", table, "writing: stopped before the first answer"
        )

    def keep(self) -> None:
        """An item created after the recovery point, kept (no --delete-new)."""
        with self._lock:
            self.outcome["kept"] += 1

    def write(self, dynamodb: Any, change: Change) -> None:
        """One write, conditional on the live item the plan saw: a conflict or an item too
        large to guard is reported, never forced. A write with no answer (the endpoint gone,
        an interrupt) stays in flight."""
        key = key_text(change.key)
        with self._lock:
            self.in_flight.add(key)
        try:
            conflict = write_change(dynamodb, self.table, change)
        except UnguardedItemError as error:  # refused before sending
            self._answered(key, "unguarded", f"not written: {error}")
        except ClientError as error:  # DynamoDB answered: not written
            if error.response.get("Error", {}).get("Code") != CONFLICT:
                self._answered(key)
                raise
            detail = f"changed since the plan was made: {change.action.value} not applied"
            self._answered(key, "conflicts", detail)
        else:
            if conflict is None:
                self._answered(key, "written")
            else:
                deleted = {} if conflict.deleted is None else {"deleted": conflict.deleted}
                self._answered(key, "conflicts", conflict.detail, **deleted)

    def _answered(
        self, key: str, what: str | None = None, problem: str | None = None, **data: Any
    ) -> None:
        with self._lock:
            self.in_flight.discard(key)
            if what is not None:
                self.outcome[what] += 1
            if problem is not None:
                section = "unguarded" if what == "unguarded" else "conflict"
                self.report.add(section, key, Status.FAIL, problem, **data)

    def stopped(self) -> None:
        """The writes stopped on an error or an interrupt: what was made, what is unknown."""
        self.record.entry.seconds = round(time.monotonic() - self._started, 3)
        detail = f"stopped part-way: {self.outcome['written']} written before it stopped"
        unknown = sorted(self.in_flight)
        self.report.summary["applied"] = dict(self.outcome) | {
            "stoppedPartWay": True,
            "inFlight": unknown,
        }
        if unknown:
            # Sent, never answered: DynamoDB may have made them. A new plan shows where they are.
            self.record.progress(
                f"{detail}; the write of {', '.join(unknown)} was sent without an answer: it "
                "may have been made"
            )
            self.record.entry.status = Status.FAIL
        else:
            self.record.done(detail, status=Status.FAIL)

    def finished(self, **summary: Any) -> None:
        """Every write answered: the record's verdict, PASS only without conflicts."""
        outcome = self.outcome
        self.report.summary["applied"] = dict(outcome) | summary
        by = f" by {summary['writers']} writers" if "writers" in summary else ""
        self.record.done(
            f"{outcome['written']} written{by}, {outcome['conflicts']} conflicts, "
            f"{outcome['unguarded']} too large to guard, {outcome['kept']} created after the "
            "recovery point kept",
            status=Status.FAIL if outcome["conflicts"] or outcome["unguarded"] else Status.PASS,
        )
        self.record.entry.seconds = round(time.monotonic() - self._started, 3)


def _planned(diff: TableDiff, delete_new: bool, log: WriteLog) -> Iterator[Change]:
    """The changes to write; items created since are counted as kept unless `delete_new`."""
    for change in diff.changes():
        if change.action is Action.DELETE and not delete_new:
            log.keep()
            continue
        yield change


def apply_plan(
    dynamodb: Any,
    table: str,
    diff: TableDiff,
    delete_new: bool,
    report: Report,
    *,
    writers: int = 1,
) -> None:
    """Every planned write, `writers` at a time (one: in this thread). At most twice `writers`
    writes wait in the queue, so the plan is streamed from disk, never held."""
    log = WriteLog(report, table)
    try:
        if writers == 1:
            for change in _planned(diff, delete_new, log):
                log.write(dynamodb, change)
        else:
            _in_parallel(dynamodb, _planned(diff, delete_new, log), log, writers)
    except BaseException:
        log.stopped()
        raise
    log.finished(**({"writers": writers} if writers > 1 else {}))


def _in_parallel(dynamodb: Any, changes: Iterator[Change], log: WriteLog, writers: int) -> None:
    with ThreadPoolExecutor(max_workers=writers) as pool:
        pending: set[Future[None]] = set()
        try:
            for change in changes:
                if len(pending) >= 2 * writers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()
                pending.add(pool.submit(log.write, dynamodb, change))
            for future in pending:
                future.result()
        except BaseException:
            for future in pending:  # nothing more is sent; writes already sent finish
                future.cancel()
            raise
