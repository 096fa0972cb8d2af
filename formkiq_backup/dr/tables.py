"""Temporary restores, scans, and the guard that keeps FormKiQ's own data read-only.

Restores always go to new tables (`<source>-<purpose>-<UTC time>-<random>`, tagged
`formkiq-dr`), recorded in the report's ledger before the restore is asked for, and deleted by
the ledger on the way out, however the command ends (formkiq_backup/dr/ledger.py).
"""

import json
import multiprocessing
import multiprocessing.pool
import os
import queue
import re
import secrets
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import boto3
from botocore.exceptions import ClientError

from formkiq_backup.dr.context import CLIENT_CONFIG, DrContext, SetupError, describe_error
from formkiq_backup.dr.polling import poll_until
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.items import Item

RESTORE_TIMEOUT_SECONDS = 6 * 3600

ScanProgress = Callable[[str, int], None]
"""Called with (table, items scanned in the page just read)."""
_DYNAMODB_BACKUP_ARN = re.compile(
    r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[^/]+/backup/\S+$"
)

# Calls that change data or settings. The guard refuses them when they name a source.
MUTATING_CALLS = {
    "dynamodb": frozenset(
        {
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "BatchWriteItem",
            "TransactWriteItems",
            "DeleteTable",
            "UpdateTable",
            "UpdateContinuousBackups",
            "UpdateTimeToLive",
            "TagResource",
            "UntagResource",
            "RestoreTableToPointInTime",
            "RestoreTableFromBackup",
        }
    ),
    "s3": frozenset(
        {
            "PutObject",
            "DeleteObject",
            "DeleteObjects",
            "CopyObject",
            "PutBucketVersioning",
            "PutBucketLifecycleConfiguration",
            "PutBucketReplication",
            "PutObjectTagging",
            "DeleteObjectTagging",
            "PutBucketPolicy",
            "DeleteBucket",
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPartCopy",
            "CompleteMultipartUpload",
            "RestoreObject",
        }
    ),
}


class SourceWriteRefusedError(RuntimeError):
    """A command tried to change a table or bucket it promised to only read."""


