"""The two ways the engines reach an export beyond downloading it.

DuckDB's httpfs, loaded from the `duckdb-ext-httpfs` package (no download at run time), reads
the files where they are in moto_server on 127.0.0.1: this needs the endpoint's host in the S3
secret's ENDPOINT, URL_STYLE 'path' and USE_SSL false.

Athena cannot run here: its calls go through botocore's Stubber, which checks every request
against Athena's real API model and answers in its real shapes (a failed or a paged result
included). The SQL it is sent is the SQL shared with DuckDB (formkiq_backup.exportdiff.sql,
Trino's spelling), and it is run on DuckDB over the same files, with Trino's two function names
defined as DuckDB's: the rows the Stubber hands back are what that run found.
"""

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from bench.server import offline_environment
from formkiq_backup.exportdiff import athena_engine
from formkiq_backup.exportdiff.athena_engine import (
    AthenaEngine,
    create_table_statement,
    table_name,
)
from formkiq_backup.exportdiff.diff import diff_exports
from formkiq_backup.exportdiff.duckdb_engine import DuckDbEngine, extension_directory
from formkiq_backup.exportdiff.engine import EngineError
from formkiq_backup.exportdiff.manifest import ExportCheckError, ExportLocation, read_export
from formkiq_backup.exportdiff.sql import ATHENA, DUCKDB, Scope, diff_query
from formkiq_backup.tablediff import Action
from tests.exports_support import full_lines, write_export
from tests.test_exportdiff import (
    BUCKET,
    KEYS,
    PREFIX,
    TABLE_ARN,
    _by_action,
    athena_functions,
    in_process,
    tables,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_httpfs_is_the_packaged_extension_for_this_duckdb() -> None:
    found = list(extension_directory().glob(f"v{duckdb.__version__}/*/httpfs.duckdb_extension"))
    assert len(found) == 1, "duckdb-ext-httpfs must match duckdb's version exactly"


@pytest.fixture
def moto_s3(
    moto_server_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any]]:
    for name, value in offline_environment().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    session = boto3.session.Session(region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=moto_server_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    yield s3, session.get_credentials()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=entry["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def test_duckdb_reads_exports_in_s3_through_httpfs_with_a_path_style_secret(
    moto_s3: tuple[Any, Any], tmp_path: Path
) -> None:
    s3, credentials = moto_s3
    reference, live = tables()
    first = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference, 1), export_time=T0)
    second = write_export(
        s3, BUCKET, PREFIX, TABLE_ARN, full_lines(live, 2), export_time=T0 + timedelta(hours=1)
    )
    exports = [read_export(s3, ExportLocation.parse(url)) for url in (first, second)]

    with DuckDbEngine(s3, credentials=credentials, direct_s3=True, directory=tmp_path) as engine:
        diff, _ = diff_exports(
            engine, exports[0], exports[1], KEYS, site="finance", directory=tmp_path
        )
        with diff:
            assert _by_action(diff) == in_process(reference, live, "finance")
    assert not (tmp_path / "reference").exists()  # nothing was downloaded


def test_read_in_place_a_file_changed_after_the_export_fails_its_etag(
    moto_s3: tuple[Any, Any], tmp_path: Path
) -> None:
    s3, credentials = moto_s3
    reference, _ = tables()
    url = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference), export_time=T0)
    export = read_export(s3, ExportLocation.parse(url))
    s3.put_object(Bucket=BUCKET, Key=export.files[0].key, Body=gzip.compress(b"\n"))
    with (
        DuckDbEngine(s3, credentials=credentials, direct_s3=True, directory=tmp_path) as engine,
        pytest.raises(ExportCheckError, match=r"ETag .* is not the manifest's"),
    ):
        diff_exports(engine, export, export, KEYS, site=None)


# --- Athena ----------------------------------------------------------------------------------


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def athena_rows(reference_lines: list[str], live_lines: list[str], site: str | None) -> list[Any]:
    """The Athena statement's rows, computed by DuckDB over the same lines."""
    db = duckdb.connect()
    athena_functions(db)
    for name, lines in (("reference_lines", reference_lines), ("live_lines", live_lines)):
        db.execute(f"CREATE TABLE {name} (line VARCHAR)")
        db.executemany(f"INSERT INTO {name} VALUES (?)", [(line,) for line in lines])
    query = diff_query(ATHENA, "reference_lines", "live_lines", KEYS, Scope(site))
    return db.execute(query).fetchall()


