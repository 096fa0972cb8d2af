"""Which sites a FormKiQ has, so a mistyped `--site` is refused instead of repairing nothing.

FormKiQ has no single list of sites. In its default "automatic sites" mode every Cognito group
but `Admins` and `authentication_only` names a site (`<site>`, `<site>_read`,
`<site>_govern`); "defined sites" keep `PK=sites` items in the Documents table; and a site's
documents live under `<site>/` in the documents bucket (FormKiQ's SiteIdKeyGenerator). A site
is known when any of these names it; versions count, so a site whose documents were all
deleted is still found.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from formkiq_backup.dr.context import DrContext, SetupError, describe_error
from formkiq_backup.items import text_of
from formkiq_backup.sites import DEFAULT_SITE, is_site_id

# Groups that name no site (CF/console/template-users.yaml).
NON_SITE_GROUPS = frozenset({"Admins", "authentication_only"})
_GROUP_SUFFIX = re.compile(r"_(read|govern)$")
_DOCUMENT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-")


@dataclass
class KnownSites:
    """The sites found, and the sources that could not be read (to say so)."""

    sites: set[str] = field(default_factory=lambda: {DEFAULT_SITE})
    unreadable: list[str] = field(default_factory=list)


def require_site(ctx: DrContext, site: str) -> None:
    """Refuse (exit 2) a site this FormKiQ does not have, naming the ones it has."""
    if site == DEFAULT_SITE:
        return
    known = known_sites(ctx)
    if site in known.sites or _bucket_has_site(ctx, site, known):
        return
    unread = f" (could not read {', '.join(known.unreadable)})" if known.unreadable else ""
    raise SetupError(
        f"--site {site!r}: FormKiQ {ctx.app_environment} has no such site; its sites: "
        f"{', '.join(sorted(known.sites))}{unread}"
    )


def known_sites(ctx: DrContext) -> KnownSites:
    """Sites named by Cognito groups, the site registry and the bucket's top-level folders."""
    known = KnownSites()
    environment = ctx.environment
    if environment.user_pool_id:
        try:
            pages = (
                ctx.client("cognito-idp")
                .get_paginator("list_groups")
                .paginate(UserPoolId=environment.user_pool_id)
            )
            groups = {group["GroupName"] for page in pages for group in page["Groups"]}
            known.sites |= {_GROUP_SUFFIX.sub("", group) for group in groups - NON_SITE_GROUPS}
        except (ClientError, BotoCoreError) as error:
            known.unreadable.append(f"Cognito groups: {describe_error(error)}")
    try:
        known.sites |= registry_sites(ctx.client("dynamodb"), environment.documents_table.name)
    except (ClientError, BotoCoreError) as error:
        known.unreadable.append(f"the site registry: {describe_error(error)}")
    try:
        known.sites |= bucket_sites(ctx.client("s3"), environment.documents_bucket.name)
    except (ClientError, BotoCoreError) as error:
        known.unreadable.append(f"the documents bucket: {describe_error(error)}")
    return known


def registry_sites(dynamodb: Any, documents_table: str) -> set[str]:
    """Sites the "defined sites" registry names (`PK=sites` items of the Documents table)."""
    registry = dynamodb.query(
        TableName=documents_table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "sites"}},
    )
    return {site for item in registry["Items"] if (site := text_of(item.get("siteId")))}


def bucket_sites(s3: Any, bucket: str) -> set[str]:
    """Sites named by the top-level folders of the first page of a documents bucket's listing
    (or its replica's: replication keeps the keys)."""
    listing = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    folders = {str(p["Prefix"]).rstrip("/") for p in listing.get("CommonPrefixes", [])}
    # Default-site artifacts sit under `<documentId>/`: a document, not a site.
    return {f for f in folders if is_site_id(f) and not _DOCUMENT_ID.match(f)}


def _bucket_has_site(ctx: DrContext, site: str, known: KnownSites) -> bool:
    """Whether any object version, deleted or not, lies under `<site>/`."""
    try:
        listed: Any = ctx.client("s3").list_object_versions(
            Bucket=ctx.environment.documents_bucket.name, Prefix=f"{site}/", MaxKeys=1
        )
    except (ClientError, BotoCoreError) as error:
        known.unreadable.append(f"the documents bucket: {describe_error(error)}")
        return False
    return bool(listed.get("Versions") or listed.get("DeleteMarkers"))