class SourceGuard:
    """Refuses, before sending, any mutating call that names a protected table or bucket."""

    def __init__(self, tables: Iterable[str], buckets: Iterable[str]) -> None:
        self.tables = frozenset(tables)
        self.buckets = frozenset(buckets)

    def attach(self, client: Any) -> Any:
        """Guard every call `client` makes from now on; returns the client."""
        client.meta.events.register("before-parameter-build", self._check)
        return client

    def _check(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        if model.name not in MUTATING_CALLS.get(service, ()):
            return
        named = (
            _named_tables(params) & self.tables
            if service == "dynamodb"
            else ({params.get("Bucket")} & self.buckets)
        )
        if named:
            raise SourceWriteRefusedError(
                f"refused {service} {model.name} on {', '.join(sorted(str(n) for n in named))}: "
                "this command only reads FormKiQ's tables and buckets"
            )


def _named_tables(params: Mapping[str, Any]) -> set[str]:
    names = {params.get("TableName"), params.get("TargetTableName")}
    names |= set(params.get("RequestItems", {}))
    for action in params.get("TransactItems", []):
        names |= {body.get("TableName") for body in action.values()}
    if "ResourceArn" in params:
        names.add(str(params["ResourceArn"]).rsplit("/", 1)[-1])
    return {name for name in names if name}


@dataclass(frozen=True)
class RecoverySource:
    """Where the reference comes from: a point in time (None: latest restorable), a backup, or
    a table the operator already restored (`--from-table`, optionally in `--from-region`)."""

    at: datetime | None = None
    backup_arn: str | None = None
    table: str | None = None
    region: str | None = None

    def describe(self) -> str:
        if self.table:
            return f"existing table {self.table}" + (f" in {self.region}" if self.region else "")
        if self.backup_arn:
            return f"backup {self.backup_arn}"
        return f"PITR at {_utc(self.at)}" if self.at else "PITR, latest restorable time"


def check_backup_arn(arn: str) -> str | None:
    """What is wrong with an on-demand backup ARN, or None."""
    if _DYNAMODB_BACKUP_ARN.match(arn):
        return None
    return (
        "not a DynamoDB backup ARN (arn:aws:dynamodb:<region>:<account>:table/<table>/backup/"
        "<id>); AWS Backup recovery points restore through AWS Backup restore jobs"
    )


def check_reference_options(
    *, from_tables: Iterable[str], from_region: str | None, restore_options: Mapping[str, bool]
) -> None:
    """`--from-table` replaces a restore: it cannot be combined with the options of one.

    `restore_options` maps each restore option (`--at`, `--from-backup`) to whether it was given.
    """
    given = [option for option, present in restore_options.items() if present]
    if any(from_tables) and given:
        raise SetupError(
            f"--from-table and {' and '.join(given)}: give either an existing table to compare "
            "with or a state to restore, not both"
        )
    if from_region and not any(from_tables):
        raise SetupError(f"--from-region {from_region}: only with --from-table")


def existing_reference(dynamodb: Any, table: str, region: str | None, key: Sequence[str]) -> None:
    """Check `table` can stand in for a restore: it exists, is (or becomes) ACTIVE, same key.

    Only DescribeTable is called: the table is read later, never written, never deleted.
    """
    where = f" in {region}" if region else ""
    try:
        wait_until_active(dynamodb, table)
        found = table_key_attributes(dynamodb, table)
    except ClientError as error:
        raise SetupError(f"--from-table {table}{where}: {describe_error(error)}") from error
    if found != tuple(key):
        raise SetupError(
            f"--from-table {table}{where}: its key is {', '.join(found)}, the table it stands "
            f"in for has {', '.join(key)}"
        )


def backup_sources(dynamodb: Any, backup_arns: Iterable[str]) -> dict[str, RecoverySource]:
    """Map on-demand backup ARNs to the tables they were taken of."""
    sources: dict[str, RecoverySource] = {}
    for arn in backup_arns:
        problem = check_backup_arn(arn)
        if problem:
            raise SetupError(f"--from-backup {arn}: {problem}")
        try:
            described = dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]
        except ClientError as error:
            raise SetupError(f"--from-backup {arn}: {describe_error(error)}") from error
        table = described["SourceTableDetails"]["TableName"]
        if table in sources:
            raise SetupError(f"--from-backup: two backups of table {table}; give one")
        sources[table] = RecoverySource(backup_arn=arn)
    return sources


def check_restorable(dynamodb: Any, table: str, at: datetime | None) -> None:
    """Refuse, before any restore, a PITR restore DynamoDB would refuse.

    RestoreDateTime must lie from EarliestRestorableDateTime to LatestRestorableDateTime
    ("typically 5 minutes before the current time"), else InvalidRestoreTimeException; both
    come from DescribeContinuousBackups (https://docs.aws.amazon.com/goto/WebAPI/
    dynamodb-2012-08-10/PointInTimeRecoveryDescription).
    `at` None means the latest restorable time.
    """
    described = dynamodb.describe_continuous_backups(TableName=table)
    pitr = described["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        raise SetupError(
            f"table {table} has PITR {str(pitr.get('PointInTimeRecoveryStatus', 'off')).lower()}"
            ": no point in time to restore; use --from-backup with an on-demand backup"
        )
    earliest, latest = pitr.get("EarliestRestorableDateTime"), pitr.get("LatestRestorableDateTime")
    if at is None or earliest is None or latest is None:
        return
    if not earliest <= at <= latest:
        raise SetupError(
            f"--at {_utc(at)} is outside the restorable window of table {table}: "
            f"{_utc(earliest)} to {_utc(latest)}"
        )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


MAX_TABLE_NAME = 255


