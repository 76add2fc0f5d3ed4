"""The architecture as rules that fail a build: store owners, layers, imports, comments.

`make test` also runs import-linter and mypy; these tests check what those
tools cannot, and that the layer contract really bites.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "superstore"
OLTP_TABLES = (
    "orders", "order_lines", "customers", "products", "rejected_lines", "ingest_offsets",
    "day_totals", "day_product_sales", "schema_migrations",
)  # fmt: skip
_SQL_ON_OLTP = re.compile(
    r"\b(FROM|INTO|UPDATE|JOIN|TABLE)\s+(" + "|".join(OLTP_TABLES) + r")\b", re.IGNORECASE
)


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_only_the_oltp_package_writes_sql_against_its_tables() -> None:
    found = []
    for path in _python_files(SRC):
        if path.is_relative_to(SRC / "oltp"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if _SQL_ON_OLTP.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "SQL on the OLTP tables outside superstore.oltp:\n" + "\n".join(found)


def test_every_type_ignore_names_its_code_and_a_reason() -> None:
    bare = []
    for path in _python_files(SRC):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "type: ignore" in line and not re.search(
                r"type: ignore\[[a-z-, ]+\]\s+#\s*\S", line
            ):
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert bare == [], "a `# type: ignore` needs [code] and a reason:\n" + "\n".join(bare)


def _function_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every import inside a function body."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    out.append((inner.lineno, inner.module))
                elif isinstance(inner, ast.Import):
                    out += [(inner.lineno, alias.name) for alias in inner.names]
    return out


def _said_lazy(lines: list[str], index: int) -> bool:
    """The import at `index`, or the run of imports and comments just above it, says `lazy`."""
    while index >= 0:
        text = lines[index].strip()
        if "lazy" in text:
            return True
        if not text.startswith(("import ", "from ", "#")):
            return False
        index -= 1
    return False


def test_imports_sit_at_the_top_except_commented_lazy_ones() -> None:
    """A function-level import is allowed only for a heavy or optional dependency, said so."""
    unexplained = []
    for path in _python_files(SRC):
        lines = path.read_text().splitlines()
        for number, module in _function_imports(path):
            if not _said_lazy(lines, number - 1):
                unexplained.append(f"{path.relative_to(ROOT)}:{number}: {module}")
    assert unexplained == [], "imports inside functions without a `lazy:` reason:\n" + "\n".join(
        unexplained
    )


def test_no_issue_numbers_in_code_or_docs() -> None:
    """A reader of the repository cannot look up "issue 4"; name the behaviour instead."""
    roots = [SRC, ROOT / "tests", ROOT / "bench", ROOT / "docs", ROOT / "orchestration"]
    files = [p for r in roots for p in r.rglob("*") if p.suffix in (".py", ".md", ".sql")]
    files += [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    pattern = re.compile(r"\bissues? \d|\bissue #\d", re.IGNORECASE)
    hits = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in files
        if "vendor" not in p.parts and p != Path(__file__)
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert hits == [], "\n".join(hits)


@pytest.mark.timeout(120)
def test_the_layer_contract_refuses_an_upward_import(tmp_path: Path) -> None:
    """import-linter on a copy of src with one ingest module importing ops: it must fail."""
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [str(Path(sys.executable).with_name("lint-imports"))]
    env = {"PYTHONPATH": str(tmp_path / "src"), "PATH": str(Path(sys.executable).parent)}
    clean = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout[-2000:]
    victim = tmp_path / "src" / "superstore" / "ingest" / "dlq.py"
    victim.write_text(victim.read_text() + "\nfrom superstore.ops import metrics  # noqa\n")
    broken = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert broken.returncode != 0
    assert "superstore.ingest.dlq -> superstore.ops.metrics" in broken.stdout
