"""FormKiQ's multi-tenant site layout in DynamoDB keys and S3 object keys.

FormKiQ prefixes keys of every site but `default` with `<siteId>/` (SiteIdKeyGenerator): the
partition key `PK` and the index keys `GSI1PK`/`GSI2PK`, never `SK`. Some items are global but
carry their site only in an index key (API keys: `PK=apikeys#`, site in GSI1PK/GSI2PK), so a
site's items are those with the prefix on any of the three. Items naming no site at all (the
site registry `PK=sites`, site groups) belong to no site: only a whole-table repair touches them.
In the documents bucket, a site's objects are `<siteId>/<documentId>[/...]`, the default site's
`<documentId>[/...]`.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

from formkiq_backup.items import text_of

DEFAULT_SITE = "default"
SITE_KEY_ATTRIBUTES = ("PK", "GSI1PK", "GSI2PK")
# Items with these partition keys describe sites themselves (docs: database_schema).
GLOBAL_PARTITIONS = ("sites", "sitegroups")
_SITE_PREFIX = re.compile(r"^([A-Za-z0-9_-]+)/")
_SITE_ID = re.compile(r"[A-Za-z0-9_-]+")
_DOCUMENT_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def is_site_id(site: str) -> bool:
    """Site ids are plain identifiers: FormKiQ uses them as key prefixes and group names.

    The whole string must match (a `$` would let a trailing newline through)."""
    return _SITE_ID.fullmatch(site) is not None


def site_of_key(value: str | None) -> str | None:
    """The site a prefixed key value names (`finance/docs#1` -> finance), else None."""
    if value is None:
        return None
    match = _SITE_PREFIX.match(value)
    return match.group(1) if match else None


def item_sites(item: Mapping[str, Any]) -> set[str]:
    """Every site an item's partition or index keys name; empty for default-site items."""
    sites = set()
    for attribute in SITE_KEY_ATTRIBUTES:
        site = site_of_key(text_of(item.get(attribute)))
        if site is not None:
            sites.add(site)
    return sites


def is_global(item: Mapping[str, Any]) -> bool:
    """Site registry items: no single site owns them."""
    partition = text_of(item.get("PK")) or ""
    return partition in GLOBAL_PARTITIONS


def belongs_to_site(item: Mapping[str, Any], site: str) -> bool:
    """Whether a Documents-table item is part of `site` (see the module docstring)."""
    if is_global(item):
        return False
    sites = item_sites(item)
    if site == DEFAULT_SITE:
        return not sites
    return site in sites


def site_member(site: str) -> Callable[[Mapping[str, Any]], bool]:
    """`belongs_to_site(item, site)` as one function, cheaper per item for a named site.

    Repair calls it on every item a scan returns. For a site other than `default`, an item is
    the site's when its PK is not a site registry partition and one of its site keys starts
    with `<site>/`: the prefix pattern's match, without the regular expression and the set.
    """
    if site == DEFAULT_SITE or not is_site_id(site):
        return lambda item: belongs_to_site(item, site)
    prefix = f"{site}/"

    def member(item: Mapping[str, Any]) -> bool:
        # Site keys are strings ("S"): a number's text never holds the "/" a prefix ends with.
        if (item.get("PK") or {}).get("S") in GLOBAL_PARTITIONS:
            return False
        for attribute in SITE_KEY_ATTRIBUTES:
            value = (item.get(attribute) or {}).get("S")
            if value is not None and value.startswith(prefix):
                return True
        return False

    return member


def site_filter_expression(site: str) -> dict[str, Any] | None:
    """A Scan FilterExpression matching a non-default site server-side (fewer bytes back).

    The default site has no prefix to match, so it is filtered client-side only.
    """
    if site == DEFAULT_SITE:
        return None
    names = {f"#k{i}": attribute for i, attribute in enumerate(SITE_KEY_ATTRIBUTES)}
    return {
        "FilterExpression": " OR ".join(f"begins_with({name}, :site)" for name in names),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":site": {"S": f"{site}/"}},
    }


def site_prefix(site: str) -> str:
    """The prefix of a site's keys and objects (`<site>/`); the default site has none."""
    return "" if site == DEFAULT_SITE else f"{site}/"


def object_belongs_to_site(key: str, site: str) -> bool:
    """Default-site objects start with a document id; other sites' with `<site>/`."""
    if site == DEFAULT_SITE:
        return bool(_DOCUMENT_ID.match(key))
    return key.startswith(f"{site}/")


def document_object_key(item: Mapping[str, Any]) -> str | None:
    """The S3 key of a document item's content (`[site/]<documentId>`), else None."""
    document_id = text_of(item.get("documentId"))
    if not document_id:
        return None
    site = site_of_key(text_of(item.get("PK")))
    return f"{site}/{document_id}" if site else document_id
