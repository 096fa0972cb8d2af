"""Document content in S3: restore to a point in time (a version is verified by
formkiq_backup.integrity, shared with the restore-validation Lambda).

The documents bucket is versioned, so every overwrite and delete leaves the old version behind.
Bringing an object back to time T means: if only delete markers came after T's version, remove
them (the old version becomes current, no copy made); otherwise copy T's version on top (a new
current version with the old content; history stays intact). Objects created after T are left
alone: they may be legitimate new documents.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ObjectAction(StrEnum):
    """What restoring one object to time T takes."""

    UNCHANGED = "unchanged"
    UNDELETE = "undelete"
    """Only delete markers came after T's version: remove them."""
    COPY_VERSION = "copy-version"
    """The object was overwritten after T: copy T's version on top."""
    CREATED_AFTER = "created-after"
    """No version at T (created, or re-created, later): left alone."""


@dataclass(frozen=True)
class ObjectPlan:
    key: str
    action: ObjectAction
    version_id: str | None = None
    """The version that was current at T."""
    delete_markers: tuple[str, ...] = ()
    """Markers to remove (UNDELETE)."""


@dataclass(frozen=True)
class _Version:
    version_id: str
    modified: datetime
    is_marker: bool
    is_latest: bool


def plan_point_in_time(
    s3: Any, bucket: str, prefix: str, at: datetime, keep: Callable[[str], bool] | None = None
) -> list[ObjectPlan]:
    """For every object under `prefix`, what bringing it back to `at` takes."""
    history: dict[str, list[_Version]] = defaultdict(list)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry, is_marker in [(v, False) for v in page.get("Versions", [])] + [
            (m, True) for m in page.get("DeleteMarkers", [])
        ]:
            if keep is None or keep(entry["Key"]):
                history[entry["Key"]].append(
                    _Version(
                        entry["VersionId"], entry["LastModified"], is_marker, entry["IsLatest"]
                    )
                )
    return [_plan_one(key, versions, at) for key, versions in sorted(history.items())]


def _plan_one(key: str, versions: list[_Version], at: datetime) -> ObjectPlan:
    newest_first = sorted(versions, key=lambda v: (v.modified, v.is_latest), reverse=True)
    then = next((v for v in newest_first if v.modified <= at), None)
    if then is None or then.is_marker:
        latest = newest_first[0]
        action = ObjectAction.UNCHANGED if latest.is_marker else ObjectAction.CREATED_AFTER
        return ObjectPlan(key, action)
    later = [v for v in newest_first if v.modified > at]
    if not later or then.is_latest:
        return ObjectPlan(key, ObjectAction.UNCHANGED, then.version_id)
    if all(v.is_marker for v in later):
        return ObjectPlan(
            key, ObjectAction.UNDELETE, then.version_id, tuple(v.version_id for v in later)
        )
    return ObjectPlan(key, ObjectAction.COPY_VERSION, then.version_id)


def apply_object_plan(
    s3: Any,
    bucket: str,
    plan: ObjectPlan,
    on_marker_removed: Callable[[int], None] | None = None,
) -> None:
    """Carry out one object's plan (versions only ever added or markers removed).

    An undelete removes its markers one call each, newest first; `on_marker_removed` hears how
    many are gone after each, so a run stopped between two says how far the object got.
    """
    if plan.action is ObjectAction.UNDELETE:
        for removed, marker in enumerate(plan.delete_markers, start=1):
            s3.delete_object(Bucket=bucket, Key=plan.key, VersionId=marker)
            if on_marker_removed is not None and removed < len(plan.delete_markers):
                on_marker_removed(removed)
    elif plan.action is ObjectAction.COPY_VERSION:
        # Managed copy: multipart for objects over 5 GB, which CopyObject alone refuses.
        s3.copy({"Bucket": bucket, "Key": plan.key, "VersionId": plan.version_id}, bucket, plan.key)
