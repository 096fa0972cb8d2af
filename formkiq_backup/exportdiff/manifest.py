"""A DynamoDB export in S3: where it is, what its manifests promise, and whether its files keep
that promise.

The layout is DynamoDB's ("DynamoDB table export output format", Amazon DynamoDB developer
guide, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html):

    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json   one JSON object
    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-files.json     JSON lines, one per data file:
        {"itemCount": 8, "md5Checksum": "<base64 MD5>", "etag": "<S3 ETag>",
         "dataFileS3Key": "<...>/AWSDynamoDB/<ExportId>/data/<name>.json.gz"}
    <export-prefix>/AWSDynamoDB/<ExportId>/data/<name>.json.gz     gzipped JSON lines

A full export's data lines are `{"Item": {...}}`; an incremental export's are
`{"Metadata": {"WriteTimestampMicros": ...}, "Keys": {...}, "OldImage": {...}, "NewImage":
{...}}`, one per item changed in its window, compacted to the item's state at the window's start
(OldImage, absent for an item created in it) and end (NewImage, absent for an item deleted in
it; with the NEW_IMAGE view no OldImage at all). The summary is written last, so an export
without one did not finish.
"""

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

SUMMARY_NAME = "manifest-summary.json"
FILES_NAME = "manifest-files.json"
EXPORTS_FOLDER = "AWSDynamoDB/"
# DynamoDB JSON is the format whose lines this package reads; an ION export is refused.
SUPPORTED_FORMAT = "DYNAMODB_JSON"
_CHUNK = 1024 * 1024
_EXPORT_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<root>.+)$")
_EXPORT_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class ExportCheckError(RuntimeError):
    """An export that does not keep its manifests' promise: a corrupt manifest, a data file
    missing or different from the one DynamoDB wrote. A failed check, not a usage error."""


class ExportType(StrEnum):
    FULL = "FULL_EXPORT"
    INCREMENTAL = "INCREMENTAL_EXPORT"


@dataclass(frozen=True)
class ExportLocation:
    """`s3://<bucket>/<export-prefix>/AWSDynamoDB/<ExportId>/`: one export's folder."""

    bucket: str
    root: str
    """The folder's key, ending in `/`."""

    @classmethod
    def parse(cls, text: str) -> "ExportLocation":
        """Raises ValueError with the expected shape when `text` is not an export's folder."""
        match = _EXPORT_URL.match(text)
        shape = "s3://<bucket>/<prefix>/AWSDynamoDB/<export id>/"
        if match is None:
            raise ValueError(f"{text!r} is not an S3 URL of an export's folder ({shape})")
        root = match["root"].removesuffix(SUMMARY_NAME)
        root = root if root.endswith("/") else f"{root}/"
        parts = root.rstrip("/").split("/")
        if len(parts) < 2 or parts[-2] != EXPORTS_FOLDER.rstrip("/"):
            raise ValueError(f"{text!r}: an export's folder ends in AWSDynamoDB/<id>/ ({shape})")
        if not _EXPORT_ID.match(parts[-1]):
            raise ValueError(f"{text!r}: {parts[-1]!r} is not an export id")
        return cls(match["bucket"], root)

    @property
    def export_id(self) -> str:
        return self.root.rstrip("/").rsplit("/", 1)[-1]

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.root}"

    def key(self, name: str) -> str:
        return f"{self.root}{name}"


@dataclass(frozen=True)
class DataFile:
    """One data file, as manifest-files.json vouches for it."""

    key: str
    item_count: int
    md5_checksum: str
    """Base64 of the MD5 digest of the file's bytes."""
    etag: str

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Export:
    """A finished export: its summary and its data files."""

    location: ExportLocation
    export_arn: str
    table_arn: str
    export_time: datetime
    export_type: ExportType
    item_count: int
    files: tuple[DataFile, ...]
    export_from_time: datetime | None = None
    """Incremental exports only: the window's start (inclusive) and end (exclusive)."""
    export_to_time: datetime | None = None
    view_type: str | None = None

    @property
    def table_name(self) -> str:
        return self.table_arn.rsplit("/", 1)[-1]

    @property
    def incremental(self) -> bool:
        return self.export_type is ExportType.INCREMENTAL

    @property
    def state_time(self) -> datetime:
        """The moment whose table state this export shows (an incremental's window end)."""
        return self.export_to_time or self.export_time

    def describe(self) -> str:
        kind = "incremental export" if self.incremental else "export"
        return f"{kind} {self.location.export_id} of {self.table_name} at {_iso(self.state_time)}"


