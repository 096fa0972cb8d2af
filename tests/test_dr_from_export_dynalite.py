"""`repair --from-export --apply` against dynalite, which refuses what DynamoDB refuses: the
writers' conditional puts and deletes, sent from several threads at once, as DynamoDB takes
them. DynamoDB is dynalite, S3 (the exports bucket) is moto_server (see
tests/test_dynalite_requests.py); dynalite cannot export, so the export is written in
DynamoDB's documented layout from a scan of the table (tests/exports_support.write_export).
Skipped, with the reason, where node is not installed (README)."""

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from formkiq_backup.dr import writes
from formkiq_backup.dr.tables import scan
from formkiq_backup.exports import exports_bucket_name, table_prefix
from formkiq_backup.items import TableDigest
from formkiq_backup.offline.incident import break_site
from formkiq_backup.sites import belongs_to_site
from tests.exports_support import full_lines, write_export
from tests.test_dynalite_requests import Split, seeded, split

__all__ = ["seeded", "split"]  # the fixtures, shared with the dynalite request tests


def export_of(split: Split, table: str) -> str:
    """An export of `table` as it is now, in the exports bucket; its folder URL."""
    s3 = split.session.client("s3")
    bucket = exports_bucket_name(split.sample.app_environment, split.sample.account_id)
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    items = list(scan(split.dynamodb, table))
    return write_export(
        s3,
        bucket,
        table_prefix(table),
        split.sample.table_arn(table),
        full_lines(items),
        export_time=datetime.now(UTC),
    )


def test_repair_from_an_export_writes_with_conditions_from_several_threads(
    split: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = TableDigest().add_all(
        i for i in scan(split.dynamodb, split.documents_table) if belongs_to_site(i, "finance")
    )
    reference = export_of(split, split.documents_table)
    damage = break_site(split.session, split.documents_table, split.bucket, split.seeded, "finance")
    threads: set[str] = set()
    original = writes.write_change  # repair's own write

    def write(dynamodb: Any, table: str, change: Any) -> Any:
        threads.add(threading.current_thread().name)
        return original(dynamodb, table, change)

    monkeypatch.setattr(writes, "write_change", write)

    code, applied = split.run(
        "repair",
        "--table",
        "documents",
        "--site",
        "finance",
        "--from-export",
        reference,
        "--apply",
        "--delete-new",
    )

    assert code == 0, applied
    assert applied["summary"]["applied"]["conflicts"] == 0
    assert applied["summary"]["applied"]["written"] == len(damage.deleted_items) + len(
        damage.overwritten_items
    ) + len(damage.created_items)
    after = TableDigest().add_all(
        i for i in scan(split.dynamodb, split.documents_table) if belongs_to_site(i, "finance")
    )
    assert after == before
    assert len(threads) > 1  # the writes went out side by side
    assert all(name.startswith("ThreadPoolExecutor") for name in threads)
