"""DuckDB, embedded: the diff of two exports on this machine, with a memory limit.

Files are downloaded first by default (`formkiq_backup.exportdiff.manifest.download`): boto3
reads them with the whole AWS credential chain (profiles, SSO, instance roles, refreshed as they
expire), its retries and endpoint settings, and every file's MD5 is checked against the manifest
as it arrives, in the one read. DuckDB then reads local files, all cores, no network in the
query. `direct_s3` reads the files where they are instead, through DuckDB's httpfs extension
(shipped as the `duckdb-ext-httpfs` package and loaded from site-packages: nothing is downloaded
at run time), with an S3 secret made from the credentials boto3 resolved at the start (httpfs
cannot refresh them, so a query longer than a session's credentials fails), and the files
checked by their ETag (HeadObject) instead of their content. Either way each file's line count
is checked against the manifest.

Memory: each export's rows (key columns, scope, line) go into a temporary table, held in
memory up to `memory_limit` and spilled to the run's temporary folder past it, and the join
compares keys and MD5s of lines only (sql.digest_join_query), so memory follows the limit
(plus DuckDB's own allocations outside its buffer pool, measured in docs/benchmarks.md), not
the table; the folder needs disk instead. (A compressed table in the database file took 2.8
times as long at 1,000,000 items; joining whole lines ran out of memory at 256 MB.)
"""

import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from formkiq_backup.exportdiff.engine import Candidate, Candidates
from formkiq_backup.exportdiff.manifest import (
    Export,
    ExportCheckError,
    check_etags,
    check_line_counts,
    download,
)
from formkiq_backup.exportdiff.sql import (
    DUCKDB,
    Scope,
    candidate_lines_query,
    count_query,
    digest_join_query,
    incremental_join_query,
    side_query,
)

DEFAULT_MEMORY_LIMIT = "1GB"
# read_csv's buffer per reading thread (DuckDB's default is 32 MB, which alone overran a
# 128 MB limit with two threads); a line (an item of at most 400 KB, as JSON) fits many times.
READ_BUFFER = 4 * 1024 * 1024
FETCH_ROWS = 1_000
# A byte no JSON line holds unescaped (JSON escapes control characters): read_csv's delimiter,
# so each line arrives whole in one column.
_NO_DELIMITER = "chr(1)"


def extension_directory() -> Path:
    """Where `duckdb-ext-httpfs` put its extension: `<site-packages>/duckdb_ext/extensions`."""
    import duckdb_ext  # type: ignore[import-untyped]  # a namespace package, no stubs

    return Path(next(iter(duckdb_ext.__path__))) / "extensions"


def connect(
    *, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None, directory: Path
) -> duckdb.DuckDBPyConnection:
    """A database in `directory`, with a memory limit, spilling to `directory/spill`.

    Extensions are never installed or loaded on their own (no download at run time).
    """
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "temp_directory": str(directory / "spill"),
        "preserve_insertion_order": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        # Hand freed memory back to the system soon, so RSS follows the limit.
        "allocator_flush_threshold": "16MB",
        "extension_directory": str(extension_directory()),
    }
    if threads is not None:
        config["threads"] = threads
    return duckdb.connect(str(directory / "diff.duckdb"), config=config)


def load_s3(db: duckdb.DuckDBPyConnection, s3: Any, credentials: Any) -> None:
    """httpfs with an S3 secret made from resolved credentials (botocore's, frozen: httpfs
    cannot refresh them) and the S3 client's region and endpoint.

    Against an endpoint such as moto_server on 127.0.0.1, httpfs needs the host in ENDPOINT,
    path-style URLs and plain HTTP (tests/test_exportdiff_engines.py proves it).
    """
    db.execute("LOAD httpfs")
    credentials = credentials.get_frozen_credentials()
    options = {
        "KEY_ID": credentials.access_key,
        "SECRET": credentials.secret_key,
        "REGION": s3.meta.region_name,
    }
    if credentials.token:
        options["SESSION_TOKEN"] = credentials.token
    endpoint = str(s3.meta.endpoint_url)
    if not endpoint.endswith(".amazonaws.com"):
        scheme, _, host = endpoint.partition("://")
        options.update(ENDPOINT=host.rstrip("/"), URL_STYLE="path")
        if scheme == "http":
            options["USE_SSL"] = "false"
    settings = ", ".join(
        f"{name} {value}" if value == "false" else f"{name} '{_quote(value)}'"
        for name, value in options.items()
    )
    db.execute(f"CREATE OR REPLACE SECRET formkiq_dr_exports (TYPE s3, {settings})")


def _quote(text: str) -> str:
    return text.replace("'", "''")