def temporary_table_name(source_table: str, purpose: str, now: datetime | None = None) -> str:
    """`<source>-<purpose>-<UTC time>-<random>`: obvious in a table list, and never the name of
    another run's table, so deleting it on the way out can only delete this run's.

    TableName: 3 to 255 characters of [a-zA-Z0-9_.-] (CreateTable, DynamoDB API Reference:
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html); a
    long source name is shortened, never the part that makes the name unique.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    unique = f"-{purpose}-{stamp}-{secrets.token_hex(3)}"
    return source_table[: MAX_TABLE_NAME - len(unique)] + unique


def start_restore(
    dynamodb: Any,
    source_table: str,
    source: RecoverySource,
    target_table: str,
    *,
    keep_indexes: bool = True,
) -> None:
    """Ask DynamoDB to restore `source_table` into the new table `target_table`.

    Without `keep_indexes` the restore skips the GSIs: faster, and a repair reads by scan only.
    """
    if source.table:
        raise ValueError(f"{source.describe()} is used as it is, never restored")
    options: dict[str, Any] = {"TargetTableName": target_table}
    if not keep_indexes:
        options["GlobalSecondaryIndexOverride"] = []
    if source.backup_arn:
        dynamodb.restore_table_from_backup(BackupArn=source.backup_arn, **options)
    elif source.at is not None:
        dynamodb.restore_table_to_point_in_time(
            SourceTableName=source_table, RestoreDateTime=source.at, **options
        )
    else:
        dynamodb.restore_table_to_point_in_time(
            SourceTableName=source_table, UseLatestRestorableTime=True, **options
        )


def wait_until_active(
    dynamodb: Any, table: str, timeout_seconds: float = RESTORE_TIMEOUT_SECONDS
) -> None:
    """Poll until the table is ACTIVE and no restore is running into it."""

    def state() -> str:
        described = dynamodb.describe_table(TableName=table)["Table"]
        restoring = (described.get("RestoreSummary") or {}).get("RestoreInProgress", False)
        status = str(described["TableStatus"])
        return "ACTIVE, restore still in progress" if status == "ACTIVE" and restoring else status

    poll_until(
        state, lambda s: s == "ACTIVE", timeout_seconds=timeout_seconds, what=f"table {table}"
    )


def restore_temporary_table(
    dynamodb: Any,
    report: Report,
    source_table: str,
    source: RecoverySource,
    purpose: str,
    *,
    keep_indexes: bool,
    on_step: Callable[[str], None],
) -> tuple[str, float]:
    """Restore `source_table` into a new temporary table, wait until it is ACTIVE, report the
    restore with its duration (its data names the table); returns the table's name and the
    seconds it took.

    The table is in the report's ledger before the restore is asked for, so however the
    command ends it is deleted, or listed as left behind.
    """
    target = temporary_table_name(source_table, purpose)
    record = report.ledger.ask(
        "temporary",
        "table",
        target,
        f"restore of {source_table} asked for, no answer yet: the table may exist",
        remove=lambda: delete_temporary_table(dynamodb, target),
        by_hand=f"aws dynamodb delete-table --table-name {target} "
        f"--region {dynamodb.meta.region_name}",
    )
    on_step(f"restoring {source_table} ({source.describe()})")
    started = time.monotonic()
    with record.sending():
        start_restore(dynamodb, source_table, source, target, keep_indexes=keep_indexes)
    record.done(f"restoring {source_table} into it; deleted when the command ends")
    wait_until_active(dynamodb, target)
    arn = dynamodb.describe_table(TableName=target)["Table"]["TableArn"]
    record.resource.arn = arn
    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "formkiq-dr", "Value": "temporary"}])
    seconds = time.monotonic() - started
    record.progress(f"restored from {source_table}; deleted when the command ends")
    report.add(
        "restore",
        source_table,
        Status.PASS,
        f"{source.describe()} -> {target}",
        seconds,
        target=target,
    )
    return target, seconds


def page_counter(on_scan: ScanProgress | None, table: str) -> Callable[[int], None] | None:
    """`scan`'s per-page callback for one table's progress counter."""
    return None if on_scan is None else (lambda items: on_scan(table, items))


def delete_temporary_table(dynamodb: Any, table: str) -> bool:
    """Delete a temporary table, waiting out a restore still creating it: True once deleted,
    False when there was no such table. Raises what stopped it."""
    for _ in range(2):
        try:
            dynamodb.delete_table(TableName=table)
            return True
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                return False
            if code != "ResourceInUseException":
                raise
            wait_until_active(dynamodb, table, timeout_seconds=3600)
    raise RuntimeError(f"table {table} was still in use after its restore finished")


_LEAN_SCAN_ID = "formkiq-dr-lean-scan"
# A binary value (B, BS) arrives base64-encoded; botocore decodes it, the lean path would not.
_BINARY_MARKERS = (b'"B":', b'"BS":', b'"B" :', b'"BS" :')


def lean_scans(dynamodb: Any) -> Any:
    """Have `dynamodb`'s Scan answers hand over their items as DynamoDB sent them.

    botocore walks every attribute value of a response through the output shape (the Scan's
    largest cost in the client, about 45 us an item); an item's JSON wire form is already what
    that walk returns for every type but binary. Before botocore parses a successful Scan
    response, its `Items` are taken out of the body (json.loads, in C) and the rest is left to
    botocore, so signing, retries, throttling and error types stay botocore's: error responses
    and pages holding a binary value are not touched. Idempotent; returns the client.
    """
    dynamodb.meta.events.register(
        "before-parse.dynamodb.Scan", _take_scan_items, unique_id=_LEAN_SCAN_ID
    )
    return dynamodb


def _take_scan_items(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not isinstance(body, bytes):
        return
    if any(marker in body for marker in _BINARY_MARKERS):
        return
    if getattr(_reader, "raw", False):
        # A scan's reader thread: the page is parsed where it is worked through (_open_page).
        customized_response_dict["Items"] = _RawPage(body)
        response_dict["body"] = b"{}"
        return
    parsed = json.loads(body)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Items"), list):
        return
    customized_response_dict["Items"] = parsed.pop("Items")
    response_dict["body"] = json.dumps(parsed).encode()


_reader = threading.local()
"""`raw` is set in a scan's reader thread only: other calls on the client parse as usual."""


