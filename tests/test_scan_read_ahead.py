"""The scan's read-ahead: the next page is read while this one is worked through, and nothing
about what the caller sees changes (order, errors, progress, how much is held).

The error cases use botocore's Stubber (real Scan request and response shapes): no emulator can
be told to fail the second page of a scan.
"""

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from formkiq_backup.dr.tables import read_ahead, scan

READER = "formkiq-dr-scan-ahead"


def readers_running() -> int:
    return sum(thread.name == READER for thread in threading.enumerate())


def wait_for_readers_to_stop(timeout: float = 2.0) -> int:
    deadline = time.monotonic() + timeout
    while readers_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    return readers_running()


class Counted:
    """Pages 0, 1, 2, ... (forever unless `last`), counting how many were taken."""

    def __init__(self, last: int | None = None) -> None:
        self.taken = 0
        self.last = last

    def __iter__(self) -> Iterator[int]:
        page = 0
        while self.last is None or page <= self.last:
            self.taken += 1
            yield page
            page += 1


def test_pages_come_in_order_and_the_reader_is_never_more_than_two_ahead() -> None:
    pages = Counted(last=49)
    seen = []
    for page in read_ahead(iter(pages)):
        time.sleep(0.002)  # the caller's work: the reader runs ahead as far as it may
        # One page handed out, one waiting in the queue, one taken and waiting to be handed over.
        assert pages.taken <= page + 3
        seen.append(page)
    assert seen == list(range(50))
    assert wait_for_readers_to_stop() == 0


def test_closing_early_stops_the_reader() -> None:
    pages = Counted()  # endless: only the stop can end the reader
    reading = read_ahead(iter(pages))
    assert next(reading) == 0
    reading.close()
    assert wait_for_readers_to_stop() == 0
    taken = pages.taken
    time.sleep(0.1)
    assert pages.taken == taken <= 3


def test_an_error_reading_a_page_is_raised_to_the_caller_after_the_pages_before_it() -> None:
    class BrokenPageError(Exception):
        pass

    def pages() -> Iterator[int]:
        yield 0
        yield 1
        raise BrokenPageError("page 2")

    seen = []
    with pytest.raises(BrokenPageError, match="page 2"):
        for page in read_ahead(pages()):
            seen.append(page)
    assert seen == [0, 1]
    assert wait_for_readers_to_stop() == 0


def item(number: int) -> dict[str, Any]:
    return {"PK": {"S": f"docs#{number}"}, "SK": {"S": "document"}}


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
    stubber.add_response("scan", first, {"TableName": "Documents"})
    stubber.add_response(
        "scan",
        {"Items": [item(3)], "ScannedCount": 4, "Count": 1},
        {"TableName": "Documents", "ExclusiveStartKey": item(2)},
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
    stubber.add_response("scan", first, {"TableName": "Documents"})
    stubber.add_client_error(
        "scan",
        service_error_code="ProvisionedThroughputExceededException",
        service_message="Rate of requests exceeds the allowed throughput.",
        http_status_code=400,
        expected_params={"TableName": "Documents", "ExclusiveStartKey": item(1)},
    )
    seen = []
    with pytest.raises(ClientError) as raised:
        for found in scan(client, "Documents"):
            seen.append(found)
    assert seen == [item(1)]
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert wait_for_readers_to_stop() == 0
