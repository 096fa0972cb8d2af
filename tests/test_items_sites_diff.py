"""Canonical items, FormKiQ's site layout and the table diff that repair and drill rely on."""

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from formkiq_backup import items
from formkiq_backup.items import TableDigest, canonical, from_canonical
from formkiq_backup.sites import (
    belongs_to_site,
    document_object_key,
    is_site_id,
    object_belongs_to_site,
    site_filter_expression,
    site_member,
)
from formkiq_backup.tablediff import Action, TableDiff, store_side

DOC_ID = "6f1c3e2a-8b4d-4c1e-9f0a-1b2c3d4e5f60"


def item(pk: str, sk: str, **attributes: object) -> dict[str, object]:
    body: dict[str, object] = {"PK": {"S": pk}, "SK": {"S": sk}}
    body.update(attributes)
    return body


def test_canonical_form_ignores_attribute_and_set_order() -> None:
    one = {"SK": {"S": "document"}, "PK": {"S": "docs#1"}, "tags": {"SS": ["b", "a"]}}
    two = {"PK": {"S": "docs#1"}, "tags": {"SS": ["a", "b"]}, "SK": {"S": "document"}}
    assert canonical(one) == canonical(two)
    assert canonical(one) != canonical({**two, "tags": {"SS": ["a"]}})


def test_canonical_form_round_trips_every_attribute_type() -> None:
    original = {
        "PK": {"S": "docs#1"},
        "n": {"N": "12.5"},
        "bin": {"B": b"\x00\xff"},
        "bins": {"BS": [b"\x01", b"\x02"]},
        "nums": {"NS": ["1", "2"]},
        "flag": {"BOOL": True},
        "nothing": {"NULL": True},
        "nested": {"M": {"list": {"L": [{"S": "x"}, {"M": {"b": {"B": b"z"}}}]}}},
    }
    assert from_canonical(canonical(original)) == original


def test_scalar_only_items_encode_exactly_like_the_general_path() -> None:
    """The fast path for scalar-only items must give the same bytes as the full conversion."""
    scalars: dict[str, dict[str, Any]] = {
        "x": {"NULL": True},
        "PK": {"S": "docs#1"},
        "n": {"N": "2"},
        "ok": {"BOOL": False},
    }
    general = {name: items._canonical_value(value) for name, value in scalars.items()}
    assert canonical(scalars) == _stdlib_json(general)
    assert from_canonical(canonical(scalars)) == scalars


def _general(record: dict[str, Any]) -> bytes:
    """The canonical form by the full conversion only, for comparison with the fast path."""
    converted = {name: items._canonical_value(value) for name, value in record.items()}
    return _stdlib_json(converted)


def _stdlib_json(value: Any) -> bytes:
    """Compact JSON, keys sorted, UTF-8 (orjson's form), by the standard library: a second,
    independent encoder for the canonical form to agree with."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "record",
    [
        # Sets inside a map and a list are sorted too.
        {"PK": {"S": "a"}, "m": {"M": {"z": {"SS": ["b", "a"]}, "y": {"N": "1"}}}},
        {"PK": {"S": "a"}, "l": {"L": [{"NS": ["2", "1"]}, {"S": "x"}]}},
        # A string that reads like a set's marker is text, not a set: no false miss either way.
        {"PK": {"S": 'x"SS":["b","a"]'}, "note": {"S": '{"NS":["2","1"]}'}},
        # An attribute named like a set type (a false alarm for the fast path's check).
        {"PK": {"S": "a"}, "SS": {"S": "plain"}},
        # Binary values, also nested: JSON refuses bytes, so the full conversion takes them.
        {"PK": {"S": "a"}, "m": {"M": {"b": {"B": b"\x01"}, "bs": {"BS": [b"\x02", b"\x01"]}}}},
    ],
)
def test_the_fast_canonical_path_gives_the_full_conversions_bytes(record: dict[str, Any]) -> None:
    assert canonical(record) == _general(record)
    # Back to the same item (its sets now sorted, which DynamoDB does not keep anyway).
    assert canonical(from_canonical(canonical(record))) == canonical(record)


def test_items_without_sets_or_binary_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names like a set's type, and lists, are no reason for the slower conversion; a set is."""
    converted: list[object] = []
    full = items._canonical_value

    def counted(value: Any) -> Any:
        converted.append(value)
        return full(value)

    monkeypatch.setattr(items, "_canonical_value", counted)
    plain = {
        "PK": {"S": "a"},
        "SS": {"S": "plain"},
        "ABS": {"L": [{"S": "x"}, {"M": {"NS": {"N": "1"}}}]},
        "note": {"S": 'S":['},
    }
    assert canonical(plain) == _general(plain)
    converted.clear()
    canonical(plain)
    assert converted == []
    canonical({"PK": {"S": "a"}, "m": {"M": {"x": {"NS": ["2", "1"]}}}})
    assert converted


