"""`superstore web token create|list|revoke`, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from superstore.web.tokens import TokenStore


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPERSTORE_DATA_DIR": str(tmp_path / "state")}
    env.pop("SUPERSTORE_WEB_TOKENS_FILE", None)
    return subprocess.run(
        [sys.executable, "-m", "superstore", "web", "token", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def test_create_prints_the_token_once_and_list_never_does(tmp_path: Path) -> None:
    made = _cli(tmp_path, "create", "--role", "analyst", "--regions", "West", "--name", "bi")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("sst_") and "\n" not in token
    store = TokenStore(tmp_path / "state" / "web_tokens.json")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    principal = store.verify(token)
    assert principal is not None and principal.scope.regions == {"West"}
    listed = _cli(tmp_path, "list", "--json")
    assert listed.returncode == 0 and token not in listed.stdout
    (record,) = json.loads(listed.stdout)
    assert (record["name"], record["role"], record["regions"]) == ("bi", "analyst", ["West"])
    assert "sha256" not in record
    gone = _cli(tmp_path, "revoke", "bi")
    assert gone.returncode == 0, gone.stderr
    assert store.verify(token) is None


def test_mistakes_are_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    for args, says in (
        (("create", "--role", "owner"), "unknown role 'owner'"),
        (("revoke", "nope"), "no token 'nope'"),
    ):
        answer = _cli(tmp_path, *args)
        assert answer.returncode != 0
        assert says in answer.stderr and "Traceback" not in answer.stderr