def read_export(s3: Any, location: ExportLocation) -> Export:
    """The export at `location`, its manifests read and checked against each other.

    Raises ExportCheckError for a summary or files manifest that is missing, not JSON, lacks a
    field, or whose item counts disagree.
    """
    summary = _read_json(s3, location, SUMMARY_NAME)
    if not isinstance(summary, dict):
        raise ExportCheckError(f"{location.url}{SUMMARY_NAME}: not a JSON object")
    output_format = summary.get("outputFormat", SUPPORTED_FORMAT)
    if output_format != SUPPORTED_FORMAT:
        raise ExportCheckError(
            f"{location.url}: exported as {output_format}; only {SUPPORTED_FORMAT} is read"
        )
    files = _read_files_manifest(s3, location)
    try:
        export = Export(
            location=location,
            export_arn=str(summary["exportArn"]),
            table_arn=str(summary["tableArn"]),
            export_time=_time(summary["exportTime"]),
            export_type=ExportType(summary.get("exportType", ExportType.FULL.value)),
            item_count=int(summary["itemCount"]),
            files=files,
            export_from_time=_optional_time(summary.get("exportFromTime")),
            export_to_time=_optional_time(summary.get("exportToTime")),
            view_type=summary.get("outputView") or summary.get("exportViewType"),
        )
    except (KeyError, ValueError, TypeError) as error:
        raise ExportCheckError(
            f"{location.url}{SUMMARY_NAME}: {type(error).__name__} {error} (fields exportArn, "
            "tableArn, exportTime, itemCount are required)"
        ) from error
    listed = sum(file.item_count for file in files)
    if listed != export.item_count:
        raise ExportCheckError(
            f"{location.url}: {FILES_NAME} lists {listed} items, {SUMMARY_NAME} says "
            f"{export.item_count}"
        )
    return export


