"""DynamoDB items in their wire form: a canonical encoding, hashes and digests.

Scans use the low-level client (`{"PK": {"S": "docs#1"}}`), which is both faster than the
resource layer and exactly what a write takes back. Sets are unordered in DynamoDB, so two
tables holding the same item may return set members in different orders: the canonical form
sorts them. Binary values are base64 in the canonical form and decoded again on the way back.
"""

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Item = dict[str, Any]
_MASK_128 = (1 << 128) - 1


def _stdlib_sorted_dumps(value: Any) -> bytes:
    """orjson's compact, key-sorted UTF-8 JSON, from the standard library.

    The restore-validation Lambda ships without orjson (a compiled wheel per platform): it
    encodes with this, and its digests equal those `formkiq-dr drill` computes with orjson
    (tests/test_restore_validation.py compares the two on every kind of DynamoDB value).
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_dumps_sorted: Callable[[Any], bytes]
_loads: Callable[[bytes], Any]
try:
    import orjson
except ImportError:  # the Lambda package: the standard library writes the same bytes
    _dumps_sorted, _loads = _stdlib_sorted_dumps, json.loads
else:

    def _dumps_sorted(value: Any) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)

    _loads = orjson.loads


def _canonical_value(value: Mapping[str, Any]) -> Any:
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(inner)).decode()}
    if kind == "BS":
        return {"BS": sorted(base64.b64encode(bytes(v)).decode() for v in inner)}
    if kind in ("SS", "NS"):
        return {kind: sorted(inner)}
    if kind == "M":
        return {"M": {k: _canonical_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_canonical_value(v) for v in inner]}
    return {kind: inner}


# orjson writes compact JSON, where `S":[` appears only where a set's type ("SS", "NS", "BS")
# opens its list: an attribute or map key name is always followed by `:{`, a list ("L") has no
# S before its `:[`, and inside a string value the quote is escaped. One search of the bytes,
# in C; a false alarm would only take the slower conversion, never miss a set.
_SET_MARKER = b'S":['


def canonical(item: Mapping[str, Any]) -> bytes:
    """A byte string equal for equal items, whatever order sets and attributes came in.

    Most FormKiQ items hold no set and no binary value: their JSON, keys sorted, already is the
    canonical form, so it is encoded once (orjson, in Rust: repair encodes every item it reads)
    and only items with a set (or bytes, which JSON refuses) take the slower conversion.
    """
    try:
        text = _dumps_sorted(item)
    except TypeError:  # bytes: binary values are base64 in the canonical form
        text = None
    if text is None or _SET_MARKER in text:
        converted = {name: _canonical_value(value) for name, value in item.items()}
        text = _dumps_sorted(converted)
    return text


def from_canonical(data: bytes) -> Item:
    """The wire-form item a canonical encoding came from."""

    def restore(value: dict[str, Any]) -> dict[str, Any]:
        (kind, inner), *_ = value.items()
        if kind == "B":
            return {"B": base64.b64decode(inner)}
        if kind == "BS":
            return {"BS": [base64.b64decode(v) for v in inner]}
        if kind == "M":
            return {"M": {k: restore(v) for k, v in inner.items()}}
        if kind == "L":
            return {"L": [restore(v) for v in inner]}
        return {kind: inner}

    return {name: restore(value) for name, value in _loads(data).items()}


def key_of(item: Mapping[str, Any], key_attributes: Sequence[str]) -> Item:
    """The item's primary key, e.g. {"PK": {"S": ...}, "SK": {"S": ...}}."""
    return {name: item[name] for name in key_attributes}


def content_hash(item_bytes: bytes) -> bytes:
    """A 128-bit hash of a canonical item."""
    return hashlib.blake2b(item_bytes, digest_size=16).digest()


def text_of(value: Mapping[str, Any] | None) -> str | None:
    """A string or number attribute's value, else None."""
    if not value:
        return None
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return str(value["N"])
    return None


@dataclass
class TableDigest:
    """Item count and an order-independent content digest (sum of item hashes mod 2^128).

    Two tables with the same items have the same digest whatever order a scan returns them in;
    a sum, unlike XOR, also tells two copies of one item from none.
    """

    count: int = 0
    total: int = 0

    def add(self, item: Mapping[str, Any]) -> None:
        self.count += 1
        self.total = (self.total + int.from_bytes(content_hash(canonical(item)), "big")) & _MASK_128

    def add_all(self, items: Iterable[Mapping[str, Any]]) -> "TableDigest":
        for item in items:
            self.add(item)
        return self

    @property
    def hexdigest(self) -> str:
        return f"{self.total:032x}"