def test_canonical_forms_of_random_items_equal_the_full_conversion() -> None:
    rng = random.Random(11)

    def word() -> str:
        return rng.choice(
            ["a", "b", '"SS":', "\u00e9", "x y", "9", "\n\t\\", "\u2028\x7f", "\U0001f600"]
        )

    def value(depth: int) -> dict[str, Any]:
        kind = rng.choice(["S", "N", "BOOL", "NULL", "SS", "NS", "B", "BS"] + ["M", "L"] * depth)
        inner: Any
        if kind in ("S", "N", "BOOL", "NULL"):
            inner = {"S": word(), "N": str(rng.randint(-5, 5)), "BOOL": rng.random() < 0.5}
            inner = inner.get(kind, True)
        elif kind in ("SS", "NS"):
            inner = rng.sample(["3", "1", "2", "10"] if kind == "NS" else ["c", "a", "b"], 3)
        elif kind in ("B", "BS"):
            inner = rng.randbytes(3) if kind == "B" else [rng.randbytes(2), rng.randbytes(2)]
        elif kind == "M":
            inner = {f"k{i}": value(depth - 1) for i in rng.sample(range(5), 2)}
        else:
            inner = [value(depth - 1) for _ in range(2)]
        return {kind: inner}

    for _ in range(500):
        names = rng.sample(["PK", "SK", "SS", "tags", "m", "n", "z"], 4)
        record = {name: value(2) for name in names}
        assert canonical(record) == _general(record), record


def test_digest_is_order_independent_and_sees_duplicates_and_changes() -> None:
    items = [item(f"docs#{i}", "document", n={"N": str(i)}) for i in range(50)]
    shuffled = random.Random(7).sample(items, len(items))
    digest = TableDigest().add_all(items)

    assert TableDigest().add_all(shuffled).hexdigest == digest.hexdigest
    assert TableDigest().add_all([*items, items[0]]).hexdigest != digest.hexdigest
    changed = [*items[:-1], item("docs#49", "document", n={"N": "0"})]
    assert TableDigest().add_all(changed).hexdigest != digest.hexdigest
    assert TableDigest().add_all(changed).count == digest.count == 50


@pytest.mark.parametrize(
    ("record", "site", "expected"),
    [
        (item(f"finance/docs#{DOC_ID}", "document"), "finance", True),
        (item(f"finance/docs#{DOC_ID}", "tags#category"), "finance", True),
        (item(f"docs#{DOC_ID}", "document"), "finance", False),
        (item(f"docs#{DOC_ID}", "document"), "default", True),
        (item(f"finance/docs#{DOC_ID}", "document"), "default", False),
        # An API key is global in PK; its site is only in the index keys.
        (item("apikeys#", "apikey#abc", GSI1PK={"S": "finance/apikeys#"}), "finance", True),
        (item("apikeys#", "apikey#abc", GSI1PK={"S": "finance/apikeys#"}), "default", False),
        # Items found through an index key of the site (GSI2PK only).
        (item("docdate#", "x", GSI2PK={"S": "finance/tag#category"}), "finance", True),
        # The site registry belongs to no single site.
        (item("sites", "finance"), "finance", False),
        (item("sites", "finance"), "default", False),
    ],
)
def test_items_belong_to_sites_by_any_prefixed_key(
    record: dict[str, object], site: str, expected: bool
) -> None:
    assert belongs_to_site(record, site) is expected


def test_site_member_agrees_with_belongs_to_site_on_every_key_combination() -> None:
    """repair's per-item check (site_member) is belongs_to_site, made cheaper: never different."""
    values = [
        None,
        {"S": "finance/docs#1"},
        {"S": "finance/"},
        {"S": "finance"},
        {"S": "financex/docs#1"},
        {"S": "legal/docs#1"},
        {"S": "sites"},
        {"S": "sitegroups"},
        {"S": "docs#1"},
        {"N": "7"},
    ]
    for site in ("finance", "legal", "default", "not a site id"):
        member = site_member(site)
        for pk, gsi1, gsi2 in itertools.product(values, repeat=3):
            keys = zip(("PK", "GSI1PK", "GSI2PK"), (pk, gsi1, gsi2), strict=True)
            record = {name: value for name, value in keys if value is not None}
            assert member(record) is belongs_to_site(record, site), (site, record)


@pytest.mark.parametrize("site", ["finance\n", "finance/", "", " finance", "fin ance"])
def test_a_site_id_is_the_whole_string(site: str) -> None:
    assert not is_site_id(site)
    assert is_site_id("finance-2_b")


def test_site_filter_matches_partition_and_index_keys() -> None:
    expression = site_filter_expression("finance")
    assert expression is not None
    assert expression["FilterExpression"] == (
        "begins_with(#k0, :site) OR begins_with(#k1, :site) OR begins_with(#k2, :site)"
    )
    assert expression["ExpressionAttributeNames"] == {"#k0": "PK", "#k1": "GSI1PK", "#k2": "GSI2PK"}
    assert expression["ExpressionAttributeValues"] == {":site": {"S": "finance/"}}
    assert site_filter_expression("default") is None


