"""FormKiQ-shaped Documents tables for the benchmark: a reference copy and a live table.

Items look like FormKiQ's (formkiq_backup/offline/seed.py): per document, a metadata item
(`SK=document`, GSI1 by date) and one to three tag items (`SK=tags#<key>`, GSI1/GSI2 by tag),
keys prefixed with `<site>/` except in the default site, plus one API key item per site (global
`PK`, site only in the index keys). Sites are weighted finance 50 %, default 30 %, legal 20 %.

The reference table stands for a restore taken before an incident; the live table holds the
same items, written in another order, and then the incident: in site finance, items
overwritten, deleted and created; in the other two sites a few overwrites that a repair of
site finance must not see (but the drill's whole-table digest must).
"""

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from formkiq_backup.formkiq import TableRole
from formkiq_backup.items import Item, canonical, key_of
from formkiq_backup.offline.samples import SampleTable, sample_formkiq
from formkiq_backup.offline.seed import (
    api_key_item,
    create_formkiq_table,
    tag_item,
    write_items,
)
from formkiq_backup.sites import DEFAULT_SITE, site_prefix

KEYS = ("PK", "SK")
SITE = "finance"
SITE_WEIGHTS = {"finance": 0.5, DEFAULT_SITE: 0.3, "legal": 0.2}
TAG_KEYS = ("category", "year", "status", "customer", "department", "project")
USERS = ("admin@example.com", "alice@example.com", "carol@example.com", "dave@example.com")
FOLDERS = ("invoices", "contracts", "receipts", "statements", "hr/onboarding", "scans")


@dataclass(frozen=True)
class Incident:
    """How many finance items the incident overwrites, deletes and creates in the live table."""

    overwritten: int = 50
    deleted: int = 50
    created: int = 20
    other_sites_overwritten: int = 20
    """Overwrites outside site finance: invisible to `repair --site finance`."""


@dataclass
class TablePair:
    """A reference table and a live table, and what a correct comparison must find."""

    reference: str
    live: str
    reference_count: int
    live_count: int
    average_item_bytes: float
    site_items: int
    """Items of site finance in the reference table."""
    expected_put: set[bytes] = field(default_factory=set)
    """Canonical keys a site repair must put back (deleted from live)."""
    expected_overwrite: set[bytes] = field(default_factory=set)
    expected_delete: set[bytes] = field(default_factory=set)
    """Canonical keys created in live since the reference point."""
    changed_outside_site: int = 0


def documents_table() -> SampleTable:
    """The Documents table of the default sample FormKiQ (PK/SK, GSI1, GSI2, stream, PITR)."""
    sample = sample_formkiq()
    return next(table for table in sample.tables if table.role is TableRole.DOCUMENTS)


def _document_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stamp(rng: random.Random) -> tuple[str, str]:
    day = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
    return day, f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+0000"


def document_item(rng: random.Random, site: str, document_id: str, number: int) -> Item:
    """A document's metadata item, as FormKiQ writes it."""
    prefix = site_prefix(site)
    day, stamp = _stamp(rng)
    folder = rng.choice(FOLDERS)
    item: Item = {
        "PK": {"S": f"{prefix}docs#{document_id}"},
        "SK": {"S": "document"},
        "documentId": {"S": document_id},
        "path": {"S": f"{folder}/{day[:7]}/{site}-document-{number:06d}.pdf"},
        "contentType": {"S": rng.choice(("application/pdf", "text/plain", "image/png"))},
        "contentLength": {"N": str(rng.randint(200, 5_000_000))},
        "checksum": {"S": f"{rng.getrandbits(128):032x}"},
        "s3version": {"S": f"{rng.getrandbits(160):040x}"[:32]},
        "userId": {"S": rng.choice(USERS)},
        "inserteddate": {"S": stamp},
        "lastModifiedDate": {"S": stamp},
        "GSI1PK": {"S": f"{prefix}docts#{day}"},
        "GSI1SK": {"S": f"{stamp}#{document_id}"},
    }
    if rng.random() < 0.1:
        item["deepLinkPath"] = {"S": f"https://intranet.example.com/{folder}/{document_id}"}
    return item


def _tag_value(rng: random.Random, tag_key: str) -> str:
    if tag_key == "category":
        return rng.choice(("invoice", "contract", "receipt", "statement"))
    if tag_key == "year":
        return str(rng.randint(2019, 2026))
    if tag_key == "status":
        return rng.choice(("draft", "approved", "archived", "pending-review"))
    if tag_key == "customer":
        return f"customer-{rng.randint(1, 2_000):05d}"
    if tag_key == "department":
        return rng.choice(("accounts-payable", "treasury", "tax", "audit"))
    return f"P-{rng.randint(100, 999)}-{rng.choice(('north', 'south', 'east'))}"