def _read_files_manifest(s3: Any, location: ExportLocation) -> tuple[DataFile, ...]:
    text = _read_object(s3, location, FILES_NAME)
    files = []
    for number, line in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            files.append(
                DataFile(
                    key=_data_key(location, str(entry["dataFileS3Key"])),
                    item_count=int(entry["itemCount"]),
                    md5_checksum=str(entry["md5Checksum"]),
                    etag=str(entry["etag"]).strip('"'),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ExportCheckError(
                f"{location.url}{FILES_NAME} line {number}: {type(error).__name__} {error} "
                "(each line needs dataFileS3Key, itemCount, md5Checksum and etag)"
            ) from error
    return tuple(files)


def _data_key(location: ExportLocation, key: str) -> str:
    """A data file's key in the bucket. DynamoDB writes the whole key; the guide's examples
    show it from `AWSDynamoDB/`: either way the file is in this export's `data/` folder."""
    marker = f"{EXPORTS_FOLDER}{location.export_id}/"
    if marker not in key:
        raise ValueError(f"dataFileS3Key {key!r} is not in export {location.export_id}")
    return location.root + key.rsplit(marker, 1)[1]


def _read_object(s3: Any, location: ExportLocation, name: str) -> bytes:
    try:
        body: bytes = s3.get_object(Bucket=location.bucket, Key=location.key(name))["Body"].read()
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "404"):
            raise ExportCheckError(
                f"{location.url}{name} is missing: not an export, or one that did not finish"
            ) from error
        raise
    return body


def _read_json(s3: Any, location: ExportLocation, name: str) -> Any:
    try:
        return json.loads(_read_object(s3, location, name))
    except ValueError as error:
        raise ExportCheckError(f"{location.url}{name}: not JSON ({error})") from error


def newest_export(
    s3: Any, bucket: str, prefix: str, *, full_only: bool = False
) -> ExportLocation | None:
    """The finished export under `prefix` whose table state is newest (of full exports only,
    with `full_only`), else None.

    Found from the bucket, not from ListExports (which answers for 90 days only): each export
    folder under `<prefix>AWSDynamoDB/` with a manifest-summary.json is finished. DynamoDB
    joins an export prefix ending in `/` with another `/`, so both spellings are looked at.
    """
    best: tuple[datetime, ExportLocation] | None = None
    for folder in _export_folders(s3, bucket, prefix):
        location = ExportLocation(bucket, folder)
        try:
            summary = _read_json(s3, location, SUMMARY_NAME)
            when = _time(summary.get("exportToTime") or summary["exportTime"])
            if full_only and summary.get("exportType", ExportType.FULL) != ExportType.FULL:
                continue
        except (ExportCheckError, KeyError, ValueError, TypeError, AttributeError):
            continue  # unfinished or unreadable: not a candidate for the newest
        if best is None or when > best[0]:
            best = (when, location)
    return None if best is None else best[1]


def _export_folders(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    paginator = s3.get_paginator("list_objects_v2")
    for base in (f"{prefix}{EXPORTS_FOLDER}", f"{prefix}/{EXPORTS_FOLDER}"):
        for page in paginator.paginate(Bucket=bucket, Prefix=base, Delimiter="/"):
            for entry in page.get("CommonPrefixes", []):
                yield str(entry["Prefix"])


def check_etags(s3: Any, export: Export) -> None:
    """Every data file is there and is the object DynamoDB wrote (HeadObject's ETag is the
    manifest's), without reading it: for engines that read the files where they are."""
    for file in export.files:
        try:
            head = s3.head_object(Bucket=export.location.bucket, Key=file.key)
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404", "NotFound"):
                raise ExportCheckError(_missing(export, file)) from error
            raise
        if str(head.get("ETag", "")).strip('"') != file.etag:
            raise ExportCheckError(
                f"s3://{export.location.bucket}/{file.key}: ETag {head.get('ETag')} is not the "
                f"manifest's {file.etag}: the file was changed after the export"
            )


def download(
    s3: Any, export: Export, directory: Path, *, workers: int = 8
) -> list[tuple[Path, DataFile]]:
    """Every data file into `directory`, its MD5 checked against the manifest as it arrives.

    boto3 reads them (the AWS credential chain, retries, endpoints, exactly as every other
    call); `workers` files at a time.
    """
    directory.mkdir(parents=True, exist_ok=True)

    def fetch(numbered: tuple[int, DataFile]) -> tuple[Path, DataFile]:
        number, file = numbered
        path = directory / f"{number:06d}-{file.name}"
        _download_checked(s3, export, file, path)
        return path, file

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(fetch, enumerate(export.files)))


def _download_checked(s3: Any, export: Export, file: DataFile, path: Path) -> None:
    try:
        body = s3.get_object(Bucket=export.location.bucket, Key=file.key)["Body"]
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "404"):
            raise ExportCheckError(_missing(export, file)) from error
        raise
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as out:
        while chunk := body.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    found = base64.b64encode(digest.digest()).decode()
    if found != file.md5_checksum:
        raise ExportCheckError(
            f"s3://{export.location.bucket}/{file.key}: MD5 {found} is not the manifest's "
            f"{file.md5_checksum}: the file is damaged or was changed after the export"
        )


def check_line_counts(export: Export, counted: Mapping[str, int]) -> None:
    """Each data file holds as many lines as the manifest says (`counted`: by file key)."""
    for file in export.files:
        lines = counted.get(file.key, 0)
        if lines != file.item_count:
            raise ExportCheckError(
                f"s3://{export.location.bucket}/{file.key} holds {lines} items, "
                f"{FILES_NAME} says {file.item_count}"
            )


def manifest_entry(key: str, body: bytes, item_count: int) -> dict[str, Any]:
    """manifest-files.json's line for a data file (the format above), e.g. for a test export."""
    return {
        "itemCount": item_count,
        "md5Checksum": base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode(),
        "etag": hashlib.md5(body, usedforsecurity=False).hexdigest(),
        "dataFileS3Key": key,
    }


def _missing(export: Export, file: DataFile) -> str:
    return (
        f"s3://{export.location.bucket}/{file.key} is missing, yet {FILES_NAME} lists it "
        f"({file.item_count} items)"
    )


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _optional_time(value: Any) -> datetime | None:
    return None if value in (None, "") else _time(value)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