def _lines(s3: Any, url: str) -> list[str]:
    export = read_export(s3, ExportLocation.parse(url))
    found = []
    for file in export.files:
        body = s3.get_object(Bucket=BUCKET, Key=file.key)["Body"].read()
        found += [line for line in gzip.decompress(body).decode().splitlines() if line]
    return found


def _result_page(rows: list[Any], *, header: bool, token: str | None) -> dict[str, Any]:
    def cell(value: Any) -> dict[str, str]:
        return {} if value is None else {"VarCharValue": str(value)}

    listed = [{"Data": [cell(v) for v in row]} for row in rows]
    if header:
        listed.insert(
            0, {"Data": [cell(name) for name in ("action", "reference_line", "live_line")]}
        )
    page: dict[str, Any] = {
        "ResultSet": {
            "Rows": listed,
            "ResultSetMetadata": {
                "ColumnInfo": [
                    {"Name": name, "Type": "varchar"}
                    for name in ("action", "reference_line", "live_line")
                ]
            },
        },
        "UpdateCount": 0,
    }
    if token:
        page["NextToken"] = token
    return page


def _expect_query(
    stub: Stubber, query_id: str, statement: str | None, states: tuple[str, ...] = ("SUCCEEDED",)
) -> None:
    request: dict[str, Any] = {
        "QueryString": statement if statement is not None else stub_any(),
        "WorkGroup": "recovery",
        "QueryExecutionContext": {"Database": "formkiq_dr"},
    }
    stub.add_response("start_query_execution", {"QueryExecutionId": query_id}, request)
    for state in states:
        status: dict[str, Any] = {"State": state}
        if state == "FAILED":
            status["StateChangeReason"] = "SYNTAX_ERROR: line 1:1"
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": query_id, "Status": status}},
            {"QueryExecutionId": query_id},
        )


def stub_any() -> Any:
    from botocore.stub import ANY

    return ANY


def test_athena_runs_the_shared_diff_and_reads_its_results_page_by_page(
    s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(athena_engine, "POLL_SECONDS", 0.0)
    reference, live = tables()
    first = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference, 1), export_time=T0)
    second = write_export(
        s3, BUCKET, PREFIX, TABLE_ARN, full_lines(live, 2), export_time=T0 + timedelta(hours=1)
    )
    exports = [read_export(s3, ExportLocation.parse(url)) for url in (first, second)]
    rows = athena_rows(_lines(s3, first), _lines(s3, second), "finance")
    assert len(rows) > 3  # enough for two pages

    athena = boto3.client("athena", region_name="us-east-1")
    names = [table_name(side, e) for side, e in zip(("reference", "live"), exports, strict=True)]
    quoted = [f'"formkiq_dr"."{name}"' for name in names]
    with Stubber(athena) as stub:
        for number, (name, export) in enumerate(zip(names, exports, strict=True)):
            _expect_query(
                stub, f"create-{number}", create_table_statement("formkiq_dr", name, export)
            )
        for number in range(2):  # the site's items counted on each side
            _expect_query(stub, f"count-{number}", None)
            stub.add_response(
                "get_query_results",
                _count_page(17),
                {"QueryExecutionId": f"count-{number}", "MaxResults": 1000},
            )
        statement = diff_query(ATHENA, quoted[0], quoted[1], KEYS, Scope("finance"))
        _expect_query(stub, "diff", statement, ("QUEUED", "RUNNING", "SUCCEEDED"))
        stub.add_response(
            "get_query_results",
            _result_page(rows[:2], header=True, token="page-2"),
            {"QueryExecutionId": "diff", "MaxResults": 1000},
        )
        stub.add_response(
            "get_query_results",
            _result_page(rows[2:], header=False, token=None),
            {"QueryExecutionId": "diff", "MaxResults": 1000, "NextToken": "page-2"},
        )
        for number, name in enumerate(names):
            _expect_query(stub, f"drop-{number}", f"DROP TABLE IF EXISTS `formkiq_dr`.`{name}`")

        engine = AthenaEngine(athena, s3, workgroup="recovery", database="formkiq_dr")
        try:
            diff, details = diff_exports(
                engine, exports[0], exports[1], KEYS, site="finance", directory=tmp_path
            )
        finally:
            engine.close()
        stub.assert_no_pending_responses()
    with diff:
        assert _by_action(diff) == in_process(reference, live, "finance")
        assert diff.reference_count == 17
    assert details["queryExecutionId"] == "diff"
    assert "LOCATION 's3://" in create_table_statement("formkiq_dr", names[0], exports[0])


