"""Whether a restore holds what its source held: one implementation of the checks.

`formkiq-dr drill` restores FormKiQ's tables and checks them; after each AWS Backup restore
test, the restore-validation Lambda checks the restored table or bucket. Both judge with these
functions: a table by its item count and order-independent digest against the source
(`table_verdict`), the documents its metadata names by downloading the version and checking
length and checksum (`verify_document_version`, on a uniform `DocumentSample`), and a restored
bucket by its objects against the source's versions as they were at the recovery point
(`bucket_verdict`). This module ships inside the Lambda package: it imports only the standard
library and the package's own modules (items.py works without orjson, writing the same bytes).
"""

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from formkiq_backup.items import Item, TableDigest, text_of
from formkiq_backup.sites import document_object_key

_CHUNK = 1024 * 1024
# How many names a verdict lists before it says "and N more".
_NAMED = 5


class Outcome(StrEnum):
    """A check's verdict: a FAIL fails the drill and the restore test."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    detail: str


def table_verdict(source: TableDigest, restored: TableDigest, *, strict: bool) -> Verdict:
    """A restored table against its source: same count and digest, or why not.

    A difference is expected when the source changed after the recovery point, so it fails only
    when `strict` says it cannot be that (the drill's --strict; the restore validation when the
    source took no write since the recovery point). An empty restore of a non-empty table
    always fails.
    """
    if source.count and not restored.count:
        return Verdict(Outcome.FAIL, "restored table is empty")
    if (source.count, source.hexdigest) == (restored.count, restored.hexdigest):
        return Verdict(
            Outcome.PASS,
            f"{restored.count} items, digest {restored.hexdigest[:16]}... identical",
        )
    return Verdict(
        Outcome.FAIL if strict else Outcome.WARN,
        f"restored {restored.count} items vs {source.count} live, digests differ"
        + ("" if strict else " (expected when the table changed after the recovery point)"),
    )


@dataclass
class DocumentSample:
    """A uniform random sample of document items (reservoir sampling, one pass)."""

    size: int
    rng: random.Random
    seen: int = 0

    def __post_init__(self) -> None:
        self.items: list[Item] = []

    def merge(self, parts: Sequence[tuple[list[Item], int]]) -> None:
        """Fill this sample from samples of disjoint parts, each (its sample, items it saw).

        Drawing a part in proportion to the items it has left, then one of its sampled items,
        is uniform over all parts: the same as one sample of the whole.
        """
        pools = [list(items) for items, _ in parts]
        left = [seen for _, seen in parts]
        while len(self.items) < self.size and any(left):
            part = self.rng.choices(range(len(pools)), weights=left)[0]
            pool = pools[part]
            self.items.append(pool.pop(self.rng.randrange(len(pool))))
            left[part] -= 1
        self.seen += sum(seen for _, seen in parts)

    def offer(self, item: Mapping[str, Any]) -> None:
        if text_of(item.get("SK")) != "document" or not text_of(item.get("documentId")):
            return
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(dict(item))
        else:
            slot = self.rng.randrange(self.seen)
            if slot < self.size:
                self.items[slot] = dict(item)


@dataclass(frozen=True)
class Content:
    """An object's bytes as checksums: what two copies must share."""

    length: int
    md5: str
    sha256: str
    etag: str
    """As S3 reports it: the MD5 of a single-part upload, a '-N' composite for multipart."""


def read_content(s3: Any, bucket: str, key: str, version_id: str | None = None) -> Content:
    """Download an object (a version of it) and hash it as it streams."""
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    response = s3.get_object(**request)
    md5, sha256, length = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    for chunk in response["Body"].iter_chunks(_CHUNK):
        md5.update(chunk)
        sha256.update(chunk)
        length += len(chunk)
    etag = str(response.get("ETag", "")).strip('"').lower()
    return Content(length, md5.hexdigest(), sha256.hexdigest(), etag)


@dataclass(frozen=True)
class VersionCheck:
    """A document version compared with the metadata FormKiQ keeps for it."""

    key: str
    version_id: str | None
    ok: bool
    detail: str


