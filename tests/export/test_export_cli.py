"""`superstore export` as a user runs it: a subprocess, env settings, one-line errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.data import load_lines
from superstore.export import list_partitions, read_manifest
from superstore.storage import LakeConfig


def _env(pg: PgConfig, lake: Path | str) -> dict[str, str]:
    return {"SUPERSTORE_PG_DSN": pg.dsn, "SUPERSTORE_LAKE_URL": str(lake)}


def test_export_all_days_of_the_data_set(
    cli, seed_pg: PgConfig, seed_lines: list[OrderLine], tmp_path: Path
) -> None:
    lake_dir = tmp_path / "lake"
    done = cli("export", "--all", env=_env(seed_pg, lake_dir), timeout=600)
    assert done.returncode == 0, done.stderr
    assert "exported 1,237 partitions, 9,994 lines, sales 2297200.8603" in done.stderr
    lake = LakeConfig(url=str(lake_dir))
    days = list_partitions(lake)
    assert len(days) == 1237
    assert (days[0], days[-1]) == (dt.date(2014, 1, 3), dt.date(2017, 12, 30))
    manifests = [read_manifest(lake, day) for day in days]
    assert sum(m.lines for m in manifests) == 9994
    assert sum((m.sales for m in manifests), Decimal(0)) == Decimal("2297200.8603")
    assert len({m.snapshot["pg_snapshot"] for m in manifests}) == 1  # one snapshot for all

    # Every line reads back, through the data set's own loader, exactly as it was loaded:
    # trailing spaces in names, ZIP codes, both names of versioned products, 4-decimal money.
    back = [x for day in days for x in load_lines(lake_dir / "raw" / f"date={day}" / "orders.csv")]
    key = attrgetter("row_id")
    assert sorted(back, key=key) == sorted(seed_lines, key=key)

    checked = cli("export", "--verify", "--all", env=_env(seed_pg, lake_dir), timeout=600)
    assert checked.returncode == 0, checked.stderr
    assert "1,237 partitions match their manifests" in checked.stderr


def test_export_a_day_then_verify_it(cli, seed_pg: PgConfig, tmp_path: Path) -> None:
    env = _env(seed_pg, tmp_path / "lake")
    done = cli("export", "--date", "2016-11-08", env=env)
    assert done.returncode == 0, done.stderr
    assert "2016-11-08: 2 lines, 1 orders, sales 993.9000" in done.stderr
    assert cli("export", "--verify", "--date", "2016-11-08", env=env).returncode == 0

    csv_file = tmp_path / "lake" / "raw" / "date=2016-11-08" / "orders.csv"
    csv_file.write_text(csv_file.read_text().replace("993", "994").replace("261", "262"))
    bad = cli("export", "--verify", "--date", "2016-11-08", env=env)
    assert bad.returncode == 1
    assert "orders.csv" in bad.stderr and "Traceback" not in bad.stderr
    csv_file.unlink()
    gone = cli("export", "--verify", "--date", "2016-11-08", env=env)
    assert gone.returncode == 1 and "orders.csv: missing" in gone.stderr


def test_range_and_default_day(cli, seed_pg: PgConfig, tmp_path: Path) -> None:
    env = _env(seed_pg, tmp_path / "lake")
    done = cli("export", "--from", "2014-01-01", "--to", "2014-01-04", env=env)
    assert done.returncode == 0, done.stderr
    lake = LakeConfig(url=str(tmp_path / "lake"))
    assert len(list_partitions(lake)) == 4
    today = cli("export", env={**env, "SUPERSTORE_TIMEZONE": "Pacific/Kiritimati"})
    assert today.returncode == 0, today.stderr
    assert ": 0 lines" in today.stderr and len(list_partitions(lake)) == 5


def test_usage_errors_are_one_line(bare_cli, tmp_path: Path) -> None:
    for args, needle in [
        (["--from", "2014-01-01"], "--from and --to go together"),
        (["--date", "2014-01-01", "--all"], "--all cannot be combined"),
        (["--from", "2014-01-05", "--to", "2014-01-01"], "is before --from"),
        (["--verify", "--date", "2014-01-01"], "no partition for 2014-01-01"),
        (["--lake", "ftp://x/y", "--date", "2014-01-01"], "unsupported lake URL"),
    ]:
        done = bare_cli("export", *args, env={"SUPERSTORE_LAKE_URL": str(tmp_path / "lake")})
        assert done.returncode in (1, 2), (args, done.stderr)
        assert needle in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_no_database_configured_is_a_clear_error(bare_cli) -> None:
    done = bare_cli("export", "--date", "2014-01-03")
    assert done.returncode == 2 and "no PostgreSQL configured" in done.stderr