def lines_source(paths: Sequence[str]) -> str:
    """The export's data files as a relation of lines (`line`, `filename`)."""
    if not paths:  # an empty table's export
        return "(SELECT NULL::VARCHAR AS line, NULL::VARCHAR AS filename WHERE FALSE)"
    listed = ", ".join(f"'{_quote(path)}'" for path in paths)
    return (
        f"read_csv([{listed}], columns = {{'line': 'VARCHAR'}}, delim = {_NO_DELIMITER}, "
        "quote = '', escape = '', header = false, auto_detect = false, compression = 'gzip', "
        f"filename = true, null_padding = false, parallel = true, buffer_size = {READ_BUFFER})"
    )


class DuckDbEngine:
    """Diffs exports in an embedded DuckDB; use as a context manager (or `close`)."""

    name = "duckdb"

    def __init__(
        self,
        s3: Any,
        *,
        credentials: Any = None,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        threads: int | None = None,
        direct_s3: bool = False,
        download_workers: int = 8,
        directory: Path | None = None,
    ) -> None:
        self._s3 = s3
        self._work = Path(tempfile.mkdtemp(prefix="formkiq-dr-exports-", dir=directory))
        self._db = connect(memory_limit=memory_limit, threads=threads, directory=self._work)
        self._direct = direct_s3
        self._workers = download_workers
        self.timings: dict[str, float] = {}
        """Seconds of each step of the last diff."""
        if direct_s3:
            if credentials is None:
                raise ValueError("direct_s3 needs the credentials to give httpfs")
            load_s3(self._db, s3, credentials)

    def __enter__(self) -> "DuckDbEngine":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self._work, ignore_errors=True)

    def side(self, export: Export, side: str, keys: tuple[str, ...], scope: Scope) -> str:
        """Check `export`'s files and read them into a table `<side>_side` (`side_query`'s
        columns and the file), whose per-file line counts are checked against the manifest."""
        started = time.monotonic()
        paths = self._files(export, side)
        table = f"{side}_side"
        rows = side_query(
            DUCKDB,
            lines_source(list(paths)),
            keys,
            scope,
            incremental=export.incremental,
            extra=("filename",),
        )
        try:
            self._db.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {rows}")
        except (duckdb.InvalidInputException, duckdb.IOException) as error:
            raise ExportCheckError(
                f"{export.location.url}: a data file is not gzipped DynamoDB JSON lines "
                f"({str(error).splitlines()[0]})"
            ) from error
        counted = {
            paths[filename]: int(count)
            for filename, count in self._db.execute(
                f"SELECT filename, count(*) FROM {table} GROUP BY filename"
            ).fetchall()
        }
        check_line_counts(export, counted)
        if not self._direct:  # in the table now (spilled to disk if need be): free the disk
            shutil.rmtree(self._work / side, ignore_errors=True)
        self.timings[f"read {side}"] = round(time.monotonic() - started, 3)
        return table

    def _files(self, export: Export, side: str) -> dict[str, str]:
        """The export's data files to read (path or URL: file key), each checked; an empty
        partition's file (DynamoDB writes one, empty) holds nothing to read."""
        if self._direct:
            check_etags(self._s3, export)
            return {
                f"s3://{export.location.bucket}/{file.key}": file.key
                for file in export.files
                if file.item_count
            }
        fetched = download(self._s3, export, self._work / side, workers=self._workers)
        return {str(path): file.key for path, file in fetched if path.stat().st_size}

    def diff(
        self, reference: Export, live: Export, keys: tuple[str, ...], scope: Scope
    ) -> Candidates:
        self.timings = {}
        reference_side = self.side(reference, "reference", keys, scope)
        live_side = self.side(live, "live", keys, scope)
        started = time.monotonic()
        reference_count = self._count(reference_side)
        if live.incremental:  # the changed keys are few: their side is the join's small one
            query = incremental_join_query(reference_side, live_side, keys)
            live_count = None
        else:
            self._db.execute(
                "CREATE OR REPLACE TEMP TABLE candidates AS "
                + digest_join_query(reference_side, live_side, keys)
            )
            query = candidate_lines_query("candidates", reference_side, live_side, keys)
            live_count = self._count(live_side)
        result = self._db.execute(query)
        self.timings["join"] = round(time.monotonic() - started, 3)
        return Candidates(
            rows=_fetched(result),
            reference_count=reference_count,
            live_count=live_count,
            details={"engine": self.name, "seconds": dict(self.timings)},
        )

    def _count(self, table: str) -> int:
        found = self._db.execute(count_query(table)).fetchone()
        return int(found[0]) if found else 0


def _fetched(result: duckdb.DuckDBPyConnection) -> Iterator[Candidate]:
    while rows := result.fetchmany(FETCH_ROWS):
        for action, reference_line, live_line in rows:
            yield str(action), reference_line, live_line
