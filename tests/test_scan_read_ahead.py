"""The scan's read-ahead: the next page is requested while this one is worked through, and
nothing about what the caller sees changes (order, errors, progress, how much is held).

The bounds are checked with a counting stand-in for the client (only `scan` and the event
registration `lean_scans` makes); the request and error shapes with botocore's Stubber (real
Scan shapes): no emulator can be told to fail the second page of a scan. The raw pages the
reader thread holds are checked against dynalite in tests/test_dynalite_requests.py.
"""

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from formkiq_backup.dr.tables import PAGE_ITEMS, READER_THREAD, TableScan, scan


def readers_running() -> int:
    return sum(thread.name == READER_THREAD for thread in threading.enumerate())


def wait_for_readers_to_stop(timeout: float = 2.0) -> int:
    deadline = time.monotonic() + timeout
    while readers_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    return readers_running()


def item(number: int) -> dict[str, Any]:
    return {"PK": {"S": f"docs#{number}"}, "SK": {"S": "document"}}


class PagedTable:
    """Answers Scan with pages of two items, `pages` of them (endless if None), counting."""

    def __init__(self, pages: int | None) -> None:
        self.pages = pages
        self.requests: list[dict[str, Any]] = []
        self.meta = SimpleNamespace(events=SimpleNamespace(register=lambda *_, **__: None))

    def scan(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        page = int(request.get("ExclusiveStartKey", {"page": {"N": "-1"}})["page"]["N"]) + 1
        response: dict[str, Any] = {"Items": [item(2 * page), item(2 * page + 1)]}
        response["ScannedCount"] = 2
        if self.pages is None or page + 1 < self.pages:
            response["LastEvaluatedKey"] = {"page": {"N": str(page)}}
        return response


def test_pages_come_in_order_and_the_reader_is_never_more_than_one_page_ahead() -> None:
    table = PagedTable(pages=30)
    seen = []
    for number, found in enumerate(scan(table, "Documents")):
        time.sleep(0.002)  # the caller's work: the reader runs ahead as far as it may
        # The page being handed out, and at most the next one requested: never a third.
        assert len(table.requests) <= number // 2 + 2
        seen.append(found)
    assert seen == [item(n) for n in range(60)]
    assert [r.get("ExclusiveStartKey") for r in table.requests[:2]] == [
        None,
        {"page": {"N": "0"}},
    ]
    assert wait_for_readers_to_stop() == 0


def test_leaving_a_scan_early_stops_the_reader() -> None:
    table = PagedTable(pages=None)  # endless: only the stop can end the reader
    reading = scan(table, "Documents")
    assert next(reading) == item(0)
    reading.close()
    assert wait_for_readers_to_stop() == 0
    requested = len(table.requests)
    time.sleep(0.1)
    assert len(table.requests) == requested <= 2


def test_each_page_is_reported_once_in_order_and_filtered_items_are_not_handed_out() -> None:
    table = PagedTable(pages=3)
    pages: list[int] = []
    kept = list(scan(table, "Documents", on_page=pages.append, keep=lambda i: i != item(3)))
    assert pages == [2, 2, 2]
    assert kept == [item(n) for n in range(6) if n != 3]


class ItemsMissingAfterFirstPage(PagedTable):
    def scan(self, **request: Any) -> dict[str, Any]:
        answer = super().scan(**request)
        if request.get("ExclusiveStartKey"):
            del answer["Items"]
        return answer


def test_an_answer_without_items_is_an_error_not_an_empty_page() -> None:
    reading = scan(ItemsMissingAfterFirstPage(pages=2), "Documents")
    assert [next(reading), next(reading)] == [item(0), item(1)]
    with pytest.raises(ValueError, match="without a list of Items"):
        next(reading)


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_scan_follows_each_last_evaluated_key_and_reports_each_page(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    first = {"Items": [item(1), item(2)], "ScannedCount": 5, "Count": 2}
    first["LastEvaluatedKey"] = item(2)
    stubber.add_response("scan", first, {"TableName": "Documents", "Limit": PAGE_ITEMS})
    stubber.add_response(
        "scan",
        {"Items": [item(3)], "ScannedCount": 4, "Count": 1},
        {"TableName": "Documents", "Limit": PAGE_ITEMS, "ExclusiveStartKey": item(2)},
    )
    pages: list[int] = []
    items = list(scan(client, "Documents", on_page=pages.append))
    assert items == [item(1), item(2), item(3)]
    assert pages == [5, 4]


def test_a_throttled_page_is_raised_as_botocore_raised_it_after_the_items_before_it(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    first = {"Items": [item(1)], "ScannedCount": 1, "Count": 1, "LastEvaluatedKey": item(1)}
    stubber.add_response("scan", first, {"TableName": "Documents", "Limit": PAGE_ITEMS})
    stubber.add_client_error(
        "scan",
        service_error_code="ProvisionedThroughputExceededException",
        service_message="Rate of requests exceeds the allowed throughput.",
        http_status_code=400,
        expected_params={
            "TableName": "Documents",
            "Limit": PAGE_ITEMS,
            "ExclusiveStartKey": item(1),
        },
    )
    seen = []
    with pytest.raises(ClientError) as raised:
        for found in scan(client, "Documents"):
            seen.append(found)
    assert seen == [item(1)]
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert wait_for_readers_to_stop() == 0


class SegmentedTable(PagedTable):
    """PagedTable per parallel-scan segment: each segment has its own `pages` pages, and its
    items are numbered from segment * 1000."""

    def __init__(self, pages: int | None, failing_segment: int | None = None) -> None:
        super().__init__(pages)
        self.failing_segment = failing_segment
        self.lock = threading.Lock()

    def scan(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            self.requests.append(request)
        segment = request["Segment"]
        start = request.get("ExclusiveStartKey")
        if segment == self.failing_segment and start:
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "segment failed"}}, "Scan"
            )
        page = int(start["page"]["N"]) + 1 if start else 0
        first = segment * 1000 + 2 * page
        response: dict[str, Any] = {"Items": [item(first), item(first + 1)], "ScannedCount": 2}
        if self.pages is None or page + 1 < self.pages:
            response["LastEvaluatedKey"] = {"page": {"N": str(page)}}
        return response


def test_segments_read_at_once_hand_out_every_item_once_one_page_ahead_each() -> None:
    table = SegmentedTable(pages=10)
    pages: list[int] = []
    seen = []
    for number, found in enumerate(scan(table, "Documents", segments=3, on_page=pages.append)):
        time.sleep(0.001)
        # Pages handed out so far (two items each), plus at most one requested per segment.
        assert len(table.requests) <= number // 2 + 1 + 3
        seen.append(found)
    assert sorted(seen, key=lambda i: int(i["PK"]["S"][5:])) == [
        item(segment * 1000 + n) for segment in range(3) for n in range(20)
    ]
    assert pages == [2] * 30
    for segment in range(3):
        asked = [r for r in table.requests if r["Segment"] == segment]
        assert all(r["TotalSegments"] == 3 and r["TableName"] == "Documents" for r in asked)
        assert [r.get("ExclusiveStartKey") for r in asked] == [None] + [
            {"page": {"N": str(page)}} for page in range(9)
        ]
    assert wait_for_readers_to_stop() == 0


def test_a_failing_segment_is_raised_and_every_reader_stops() -> None:
    table = SegmentedTable(pages=None, failing_segment=1)  # the other segments never end
    with pytest.raises(ClientError, match="segment failed"):
        for _ in scan(table, "Documents", segments=2):
            pass
    assert wait_for_readers_to_stop() == 0
    requested = len(table.requests)
    time.sleep(0.1)
    assert len(table.requests) == requested


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"segments": 0}, "got 0"),
        ({"segments": 1_000_001}, "got 1000001"),
        ({"segments": 2, "segment": (0, 4)}, "got 2"),
    ],
)
def test_segments_must_be_a_valid_total_and_one_with_a_given_segment(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        next(scan(PagedTable(pages=1), "Documents", **options))


def test_pages_are_limited_to_page_items_unless_the_caller_sets_a_limit(
    stubbed: tuple[Any, Stubber],
) -> None:
    """The request DynamoDB receives: Limit PAGE_ITEMS by default, the caller's when given."""
    client, stubber = stubbed
    for limit in (PAGE_ITEMS, 7):
        page = {"Items": [item(1)], "ScannedCount": 1, "Count": 1}
        stubber.add_response("scan", page, {"TableName": "Documents", "Limit": limit})
    assert list(scan(client, "Documents")) == [item(1)]
    assert list(scan(client, "Documents", filter_expression={"Limit": 7})) == [item(1)]
    assert 0 < PAGE_ITEMS * 400 <= 1024 * 1024  # FormKiQ-sized pages stay under Scan's 1 MB


def wait_for_requests(table: PagedTable, count: int, timeout: float = 2.0) -> int:
    deadline = time.monotonic() + timeout
    while len(table.requests) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    return len(table.requests)


def test_the_next_table_is_asked_for_once_this_ones_last_page_is_in_not_before() -> None:
    """repair and drill read two tables in turn: the second's first page is requested while
    the first's last items are still being worked through, and not while pages are left."""
    first, second = PagedTable(pages=3), PagedTable(pages=2)
    with TableScan(second, "Live") as then:
        reading = scan(first, "Reference", then=then)
        for number in range(4):  # pages 0 and 1: page 2 is still to come
            assert next(reading) == item(number)
            time.sleep(0.02)
            assert second.requests == []
        assert next(reading) == item(4)  # page 2 taken: no LastEvaluatedKey
        assert wait_for_requests(second, 1) == 1
        assert second.requests == [{"TableName": "Live", "Limit": PAGE_ITEMS}]
        assert list(reading) == [item(5)]
        assert list(then) == [item(n) for n in range(4)]
    assert wait_for_readers_to_stop() == 0


def test_a_started_scan_that_is_never_read_stops_its_readers() -> None:
    table = PagedTable(pages=None)
    with TableScan(table, "Live") as started:
        started.start()
        started.start()  # once only
        assert wait_for_requests(table, 1) == 1
    assert wait_for_readers_to_stop() == 0
    time.sleep(0.05)
    assert len(table.requests) == 1  # one page ahead at most, never read


def test_a_table_scan_is_read_once() -> None:
    table = PagedTable(pages=1)
    with TableScan(table, "Live") as reading:
        assert list(reading) == [item(0), item(1)]
        with pytest.raises(RuntimeError, match="read once"):
            list(reading)
    with TableScan(table, "Live") as stopped:
        stopped.stop()
        with pytest.raises(RuntimeError, match="read once"):
            next(iter(stopped))


def test_leaving_the_block_part_way_through_reading_stops_the_readers() -> None:
    table = PagedTable(pages=None)
    with TableScan(table, "Live") as reading:
        items = iter(reading)
        assert next(items) == item(0)
    assert wait_for_readers_to_stop() == 0
    requested = len(table.requests)
    time.sleep(0.05)
    assert len(table.requests) == requested <= 2
    assert next(items) == item(1)  # the page already handed over
    with pytest.raises(RuntimeError, match="scan of Live was stopped part-way"):
        next(items)  # not a table that seems to end here
