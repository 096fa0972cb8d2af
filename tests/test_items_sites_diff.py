"""Canonical items, FormKiQ's site layout and the table diff that repair and drill rely on."""

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from formkiq_backup import items, tablediff
from formkiq_backup.items import TableDigest, canonical, from_canonical
from formkiq_backup.sites import (
    belongs_to_site,
    document_object_key,
    object_belongs_to_site,
    site_filter_expression,
)
from formkiq_backup.tablediff import Action, TableDiff

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
    assert canonical(scalars) == json.dumps(general, sort_keys=True, separators=(",", ":")).encode()
    assert from_canonical(canonical(scalars)) == scalars


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


def test_diff_is_exact_even_when_key_hashes_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tablediff, "key_hash", lambda key: 42)
    reference = [item("docs#1", "document", v={"N": "1"}), item("docs#2", "document", v={"N": "2"})]
    live = [item("docs#2", "document", v={"N": "2"}), item("docs#1", "document", v={"N": "9"})]

    with diff_of(reference, live) as diff:
        assert diff.counts() == {Action.PUT: 0, Action.OVERWRITE: 1, Action.DELETE: 0}
        (change,) = diff.changes()
    assert change.key == {"PK": {"S": "docs#1"}, "SK": {"S": "document"}}


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