def test_document_objects_follow_the_site_prefix() -> None:
    assert document_object_key(
        item(f"finance/docs#{DOC_ID}", "document", documentId={"S": DOC_ID})
    ) == (f"finance/{DOC_ID}")
    assert (
        document_object_key(item(f"docs#{DOC_ID}", "document", documentId={"S": DOC_ID})) == DOC_ID
    )
    assert object_belongs_to_site(f"finance/{DOC_ID}", "finance")
    assert object_belongs_to_site(DOC_ID, "default")
    assert object_belongs_to_site(f"{DOC_ID}/artifacts/1", "default")
    assert not object_belongs_to_site(f"finance/{DOC_ID}", "default")


def diff_of(reference: list[dict[str, object]], live: list[dict[str, object]]) -> TableDiff:
    diff = TableDiff(("PK", "SK"))
    diff.collect(reference, live)
    return diff


def test_diff_finds_overwritten_deleted_and_new_items() -> None:
    same = item("finance/docs#1", "document", path={"S": "a.pdf"})
    before = item("finance/docs#2", "document", path={"S": "b.pdf"})
    after = item("finance/docs#2", "document", path={"S": "ransomed.pdf"})
    deleted = item("finance/docs#3", "tags#x", tagValue={"S": "y"})
    created = item("finance/docs#4", "document", path={"S": "new.pdf"})

    with diff_of([same, before, deleted], [created, after, same]) as diff:
        assert diff.counts() == {Action.PUT: 1, Action.OVERWRITE: 1, Action.DELETE: 1}
        changes = {change.action: change for change in diff.changes()}

    assert changes[Action.PUT].wanted == deleted
    assert changes[Action.PUT].found is None
    assert (changes[Action.OVERWRITE].wanted, changes[Action.OVERWRITE].found) == (before, after)
    assert changes[Action.OVERWRITE].key == {"PK": {"S": "finance/docs#2"}, "SK": {"S": "document"}}
    assert (changes[Action.DELETE].wanted, changes[Action.DELETE].found) == (None, created)


def test_identical_tables_have_no_changes_whatever_the_scan_order() -> None:
    items = [item(f"docs#{i}", "document", n={"N": str(i)}) for i in range(2_500)]
    with diff_of(items, list(reversed(items))) as diff:
        assert diff.counts() == dict.fromkeys(Action, 0)
        assert (diff.reference_count, diff.live_count) == (2_500, 2_500)


def test_keys_and_items_are_matched_exactly_not_by_prefix_or_case() -> None:
    """The join compares stored bytes: keys that are prefixes of each other, or differ only in
    case or a trailing character, are different items."""
    reference = [
        item("docs#1", "document", v={"N": "1"}),
        item("docs#10", "document", v={"N": "10"}),
        item("Docs#1", "document", v={"N": "1"}),
    ]
    live = [
        item("docs#10", "document", v={"N": "10"}),
        item("docs#1", "document", v={"N": "10"}),
        item("docs#1 ", "document", v={"N": "1"}),
    ]

    with diff_of(reference, live) as diff:
        assert diff.counts() == {Action.PUT: 1, Action.OVERWRITE: 1, Action.DELETE: 1}
        changes = {change.action: change.key["PK"]["S"] for change in diff.changes()}
    assert changes == {
        Action.OVERWRITE: "docs#1",
        Action.PUT: "Docs#1",
        Action.DELETE: "docs#1 ",
    }


def test_a_failing_scan_surfaces_its_error_and_leaves_nothing_behind() -> None:
    def failing_reference() -> Iterator[dict[str, object]]:
        yield item("docs#1", "document")
        raise ConnectionError("scan of the restored table failed")

    diff = TableDiff(("PK", "SK"))
    with pytest.raises(ConnectionError, match="restored table failed"), diff:
        diff.collect(failing_reference(), [])
    assert not diff._directory.exists()


def test_closing_removes_the_temporary_databases() -> None:
    diff = diff_of([item("docs#1", "document")], [])
    directory = diff._directory
    assert {path.name for path in directory.iterdir()} == {"reference.sqlite3", "live.sqlite3"}
    diff.close()
    assert not directory.exists()


def test_sides_stored_elsewhere_join_like_collected_ones(tmp_path: Path) -> None:
    """How repair's worker processes hand over a side: its file, written by store_side."""
    reference = [item("docs#1", "document", v={"N": "1"}), item("docs#2", "document")]
    live = [item("docs#1", "document", v={"N": "2"}), item("docs#3", "document")]
    with diff_of(reference, live) as collected:
        expected = (collected.counts(), list(collected.changes()))

    with TableDiff(("PK", "SK")) as diff:
        counts = (
            store_side(diff.side_path("reference"), iter(reference), ("PK", "SK")),
            store_side(diff.side_path("live"), iter(live), ("PK", "SK")),
        )
        assert diff.collect_stored(*counts) == expected[0]
        assert list(diff.changes()) == expected[1]
        assert (diff.reference_count, diff.live_count) == (2, 2)
        with pytest.raises(ValueError, match="side must be one of"):
            diff.side_path("restored")
