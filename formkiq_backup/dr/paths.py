"""Files a command writes (`--report`, `--out`): checked before any AWS call, written whole.

A drill takes minutes to hours; finding after it that its report cannot be written loses the
evidence. So each path is checked first, by actually creating a file beside it: permission
bits do not tell the whole story (root, read-only mounts, ACLs).
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click

REPORT_SUFFIXES = (".md", ".json")


def report_files(path: Path) -> tuple[Path, Path]:
    """PATH.md and PATH.json; a PATH already ending in .md or .json names the pair too.

    The suffixes are appended, not swapped, so `drill-2026.11.30` keeps its dots.
    """
    stem = path.with_suffix("") if path.suffix in REPORT_SUFFIXES else path
    return tuple(stem.with_name(stem.name + suffix) for suffix in REPORT_SUFFIXES)  # type: ignore[return-value]


def check_writable(path: Path, option: str) -> None:
    """Refuse (exit 2) a path this command could not write: a folder, a missing folder, a
    folder or file without write permission."""

    def refuse(problem: str) -> None:
        raise click.BadParameter(f"{path}: {problem}", param_hint=f"'{option}'")

    if path.is_dir():
        refuse("is a folder; give a file name in it")
    folder = path.parent
    if not folder.exists():
        refuse(f"folder {folder} does not exist")
    if not folder.is_dir():
        refuse(f"{folder} is not a folder")
    if path.exists():
        try:
            with path.open("a"):  # appends nothing: the file stays as it is
                pass
        except OSError as error:
            refuse(f"cannot be written ({error.strerror or error})")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".formkiq-dr-check-"):
            pass
    except OSError as error:
        refuse(f"cannot write in folder {folder} ({error.strerror or error})")


class NothingWrittenError(Exception):
    """Raised inside `replace_when_done` to keep the file as it was: nothing worth writing."""


@contextmanager
def replace_when_done(path: Path) -> Iterator[TextIO]:
    """Write to a temporary file beside `path`, which replaces it only once all is written.

    An export that fails halfway (or raises NothingWrittenError) leaves the previous file
    intact, never a truncated one. The file is readable by its owner only (mkstemp's mode): it
    holds user details.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as out:
            yield out
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