@dataclass(frozen=True)
class _RawPage:
    """A successful Scan response body, not yet parsed."""

    body: bytes


# Segments of one table read at once in one process, one reader thread each. The table answers
# one segment's request while the client works through the other's page, so neither waits for
# the other the way one request at a time does (each page's parse and hand-over is time the
# table sits idle). Measured against dynalite (docs/benchmarks.md): 2 segments read a site's
# items in 0.7x to 0.9x the time of one; 3 gave no more. A parallel scan's TotalSegments is 1
# to 1,000,000, Segment 0 to TotalSegments - 1, and a segment's LastEvaluatedKey continues that
# segment only (Scan, DynamoDB API Reference:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html).
READ_SEGMENTS = 2
MAX_TOTAL_SEGMENTS = 1_000_000
# Items a Scan page may hold (its Limit; DynamoDB also stops at 1 MB): about 0.5 MB of FormKiQ's
# items of about 380 bytes. A parsed page is several times its JSON in Python objects, and each
# segment holds one page ahead, so smaller pages keep the client's memory flat: measured
# (docs/benchmarks.md), full 1 MB pages in two segments doubled repair's peak growth per item
# between 5,000 and 50,000 items; at this size it was lower than one segment's at 1 MB, and as
# fast on dynalite (moto_server, which sorts the table for every request, is slower). DynamoDB
# charges a Scan by the data read, whatever the page size; read-ahead hides the round trips.
# Limit counts the items evaluated before any FilterExpression (Scan, API Reference, above).
PAGE_ITEMS = 1_300


