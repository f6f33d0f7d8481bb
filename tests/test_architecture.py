"""The package's layers (DESIGN.md §2) hold: import-linter's contract in pyproject.toml, no import cycles between
modules, and the library neither prints nor touches the environment (that is the CLI's edge)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hpsearch"
CONTRACT = ROOT / "pyproject.toml"


def lint(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the package under `root` (its pyproject.toml), in a fresh interpreter that imports it."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_layers_contract_is_kept():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 kept, 0 broken" in r.stdout


@pytest.mark.parametrize("module, forbidden", [
    ("config/train.py", "hpsearch.cli.flags"),  # config is below everything
    ("trainer/fit.py", "hpsearch.engine.plan"),  # the trainer does not know the engine
    ("engine/stage.py", "hpsearch.report.search"),  # engine and report are independent siblings
    ("data/split.py", "hpsearch.trainer.fit"),  # so are data and the trainer
])
def test_a_forbidden_import_breaks_the_contract(tmp_path, module, forbidden):
    """The check can fail: the same package with one upward (or sideways) import added is refused."""
    shutil.copytree(PACKAGE, tmp_path / "hpsearch", ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    shutil.copy(CONTRACT, tmp_path / "pyproject.toml")
    target = tmp_path / "hpsearch" / module
    target.write_text(target.read_text() + f"\n\ndef _late():\n    import {forbidden}  # noqa: F401\n")
    r = lint(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "BROKEN" in r.stdout and forbidden in r.stdout


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module in the direct-import graph (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    modules = sorted(graph.modules)

    def visit(m: str) -> None:
        index[m] = low[m] = counter[0]
        counter[0] += 1
        stack.append(m)
        on.add(m)
        for n in sorted(graph.find_modules_directly_imported_by(m)):
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            comp = []
            while True:
                n = stack.pop()
                on.discard(n)
                comp.append(n)
                if n == m:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for m in modules:
        if m not in index:
            visit(m)
    return out


def test_no_module_imports_itself_back_through_others():
    """No cycles, counting the imports made inside functions too (they are cycles all the same)."""
    assert _cycles(grimp.build_graph("hpsearch", cache_dir=None)) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(m)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph) == [["p.a", "p.b"]]


def _library_files():
    return [p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts[:1]
            and p.name != "__main__.py"]


def test_the_library_does_not_print_or_touch_the_environment():
    """print() and os.environ belong to the CLI: the library reports through return values and callbacks,
    and takes its options as a record (config.runtime). One read is allowed: a --jobs child's environment is
    this process's plus explicit variables (engine/workers.py)."""
    found = []
    for path in _library_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                found.append(f"{where} print()")
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "putenv", "unsetenv", "getenv"):
                if not (path.name == "workers.py" and node.attr == "environ"):
                    found.append(f"{where} os.{node.attr}")
    assert found == []


def test_modules_are_imported_by_name_not_one_letter_aliases():
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    if a.asname is not None and len(a.asname) <= 2 and a.asname not in ("np",):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} as {a.asname}")
    assert found == []


def test_every_module_says_what_it_owns():
    missing = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
               if p.name != "__main__.py" and not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []
