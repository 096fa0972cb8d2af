"""The export diff as SQL, for DuckDB and for Athena (Trino), written once where they agree.

Both engines see each export as a relation of lines (one data line of the export per row, in a
column `line`). The query finds the *candidates* of a repair plan, keyed on the table's key:

- put: the reference has the key (in scope), the live side has not;
- delete: the live side has the key (in scope), the reference has not;
- overwrite: both have it and the lines differ.

Lines are compared as text: two equal lines hold equal items, so only the rare pairs whose text
differs (changed items, or an item written with its attributes in another order) are handed to
the canonical comparison of formkiq_backup.items, which decides exactly as a scan-based repair
does (formkiq_backup.exportdiff.diff). A site scope is `repair --site`'s rule
(formkiq_backup.sites.belongs_to_site) in SQL; tests hold the two equal on every key combination.

What differs between the dialects is kept side by side in `Dialect`: how a line's fields are
read (DuckDB parses a line once for a list of paths; Trino's json_extract_scalar reads one path
per call) and the name of the regular-expression test. Everything else is the same text.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from formkiq_backup.sites import DEFAULT_SITE, GLOBAL_PARTITIONS, SITE_KEY_ATTRIBUTES, is_site_id

# sites.site_of_key's pattern: a key names a site when it starts with `<site id>/`.
SITE_KEY_PATTERN = "^[A-Za-z0-9_-]+/"
KEY_TYPES = ("S", "N", "B")
"""DynamoDB key attributes are strings, numbers or binary (base64 in JSON)."""
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACTION_PUT, ACTION_OVERWRITE, ACTION_DELETE = "put", "overwrite", "delete"
DUCKDB_NAME = "duckdb"


@dataclass(frozen=True)
class Dialect:
    """What DuckDB and Trino spell differently."""

    name: str
    regexp_like: str
    """The function testing a string against a regular expression (partial match)."""

    def fields(
        self, source: str, paths: Sequence[str], extra: Sequence[str] = ()
    ) -> tuple[str, list[str]]:
        """A FROM clause over `source` and one expression per JSON path (the string at it,
        NULL where absent); `line` and the `extra` columns stay available."""
        if self.name == DUCKDB_NAME:
            listed = ", ".join(_literal(path) for path in paths)
            kept = ", ".join(["line", *extra])
            clause = (
                f"(SELECT json_extract_string(line, [{listed}]) AS f, {kept} FROM {source}) AS p"
            )
            return clause, [f"f[{number}]" for number in range(1, len(paths) + 1)]
        return source, [f"json_extract_scalar(line, {_literal(path)})" for path in paths]


DUCKDB = Dialect(DUCKDB_NAME, regexp_like="regexp_matches")
ATHENA = Dialect("athena", regexp_like="regexp_like")


@dataclass(frozen=True)
class Scope:
    """Which items a diff looks at: one site's (`repair --site`), or all (`site` None)."""

    site: str | None

    def __post_init__(self) -> None:
        if self.site is not None and not is_site_id(self.site):
            raise ValueError(f"{self.site!r} is not a FormKiQ site id")

    def condition(self, dialect: Dialect, pk: str, gsi1pk: str, gsi2pk: str) -> str:
        """sites.belongs_to_site in SQL, over the string values of PK, GSI1PK and GSI2PK.

        Only string values can name a site (a number's text has no `/`), and the site
        registry's partitions belong to no site.
        """
        if self.site is None:
            return "TRUE"
        partitions = ", ".join(_literal(name) for name in GLOBAL_PARTITIONS)
        not_global = f"coalesce({pk}, '') NOT IN ({partitions})"
        keys = (pk, gsi1pk, gsi2pk)
        if self.site == DEFAULT_SITE:
            pattern = _literal(SITE_KEY_PATTERN)
            named = " OR ".join(
                f"coalesce({dialect.regexp_like}({key}, {pattern}), FALSE)" for key in keys
            )
            return f"({not_global} AND NOT ({named}))"
        prefix = _literal(f"{self.site}/")
        named = " OR ".join(f"coalesce(starts_with({key}, {prefix}), FALSE)" for key in keys)
        return f"({not_global} AND ({named}))"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def check_key_names(keys: Sequence[str]) -> None:
    """Key attribute names go into JSON paths: plain identifiers only (FormKiQ's PK, SK)."""
    for name in keys:
        if not _NAME.match(name):
            raise ValueError(f"key attribute {name!r}: only plain names are supported")


def side_query(
    dialect: Dialect,
    source: str,
    keys: Sequence[str],
    scope: Scope,
    *,
    incremental: bool = False,
    extra: Sequence[str] = (),
) -> str:
    """One side's rows: typed key columns k0..kn (`S:`, `N:` or `B:` and the value), `in_scope`,
    the line and the `extra` columns of `source`.

    A full export's line holds the item under `Item`. An incremental export's holds its key
    under `Keys` and the live item under `NewImage` (none when it was deleted): there `in_scope`
    is true only for a NewImage in scope, the live side of the diff.
    """
    check_key_names(keys)
    key_image, image = ("Keys", "NewImage") if incremental else ("Item", "Item")
    paths = [f"$.{key_image}.{key}.{kind}" for key in keys for kind in KEY_TYPES]
    paths += [f"$.{image}.{name}.S" for name in SITE_KEY_ATTRIBUTES]
    if incremental:  # the NewImage holds the key too: its presence says the item is there
        paths += [f"$.{image}.{keys[0]}.{kind}" for kind in KEY_TYPES]
    clause, values = dialect.fields(source, paths, extra)
    width = len(KEY_TYPES)
    columns = [
        f"{_typed(values[number * width : (number + 1) * width])} AS k{number}"
        for number, _ in enumerate(keys)
    ]
    site_values = values[len(keys) * width : len(keys) * width + len(SITE_KEY_ATTRIBUTES)]
    in_scope = scope.condition(dialect, *site_values)
    if incremental:
        in_scope = f"({_typed(values[-width:])} IS NOT NULL AND {in_scope})"
    columns.append(f"{in_scope} AS in_scope")
    return f"SELECT {', '.join([*columns, 'line', *extra])} FROM {clause}"


def _typed(values: Sequence[str]) -> str:
    tagged = ", ".join(
        f"{_literal(kind + ':')} || {value}" for kind, value in zip(KEY_TYPES, values, strict=True)
    )
    return f"coalesce({tagged})"


def _on(keys: Sequence[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.k{n} = {right}.k{n}" for n in range(len(keys)))


def full_join_query(reference: str, live: str, keys: Sequence[str]) -> str:
    """Candidates between two full exports' sides (relations made by `side_query`):
    (action, reference line, live line)."""
    return f"""WITH
reference AS (SELECT * FROM {reference} AS side WHERE in_scope),
live AS (SELECT * FROM {live} AS side WHERE in_scope)
SELECT CASE WHEN live.k0 IS NULL THEN '{ACTION_PUT}'
            WHEN reference.k0 IS NULL THEN '{ACTION_DELETE}'
            ELSE '{ACTION_OVERWRITE}' END AS action,
       reference.line AS reference_line,
       live.line AS live_line
FROM reference FULL OUTER JOIN live ON {_on(keys, "reference", "live")}
WHERE reference.line IS DISTINCT FROM live.line"""


def digest_join_query(reference: str, live: str, keys: Sequence[str]) -> str:
    """`full_join_query` for DuckDB on one machine, in two steps: the join carries each side's
    keys and the 128-bit MD5 of its line (not the line), so its hash table stays small enough
    to spill within a small memory limit; `candidate_lines_query` then fetches the lines of
    the few keys whose digests differ. Equal lines have equal digests; for a changed item to
    hide, its new line would need the reference line's MD5, a second preimage, which no known
    attack on MD5 finds (its collisions need both lines chosen, and the reference was written
    before the incident)."""
    columns = ", ".join(f"k{n}" for n in range(len(keys)))
    coalesced = ", ".join(f"coalesce(reference.k{n}, live.k{n}) AS k{n}" for n in range(len(keys)))
    return f"""WITH
reference AS (
  SELECT {columns}, md5_number(line) AS digest FROM {reference} AS side WHERE in_scope
),
live AS (SELECT {columns}, md5_number(line) AS digest FROM {live} AS side WHERE in_scope)
SELECT CASE WHEN live.k0 IS NULL THEN '{ACTION_PUT}'
            WHEN reference.k0 IS NULL THEN '{ACTION_DELETE}'
            ELSE '{ACTION_OVERWRITE}' END AS action,
       {coalesced}
FROM reference FULL OUTER JOIN live ON {_on(keys, "reference", "live")}
WHERE reference.digest IS DISTINCT FROM live.digest"""


def candidate_lines_query(candidates: str, reference: str, live: str, keys: Sequence[str]) -> str:
    """The lines of `digest_join_query`'s candidates: (action, reference line, live line).

    Each side is joined to the candidates by an inner join, whose hash table is built on the
    smaller input (the candidates), so the sides' lines stream past it; a LEFT JOIN from the
    candidates would build it on a whole side, lines and all."""
    columns = ", ".join(f"candidates.k{n}" for n in range(len(keys)))

    def lines_of(side: str) -> str:
        return (
            f"SELECT {columns}, side.line FROM {side} AS side "
            f"JOIN {candidates} AS candidates ON {_on(keys, 'side', 'candidates')} "
            "WHERE side.in_scope"
        )

    return f"""WITH
reference AS ({lines_of(reference)}),
live AS ({lines_of(live)})
SELECT candidates.action, reference.line AS reference_line, live.line AS live_line
FROM {candidates} AS candidates
LEFT JOIN reference ON {_on(keys, "candidates", "reference")}
LEFT JOIN live ON {_on(keys, "candidates", "live")}"""


def incremental_join_query(reference: str, changes: str, keys: Sequence[str]) -> str:
    """Candidates between a full export's side and an incremental export's that continues it.

    The live state is the reference with the incremental's changes laid over it: every key the
    incremental does not name is the same on both sides, so only its keys are looked at. A key
    whose NewImage is in scope is a live item; otherwise there is none in scope.
    """
    return f"""WITH
reference AS (SELECT * FROM {reference} AS side WHERE in_scope)
SELECT CASE WHEN NOT changes.in_scope THEN '{ACTION_PUT}'
            WHEN reference.k0 IS NULL THEN '{ACTION_DELETE}'
            ELSE '{ACTION_OVERWRITE}' END AS action,
       reference.line AS reference_line,
       CASE WHEN changes.in_scope THEN changes.line END AS live_line
FROM {changes} AS changes LEFT JOIN reference ON {_on(keys, "changes", "reference")}
WHERE reference.k0 IS NOT NULL OR changes.in_scope"""


def diff_query(
    dialect: Dialect,
    reference: str,
    live: str,
    keys: Sequence[str],
    scope: Scope,
    *,
    incremental: bool = False,
) -> str:
    """The whole diff as one statement over two sources of lines (what Athena runs)."""
    reference_side = f"({side_query(dialect, reference, keys, scope)})"
    live_side = f"({side_query(dialect, live, keys, scope, incremental=incremental)})"
    if incremental:
        return incremental_join_query(reference_side, live_side, keys)
    return full_join_query(reference_side, live_side, keys)


def count_query(side: str) -> str:
    """How many items of a side (a `side_query` relation) are in scope."""
    return f"SELECT count(*) AS items FROM {side} AS side WHERE in_scope"