def scan(
    dynamodb: Any,
    table: str,
    *,
    on_page: Callable[[int], None] | None = None,
    filter_expression: Mapping[str, Any] | None = None,
    keep: Callable[[Item], bool] | None = None,
    segment: tuple[int, int] | None = None,
    segments: int = 1,
    then: "TableScan | None" = None,
) -> Generator[Item, None, None]:
    """Every item of `table` (wire form), page by page; `on_page` gets each page's scanned count.

    The next page is requested (in a thread, `_PageReader`) as soon as this one's
    LastEvaluatedKey is known, so the table's time to answer overlaps the caller's work. Items
    are handed out and dropped one at a time, so a page shrinks as it is read; a page read ahead
    is held as the bytes DynamoDB sent until its turn comes (a parsed 1 MB page is several MB of
    Python objects). `segments` above 1 reads the table as that many parallel-scan segments at
    once (READ_SEGMENTS), one reader thread each, pages handed out as they arrive; `segment`
    (`(Segment, TotalSegments)`) reads one part of a parallel scan run elsewhere. Responses take
    the lean path (`lean_scans`). Pages hold at most PAGE_ITEMS items unless
    `filter_expression` sets its own `Limit`. `then` (the scan the caller reads next) is
    started once this table's last page has arrived (`TableScan`).
    """
    with TableScan(
        dynamodb,
        table,
        on_page=on_page,
        filter_expression=filter_expression,
        keep=keep,
        segment=segment,
        segments=segments,
        then=then,
    ) as reading:
        yield from reading


class TableScan:
    """One table's scan (`scan`, which says how it reads), whose first requests can be sent
    before the caller's turn to read it comes.

    `start` sends them; iterating starts the scan if it was not started, and hands out its
    items once. A scan given to another as `then` is started as soon as that one's last page
    has arrived: the table is asked for the next table's first pages while the client still
    works through the last of this one's (and indexes them), so the two tables are read
    without a pause between them, and never more than one scan's pages are in flight. Use as a
    context manager: leaving the block stops the scan's readers, read to the end or not.
    """

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        on_page: Callable[[int], None] | None = None,
        filter_expression: Mapping[str, Any] | None = None,
        keep: Callable[[Item], bool] | None = None,
        segment: tuple[int, int] | None = None,
        segments: int = 1,
        then: "TableScan | None" = None,
    ) -> None:
        if not 1 <= segments <= MAX_TOTAL_SEGMENTS or (segment is not None and segments != 1):
            raise ValueError(
                f"segments must be 1 to {MAX_TOTAL_SEGMENTS:,} (Scan's TotalSegments), and 1"
                f" with segment (got {segments})"
            )
        request: dict[str, Any] = {
            "TableName": table,
            "Limit": PAGE_ITEMS,
            **(filter_expression or {}),
        }
        if segment is not None:
            request.update(Segment=segment[0], TotalSegments=segment[1])
        self._parts = (
            [request]
            if segments == 1
            else [
                {**request, "Segment": part, "TotalSegments": segments} for part in range(segments)
            ]
        )
        self._reader = _PageReader(lean_scans(dynamodb), len(self._parts))
        self._on_page = on_page
        self._keep = keep
        self._then = then
        self._state = "new"

    def start(self) -> None:
        """Send the first request of every segment; nothing once started (or stopped)."""
        if self._state == "new":
            self._state = "started"
            self._reader.start()
            for part, first in enumerate(self._parts):
                self._reader.ask(part, first)

    def stop(self) -> None:
        """Stop the readers after the requests they have in flight, also part-way through
        reading (the items not yet handed out are dropped)."""
        if self._state in ("started", "reading"):
            self._reader.stop()
        self._state = "stopped"

    def __enter__(self) -> "TableScan":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def __iter__(self) -> Generator[Item, None, None]:
        self.start()
        if self._state != "started":
            raise RuntimeError("a TableScan is read once, and not after it is stopped")
        self._state = "reading"
        reader, parts, keep = self._reader, self._parts, self._keep
        try:
            reading = len(parts)
            while reading:
                if self._state == "stopped":  # never a table read short without a word
                    raise RuntimeError(f"the scan of {parts[0]['TableName']} was stopped part-way")
                part, response = reader.take()
                items, scanned, next_key = _open_page(response)
                if next_key:
                    reader.ask(part, {**parts[part], "ExclusiveStartKey": next_key})
                else:
                    reading -= 1
                if not reading and self._then is not None:
                    self._then.start()
                if self._on_page is not None:
                    self._on_page(scanned)
                items.reverse()
                while items:
                    item = items.pop()
                    if keep is None or keep(item):
                        yield item
                    del item
        finally:
            self._reader.stop()
            self._state = "stopped"


