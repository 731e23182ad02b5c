"""The layering of DESIGN.md: snn imports none of its siblings, nor torch or lava."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIBLINGS = {"hardware", "tasks", "energy"}


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_snn_imports_no_sibling_package_except_the_cli():
    for path in (ROOT / "snn").rglob("*.py"):
        if path.name == "cli.py":
            continue
        bad = _imports(path) & SIBLINGS
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_siblings_import_only_snn():
    for pkg in SIBLINGS:
        for path in (ROOT / pkg).rglob("*.py"):
            bad = _imports(path) & (SIBLINGS - {pkg})
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_import_snn_does_not_import_torch_or_lava():
    code = "import sys, snn; bad = [m for m in ('torch', 'lava', 'brian2', 'hardware', 'tasks', 'energy') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stdout + out.stderr