def verify_document_version(s3: Any, bucket: str, item: Mapping[str, Any]) -> VersionCheck:
    """Download the version a document item names and check its length and checksum."""
    key = document_object_key(item) or "?"
    version = text_of(item.get("s3version"))
    expected_checksum = (text_of(item.get("checksum")) or "").strip('"').lower()
    expected_length = text_of(item.get("contentLength"))
    content = read_content(s3, bucket, key, version)
    problems = []
    if expected_length is not None and int(float(expected_length)) != content.length:
        problems.append(f"length {content.length} != contentLength {expected_length}")
    if expected_checksum:
        # FormKiQ keeps the object's ETag (MD5 hex) or a SHA-256; multipart ETags have a '-'.
        actual = {32: content.md5, 64: content.sha256}.get(len(expected_checksum), content.etag)
        if actual != expected_checksum:
            problems.append(f"checksum {actual} != {expected_checksum}")
    detail = "; ".join(problems) if problems else f"{content.length} bytes, checksum matches"
    return VersionCheck(key, version, not problems, detail)


# --- a restored bucket against its source ------------------------------------------------------


@dataclass
class SourceAt:
    """A versioned bucket's objects as they were at a moment, from its version history."""

    versions: dict[str, str] = field(default_factory=dict)
    """Each object current at the moment (not deleted), and the version it was then."""
    changing: set[str] = field(default_factory=set)
    """Objects that changed while the backup ran: either state may be in the restore."""


def source_at(s3: Any, bucket: str, at: datetime, until: datetime | None = None) -> SourceAt:
    """The source bucket at `at` (a recovery point's creation), from ListObjectVersions.

    A version or delete marker written between `at` and `until` (the backup's completion)
    marks its object as changing: the backup may have caught it either side of the change.
    """
    newest: dict[str, tuple[datetime, str, bool]] = {}
    state = SourceAt()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [(v, False) for v in page.get("Versions", [])]
        entries += [(m, True) for m in page.get("DeleteMarkers", [])]
        for entry, is_marker in entries:
            key, modified = entry["Key"], entry["LastModified"]
            if modified > at:
                if until is not None and modified <= until:
                    state.changing.add(key)
                continue
            known = newest.get(key)
            if known is None or modified > known[0]:
                newest[key] = (modified, entry["VersionId"], is_marker)
    state.versions = {
        key: version for key, (_, version, is_marker) in newest.items() if not is_marker
    }
    return state


def current_keys(s3: Any, bucket: str) -> set[str]:
    """The keys in a bucket (the restored one is new: its objects are current versions)."""
    found: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.update(item["Key"] for item in page.get("Contents", []))
    return found


def bucket_verdict(
    s3: Any,
    *,
    source_bucket: str,
    source: SourceAt,
    restored_bucket: str,
    restored: set[str],
    sample: Iterable[str],
) -> Verdict:
    """A restored bucket against its source at the recovery point: every object there, none
    extra, and each sampled object's bytes identical to the source version of the time."""
    expected = set(source.versions) - source.changing
    missing = sorted(expected - restored)
    if missing:
        return Verdict(
            Outcome.FAIL,
            f"{len(missing)} of {len(expected)} objects missing from the restore: "
            + _named(missing),
        )
    differing = []
    checked = 0
    for key in sample:
        checked += 1
        original = read_content(s3, source_bucket, key, source.versions[key])
        copy = read_content(s3, restored_bucket, key)
        if (original.length, original.sha256) != (copy.length, copy.sha256):
            differing.append(key)
    if differing:
        return Verdict(
            Outcome.FAIL,
            f"{len(differing)} of {checked} sampled objects differ from the source: "
            + _named(differing),
        )
    extra = sorted(restored - set(source.versions) - source.changing)
    detail = f"{len(restored)} objects, {checked} sampled objects identical to the source"
    if extra:
        return Verdict(
            Outcome.WARN,
            detail
            + f"; {len(extra)} objects not in the source at the recovery point: "
            + _named(extra),
        )
    return Verdict(Outcome.PASS, detail)


def _named(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:_NAMED])
    return shown + (f" and {len(keys) - _NAMED} more" if len(keys) > _NAMED else "")