def _open_page(response: dict[str, Any]) -> tuple[list[Item], int, Any]:
    """A Scan response's items, scanned count and LastEvaluatedKey, parsing a raw page here."""
    found = response.get("Items")
    if isinstance(found, _RawPage):
        response = json.loads(found.body)
        found = response.get("Items")
    if not isinstance(found, list):  # DynamoDB always sends Items: never read a page as empty
        raise ValueError(f"a Scan answer without a list of Items (keys: {sorted(response)})")
    items: list[Item] = found
    return items, response.get("ScannedCount", len(items)), response.get("LastEvaluatedKey")


class _PageReader:
    """Daemon threads, one per segment, each sending the Scan requests it is asked for, one at
    a time; the answers of all of them come back in one queue, in the order they arrive.

    Waiting for an answer releases the GIL, so the server's time (or the network's) overlaps the
    caller's work; a botocore client may be shared between threads (boto3's guide,
    "Multithreading or multiprocessing with clients"), and signing, retries and error types stay
    botocore's. A segment's next request is asked for only once its page before is taken, so at
    most one page per segment is held ahead, as bytes. An error is raised to the caller as
    botocore raised it, after the pages before it; `stop` (leaving a scan early, Ctrl-C) stops
    every thread after the request it has in flight.
    """

    def __init__(self, dynamodb: Any, threads: int = 1) -> None:
        self._dynamodb = dynamodb
        self._requests: list[queue.SimpleQueue[dict[str, Any] | None]] = [
            queue.SimpleQueue() for _ in range(threads)
        ]
        self._answers: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, args=(part,), name=READER_THREAD, daemon=True)
            for part in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for requests in self._requests:
            requests.put(None)

    def ask(self, part: int, request: dict[str, Any]) -> None:
        self._requests[part].put(request)

    def take(self) -> tuple[int, dict[str, Any]]:
        """The next answer of any thread, with the number of the thread that asked for it."""
        part, answer = self._answers.get()
        if isinstance(answer, _Failed):
            raise answer.error
        return part, cast(dict[str, Any], answer)

    def _run(self, part: int) -> None:
        _reader.raw = True
        requests = self._requests[part]
        while (request := requests.get()) is not None:
            try:
                self._answers.put((part, self._dynamodb.scan(**request)))
            except BaseException as error:  # handed to the caller, raised there
                self._answers.put((part, _Failed(error)))
                return


READER_THREAD = "formkiq-dr-scan-ahead"


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def table_key_attributes(dynamodb: Any, table: str) -> tuple[str, ...]:
    """The table's key attribute names, hash key first."""
    schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
    return tuple(part["AttributeName"] for part in sorted(schema, key=lambda p: p["KeyType"]))


def approximate_item_count(dynamodb: Any, table: str) -> int | None:
    """DynamoDB's six-hourly item count: good enough to size a progress bar."""
    count = dynamodb.describe_table(TableName=table)["Table"].get("ItemCount")
    return int(count) if count else None


# A parallel scan pays for starting a fork server and its workers (a few tenths of a second),
# and on a small machine its workers compete with the rest for the cores; below this many
# items (DescribeTable's ItemCount of the live table) one process reads as fast or faster.
# Measured on 2 cores with the server beside the client (docs/benchmarks.md): 2 segments took
# longer at 10,000 items per table (0.91x) and gained 1.13x at 20,000, within the run's noise.
PARALLEL_MIN_ITEMS = 100_000
PARALLEL_SEGMENTS = max(2, min(8, os.cpu_count() or 1))
Result = TypeVar("Result")


@dataclass(frozen=True)
class ClientSpec:
    """How a worker process makes a DynamoDB client like its parent's: same region, endpoint,
    profile and AWS_* settings. The worker resolves its credentials from these itself (a
    profile's are refreshed there as they expire); they pass only through a local pipe."""

    region: str
    endpoint_url: str
    profile: str | None
    environment: tuple[tuple[str, str], ...]

    @classmethod
    def like(cls, client: Any, profile: str | None = None) -> "ClientSpec":
        settings = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
        return cls(client.meta.region_name, client.meta.endpoint_url, profile, settings)

    def create(self) -> Any:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(self.environment)
        session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        return session.client("dynamodb", endpoint_url=self.endpoint_url, config=CLIENT_CONFIG)