def tag(rng: random.Random, site: str, document_id: str, tag_key: str) -> Item:
    """One of a document's tags, with a value drawn for its key."""
    _, stamp = _stamp(rng)
    return tag_item(site_prefix(site), document_id, tag_key, _tag_value(rng, tag_key), stamp)


def site_of(item: Item) -> str:
    """The site an item generated here belongs to."""
    partition = str(item["GSI1PK"]["S"])
    head, slash, _ = partition.partition("/")
    return head if slash else DEFAULT_SITE


def generate_items(count: int, seed: int) -> list[Item]:
    """Exactly `count` items: API keys first, then documents with their tags."""
    rng = random.Random(seed)
    sites = list(SITE_WEIGHTS)
    weights = list(SITE_WEIGHTS.values())
    items = [api_key_item(site, f"{rng.getrandbits(64):016x}") for site in sites]
    number = 0
    while len(items) < count:
        site = rng.choices(sites, weights)[0]
        document_id = _document_id(rng)
        number += 1
        items.append(document_item(rng, site, document_id, number))
        for tag_key in rng.sample(TAG_KEYS, rng.randint(1, 3)):
            items.append(tag(rng, site, document_id, tag_key))
    return items[:count]


def item_bytes(item: Item) -> int:
    """An item's size as DynamoDB bills it, roughly: names plus values as text."""
    return sum(len(name) + len(str(next(iter(value.values())))) for name, value in item.items())


def _overwritten(rng: random.Random, item: Item) -> Item:
    changed = dict(item)
    _, stamp = _stamp(rng)
    if item["SK"]["S"] == "document":
        changed["path"] = {"S": f"overwritten/{rng.getrandbits(32):08x}.pdf"}
        changed["lastModifiedDate"] = {"S": stamp}
    elif "tagValue" in item:
        changed["tagValue"] = {"S": f"overwritten-{rng.getrandbits(32):08x}"}
    else:
        changed["name"] = {"S": f"overwritten {rng.getrandbits(32):08x}"}
    return changed


def _delete(dynamodb: Any, table: str, keys: Sequence[Item]) -> None:
    for start in range(0, len(keys), 25):
        requests: dict[str, list[dict[str, Any]]] = {
            table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
        }
        while requests:
            requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems", {})


def seed_pair(
    dynamodb: Any,
    name: str,
    count: int,
    *,
    seed: int = 2026,
    incident: Incident | None = None,
    pitr: bool = True,
) -> TablePair:
    """Create `<name>-reference` and `<name>-live` with `count` items each, then the incident.

    Without `incident` both tables end up identical (written in different orders). `pitr`
    False leaves PITR off (dynalite has no backups, so no UpdateContinuousBackups).
    """
    shape = documents_table()
    if not pitr:
        shape = replace(shape, pitr_enabled=False)
    reference, live = f"{name}-reference", f"{name}-live"
    for table in (reference, live):
        create_formkiq_table(dynamodb, shape, name=table)
    items = generate_items(count, seed)
    shuffled = list(items)
    random.Random(seed + 1).shuffle(shuffled)
    write_items(dynamodb, [(reference, item) for item in items])
    write_items(dynamodb, [(live, item) for item in shuffled])
    in_site = [item for item in items if site_of(item) == SITE]
    pair = TablePair(
        reference=reference,
        live=live,
        reference_count=len(items),
        live_count=len(items),
        average_item_bytes=sum(item_bytes(item) for item in items) / len(items),
        site_items=len(in_site),
    )
    if incident is not None:
        _apply_incident(
            dynamodb, pair, items, in_site, incident=incident, rng=random.Random(seed + 2)
        )
    return pair


def _apply_incident(
    dynamodb: Any,
    pair: TablePair,
    items: Sequence[Item],
    in_site: Sequence[Item],
    *,
    incident: Incident,
    rng: random.Random,
) -> None:
    picked = rng.sample(list(in_site), incident.overwritten + incident.deleted)
    overwritten, deleted = picked[: incident.overwritten], picked[incident.overwritten :]
    outside = rng.sample(
        [item for item in items if site_of(item) != SITE], incident.other_sites_overwritten
    )
    created: list[Item] = []
    while len(created) < incident.created:
        document_id = _document_id(rng)
        created.append(document_item(rng, SITE, document_id, 900_000 + len(created)))
    writes = [_overwritten(rng, item) for item in (*overwritten, *outside)] + created
    write_items(dynamodb, [(pair.live, item) for item in writes])
    _delete(dynamodb, pair.live, [key_of(item, KEYS) for item in deleted])
    pair.live_count += len(created) - len(deleted)
    pair.expected_overwrite = _keys(overwritten)
    pair.expected_put = _keys(deleted)
    pair.expected_delete = _keys(created)
    pair.changed_outside_site = len(outside)


def _keys(items: Iterable[Item]) -> set[bytes]:
    return {canonical(key_of(item, KEYS)) for item in items}