def _count_page(count: int) -> dict[str, Any]:
    return {
        "ResultSet": {
            "Rows": [
                {"Data": [{"VarCharValue": "items"}]},
                {"Data": [{"VarCharValue": str(count)}]},
            ],
            "ResultSetMetadata": {"ColumnInfo": [{"Name": "items", "Type": "bigint"}]},
        },
    }


def test_a_failed_athena_query_is_an_engine_error_naming_athenas_reason(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(athena_engine, "POLL_SECONDS", 0.0)
    reference, _ = tables()
    url = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference), export_time=T0)
    export = read_export(s3, ExportLocation.parse(url))
    athena = boto3.client("athena", region_name="us-east-1")
    with Stubber(athena) as stub:
        _expect_query(stub, "create", None, ("FAILED",))
        engine = AthenaEngine(athena, s3, workgroup="recovery", database="formkiq_dr")
        with pytest.raises(EngineError, match="FAILED: SYNTAX_ERROR"):
            engine.diff(export, export, KEYS, Scope(None))
        _expect_query(stub, "drop", None)
        engine.close()
        stub.assert_no_pending_responses()


class Ledger:
    """Stands in for formkiq-dr's ledger: what the engine hands over, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def track(self, name: str, drop: Any) -> Any:
        self.events.append(f"recorded {name}")
        events = self.events

        class Made:
            def done(self, detail: str) -> None:
                events.append(f"done {name}")

            def refused(self, detail: str) -> None:
                events.append(f"refused {name}: {detail}")

            def remove(self) -> None:
                events.append(f"removing {name}")
                drop()

        return Made()


def test_each_athena_table_is_recorded_before_its_create_is_sent_and_removed_through_the_record(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables Athena makes over the exports are resources the command created: formkiq-dr
    lists them (and drops them however it ends) through its ledger."""
    monkeypatch.setattr(athena_engine, "POLL_SECONDS", 0.0)
    reference, _ = tables()
    url = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference), export_time=T0)
    export = read_export(s3, ExportLocation.parse(url))
    athena = boto3.client("athena", region_name="us-east-1")
    ledger = Ledger()
    athena.meta.events.register_first(
        "before-parameter-build.athena.StartQueryExecution",
        lambda params, **_: ledger.events.append(f"sent {params['QueryString'].split()[0]}"),
    )
    name = f"formkiq_dr.{table_name('reference', export)}"
    with Stubber(athena) as stub:
        _expect_query(stub, "create", None, ("FAILED",))
        engine = AthenaEngine(
            athena, s3, workgroup="recovery", database="formkiq_dr", track=ledger.track
        )
        with pytest.raises(EngineError):
            engine.diff(export, export, KEYS, Scope(None))
        _expect_query(stub, "drop", None)
        engine.close()
        stub.assert_no_pending_responses()

    assert ledger.events[:2] == [f"recorded {name}", "sent CREATE"]
    assert ledger.events[2].startswith(f"refused {name}: refused: Athena query create FAILED")
    assert ledger.events[3:] == [f"removing {name}", "sent DROP"]


def test_the_athena_and_duckdb_spellings_find_the_same_candidates(s3: Any) -> None:
    """Where the dialects differ (reading a line's fields, the regular-expression test), each
    spelling runs on DuckDB over the same lines and finds the same rows."""
    reference, live = tables()
    first = _lines(
        s3, write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference, 1), export_time=T0)
    )
    second = _lines(
        s3,
        write_export(
            s3, BUCKET, PREFIX, TABLE_ARN, full_lines(live, 2), export_time=T0 + timedelta(hours=1)
        ),
    )
    db = duckdb.connect()
    for name, lines in (("reference_lines", first), ("live_lines", second)):
        db.execute(f"CREATE TABLE {name} (line VARCHAR)")
        db.executemany(f"INSERT INTO {name} VALUES (?)", [(line,) for line in lines])
    for site in (None, "finance", "default"):
        duckdb_rows = db.execute(
            diff_query(DUCKDB, "reference_lines", "live_lines", KEYS, Scope(site))
        ).fetchall()
        assert sorted(duckdb_rows, key=str) == sorted(athena_rows(first, second, site), key=str)
        assert {row[0] for row in duckdb_rows} <= {a.value for a in Action}
