"""Replacing a partition so that readers see the old one, the new one, or none.

Files are written under ``raw/.tmp-date=D-<token>/`` first. Publishing then
differs by store:

- local directory: the finished temporary directory (manifest included) is
  exchanged with the partition in ONE rename (Linux ``renameat2`` with
  ``RENAME_EXCHANGE``), so at every instant, a kill -9 included, the partition
  is the old one or the new one; then the old one (now at the temporary path)
  is deleted. Where the file system cannot exchange, the old partition is
  renamed aside and the new one renamed in (a failed swap renames the old one
  back; a kill between the two renames leaves the day without a partition, and
  stale, until the next export).
- S3 (no rename): the old manifest is deleted first, so the partition stops
  counting; the data files are copied over, stale objects removed, and the
  new manifest copied LAST. A reader that trusts only partitions with a
  manifest never sees a mix of old and new files.

Readers ignore every ``raw/.*`` prefix; one left by a killed exporter is
garbage and can be deleted.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import os
import shutil
import uuid
from typing import TYPE_CHECKING

from superstore.export.layout import DATA_FILES, MANIFEST_NAME
from superstore.export.manifest import FileEntry, Manifest, VerifyError
from superstore.storage import LakeConfig, lake_errors

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["check_written", "discard", "publish", "temp_path"]


def temp_path(lake: LakeConfig, day: dt.date) -> str:
    """A fresh temporary prefix for one export of ``day`` (hidden from readers)."""
    return lake.path("raw", f".tmp-date={day.isoformat()}-{uuid.uuid4().hex[:12]}")


def check_written(fs: AbstractFileSystem, directory: str, files: dict[str, FileEntry]) -> None:
    """Every file is there with the size we streamed: the store kept what we sent."""
    for name in DATA_FILES:
        entry = files.get(name)
        if entry is None:
            raise VerifyError(f"{name}: was not written")
        try:
            size = fs.info(f"{directory}/{name}")["size"]
        except FileNotFoundError:
            raise VerifyError(f"{name}: missing after writing it to {directory}") from None
        if size != entry.bytes:
            raise VerifyError(f"{name}: {size} bytes stored, {entry.bytes} written")


def publish(lake: LakeConfig, fs: AbstractFileSystem, tmp: str, manifest: Manifest) -> None:
    """Write the manifest into ``tmp``, then make ``tmp`` the partition of its day."""
    final = lake.partition_path(manifest.date)
    with lake_errors(lake, f"publishing {final}"):
        fs.pipe_file(f"{tmp}/{MANIFEST_NAME}", manifest.to_json())
        if lake.is_local:
            _swap_local(tmp, final)
        else:
            _replace_remote(fs, tmp, final)


def discard(lake: LakeConfig, fs: AbstractFileSystem, tmp: str) -> None:
    """Best-effort removal of a temporary prefix after a failure (never raises)."""
    try:
        if lake.is_local:
            shutil.rmtree(tmp, ignore_errors=True)
        elif fs.exists(tmp):
            fs.rm(tmp, recursive=True)
    except Exception:  # the original error matters more; readers ignore raw/.* anyway
        pass


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)  # glibc 2.28+


def _exchange(a: str, b: str) -> bool:
    """Swap two existing paths atomically; False where the system cannot."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), b)


def _swap_local(tmp: str, final: str) -> None:
    _fsync_tree(tmp)
    if os.path.isdir(final) and _exchange(tmp, final):
        _fsync_dir(os.path.dirname(final))
        shutil.rmtree(tmp, ignore_errors=True)  # the old partition, now at tmp
        return
    aside = f"{os.path.dirname(final)}/.old-{os.path.basename(final)}-{uuid.uuid4().hex[:12]}"
    had_old = os.path.isdir(final)
    if had_old:
        os.replace(final, aside)
    try:
        os.replace(tmp, final)
    except BaseException:
        if had_old:
            os.replace(aside, final)
        raise
    _fsync_dir(os.path.dirname(final))
    if had_old:
        shutil.rmtree(aside, ignore_errors=True)


def _fsync_tree(directory: str) -> None:
    """Flush the files and the directory, so a power cut cannot publish empty files."""
    for name in os.listdir(directory):
        fd = os.open(os.path.join(directory, name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_remote(fs: AbstractFileSystem, tmp: str, final: str) -> None:
    existing = {str(p).rstrip("/").rsplit("/", 1)[-1] for p in fs.find(final)}
    if MANIFEST_NAME in existing:
        fs.rm_file(f"{final}/{MANIFEST_NAME}")  # from here on the partition does not count
    for name in DATA_FILES:
        fs.copy(f"{tmp}/{name}", f"{final}/{name}")
    for stale in sorted(existing - {*DATA_FILES, MANIFEST_NAME}):
        fs.rm_file(f"{final}/{stale}")
    fs.copy(f"{tmp}/{MANIFEST_NAME}", f"{final}/{MANIFEST_NAME}")
    fs.rm(tmp, recursive=True)
