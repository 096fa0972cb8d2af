"""Diffs of DynamoDB exports, computed by a query engine instead of by scanning tables.

`manifest` finds an export in S3 and checks it against its manifests, `sql` holds the diff as
SQL for DuckDB and Athena, `duckdb_engine` and `athena_engine` run it, and `diff` turns the
engine's candidates into the same `TableDiff` a scan-based repair makes.
"""
