"""Athena: the same diff where a table outgrows one machine; the files never leave S3.

One external table per export over its `data/` folder, one column `line` (Athena's default
text SerDe splits fields on \\001, which a JSON line never holds unescaped, so each line arrives
whole; `.gz` files are read as gzip), then the diff of formkiq_backup.exportdiff.sql in Trino's
spelling, its results read back page by page (GetQueryResults, 1,000 rows a page), and the
tables dropped on the way out. Files are checked by their ETag (HeadObject) against the
manifest: Athena reads them where they are, so no MD5 of their content is made here.

Athena's API: StartQueryExecution, GetQueryExecution (QUEUED, RUNNING, then SUCCEEDED, FAILED or
CANCELLED), GetQueryResults (the first row of the first page holds the column names); see the
Amazon Athena API Reference.
"""

import re
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.exportdiff.engine import (
    Candidate,
    Candidates,
    EngineError,
    Made,
    Track,
    Untracked,
)
from formkiq_backup.exportdiff.manifest import Export, check_etags
from formkiq_backup.exportdiff.sql import ATHENA, Scope, count_query, diff_query, side_query

POLL_SECONDS = 1.0
QUERY_TIMEOUT_SECONDS = 6 * 3600
RESULT_PAGE = 1_000  # GetQueryResults' largest MaxResults
_FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def table_name(side: str, export: Export) -> str:
    """`formkiq_dr_<side>_<export id>`: Glue table names are lower case, letters, digits, `_`."""
    return f"formkiq_dr_{side}_{_NOT_NAME.sub('_', export.location.export_id.lower())}"[:255]


def create_table_statement(database: str, name: str, export: Export) -> str:
    data = f"s3://{export.location.bucket}/{export.location.root}data/"
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{name}` (line string) "
        f"STORED AS TEXTFILE LOCATION '{data}'"
    )


class AthenaEngine:
    """Diffs exports with Athena queries in `workgroup`; `close` drops the tables it made.

    Each table is handed to `track` before its CREATE is sent (the caller's ledger lists it,
    and drops it on the way out if `close` never ran or could not), else dropped at `close`.
    """

    name = "athena"

    def __init__(
        self,
        athena: Any,
        s3: Any,
        *,
        workgroup: str,
        database: str = "default",
        output_location: str | None = None,
        track: Track = Untracked,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]+", database):
            raise ValueError(f"Athena database {database!r}: letters, digits and '_' only")
        self._athena = athena
        self._s3 = s3
        self._workgroup = workgroup
        self._database = database
        self._output = output_location
        self._track = track
        self._tables: list[Made] = []
        self.queries: list[str] = []

    def diff(
        self, reference: Export, live: Export, keys: tuple[str, ...], scope: Scope
    ) -> Candidates:
        started = time.monotonic()
        for export in (reference, live):
            check_etags(self._s3, export)
        reference_table = self._table("reference", reference)
        live_table = self._table("live", live)
        reference_count = self._count(reference, reference_table, keys, scope)
        live_count = None if live.incremental else self._count(live, live_table, keys, scope)
        query_id = self._run(
            diff_query(
                ATHENA, reference_table, live_table, keys, scope, incremental=live.incremental
            )
        )
        return Candidates(
            rows=self._results(query_id),
            reference_count=reference_count,
            live_count=live_count,
            details={
                "engine": self.name,
                "workgroup": self._workgroup,
                "queryExecutionId": query_id,
                "seconds": {"until results": round(time.monotonic() - started, 3)},
            },
        )

    def _table(self, side: str, export: Export) -> str:
        name = table_name(side, export)
        made = self._track(f"{self._database}.{name}", lambda: self._drop(name))
        self._tables.append(made)
        try:
            self._run(create_table_statement(self._database, name, export))
        except (EngineError, ClientError) as error:
            made.refused(f"refused: {error}")
            raise
        made.done(f"over {export.describe()}; dropped on the way out")
        return f"`{self._database}`.`{name}`".replace("`", '"')

    def _drop(self, name: str) -> bool:
        self._run(f"DROP TABLE IF EXISTS `{self._database}`.`{name}`")
        return True

    def _count(self, export: Export, table: str, keys: tuple[str, ...], scope: Scope) -> int:
        """The manifest's count for a whole table; a site's items are counted by a query."""
        if scope.site is None:
            return export.item_count
        query_id = self._run(count_query(f"({side_query(ATHENA, table, keys, scope)})"))
        rows = list(self._rows(query_id))
        return int(rows[0][0] or 0)

    def _run(self, query: str) -> str:
        """Start `query` and wait for it; its execution id. EngineError unless it SUCCEEDED."""
        self.queries.append(query)
        request: dict[str, Any] = {
            "QueryString": query,
            "WorkGroup": self._workgroup,
            "QueryExecutionContext": {"Database": self._database},
        }
        if self._output:
            request["ResultConfiguration"] = {"OutputLocation": self._output}
        query_id = str(self._athena.start_query_execution(**request)["QueryExecutionId"])
        deadline = time.monotonic() + QUERY_TIMEOUT_SECONDS
        while True:
            execution = self._athena.get_query_execution(QueryExecutionId=query_id)
            status = execution["QueryExecution"]["Status"]
            if status["State"] in _FINISHED:
                break
            if time.monotonic() > deadline:
                raise EngineError(f"Athena query {query_id} still {status['State']}")
            time.sleep(POLL_SECONDS)
        if status["State"] != "SUCCEEDED":
            reason = status.get("StateChangeReason") or "no reason given"
            raise EngineError(f"Athena query {query_id} {status['State']}: {reason}")
        return query_id

    def _rows(self, query_id: str) -> Iterator[list[str | None]]:
        """The result rows, page by page, without the header row."""
        token: str | None = None
        first = True
        while True:
            page = self._athena.get_query_results(
                QueryExecutionId=query_id,
                MaxResults=RESULT_PAGE,
                **({"NextToken": token} if token else {}),
            )
            rows = page["ResultSet"]["Rows"]
            for row in rows[1:] if first else rows:
                yield [cell.get("VarCharValue") for cell in row["Data"]]
            first = False
            token = page.get("NextToken")
            if not token:
                return

    def _results(self, query_id: str) -> Iterator[Candidate]:
        for action, reference_line, live_line in self._rows(query_id):
            yield str(action), reference_line, live_line

    def close(self) -> None:
        """Drop the tables over the exports (the exports themselves are untouched)."""
        tables, self._tables = self._tables, []
        for made in tables:
            made.remove()