_worker_pages: "multiprocessing.Queue[tuple[str, int]] | None" = None
_worker_clients: dict[ClientSpec, Any] = {}


def _start_worker(pages: "multiprocessing.Queue[tuple[str, int]]") -> None:
    global _worker_pages  # noqa: PLW0603  # one queue per worker process, set once at start
    _worker_pages = pages
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop


def worker_client(spec: ClientSpec) -> Any:
    """In a worker: one client per spec, kept for the worker's next segments."""
    if spec not in _worker_clients:
        _worker_clients[spec] = spec.create()
    return _worker_clients[spec]


def worker_page_counter(table: str) -> Callable[[int], None]:
    """In a worker: report a page's scanned count to the parent's progress."""

    def counted(scanned: int) -> None:
        if _worker_pages is not None:
            _worker_pages.put((table, scanned))

    return counted


def map_segments(
    worker: Callable[..., Result],
    calls: Sequence[tuple[Any, ...]],
    *,
    processes: int,
    on_page: Callable[[str, int], None] | None = None,
) -> list[Result]:
    """`worker(*call)` for each call, in `processes` worker processes; results in call order.

    Separate processes, not threads: parsing a page is Python code that holds the GIL, so
    threads would share one core. Workers come from a fork server (started once, without this
    process's threads); pages they read are reported to `on_page` as they go. On any exit
    (error, Ctrl-C, SIGTERM turned into KeyboardInterrupt) the workers are terminated.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        ["formkiq_backup.dr.tables", "formkiq_backup.dr.drill", "formkiq_backup.dr.repair"]
    )
    pages: multiprocessing.Queue[tuple[str, int]] = context.Queue()
    pool = context.Pool(processes, initializer=_start_worker, initargs=(pages,))
    try:
        # Each finished call puts a mark beside the pages, so the loop wakes the moment the
        # last one is done instead of polling (a 0.1 s poll was a tenth of a 20,000-item drill).
        def finished(_: object) -> None:
            pages.put(_FINISHED)

        pending = [
            pool.apply_async(worker, call, callback=finished, error_callback=finished)
            for call in calls
        ]
        done = 0
        while done < len(pending):
            done += _drain(pages, on_page, timeout=0.5)
        results = [result.get() for result in pending]
        pool.close()
        pool.join()  # workers have exited: every page they reported is in the queue
        _drain(pages, on_page, timeout=0)
        return results
    finally:
        pool.terminate()
        pages.close()


_FINISHED = ("", -1)


def _drain(
    pages: "multiprocessing.Queue[tuple[str, int]]",
    on_page: Callable[[str, int], None] | None,
    timeout: float,
) -> int:
    """Report what is in the queue (waiting up to `timeout` for the first); returns how many
    finished marks it held."""
    finished = 0
    try:
        entry = pages.get(timeout=timeout) if timeout else pages.get_nowait()
        while True:
            if entry == _FINISHED:
                finished += 1
            elif on_page is not None:
                on_page(*entry)
            entry = pages.get_nowait()
    except queue.Empty:
        return finished


def scan_segments(dynamodb: Any, table: str) -> int:
    """How many parallel segments to read `table` in: one unless it is large."""
    return PARALLEL_SEGMENTS if is_large(dynamodb, table) else 1


def is_large(dynamodb: Any, table: str) -> bool:
    """Whether `table` is worth reading in worker processes (PARALLEL_MIN_ITEMS)."""
    return (approximate_item_count(dynamodb, table) or 0) >= PARALLEL_MIN_ITEMS


def worker_profile(ctx: DrContext) -> str | None:
    """The profile worker processes should use: the session's, if it names one that exists."""
    name = ctx.session.profile_name
    return name if name in ctx.session.available_profiles else None
