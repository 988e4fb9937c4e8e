"""No module of ``shared/dummi`` over 500 lines and no function over 80 (issue 32): past those sizes a module
holds more than one concern and a function more than one step. The failure names every offender."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "dummi"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE.parents[1]).as_posix()


def _functions(tree: ast.AST) -> list[tuple[str, int, int]]:
    """(qualified name, first line, lines) of every function and method, nested ones included; a function's
    lines run from its ``def`` (decorators not counted) to its last statement."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found.append((name, child.lineno, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def test_the_package_is_found():
    assert (PACKAGE / "__init__.py").is_file() and len(_modules()) > 50


def test_no_module_over_500_lines():
    long = []
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            long.append(f"{_name(path)}: {lines} lines")
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by concern):\n" + "\n".join(long)


def test_no_function_over_80_lines():
    long = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, line, lines in _functions(tree):
            if lines > MAX_FUNCTION_LINES:
                long.append(f"{_name(path)}:{line} {name}: {lines} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (name their steps):\n" + "\n".join(long)


def test_the_walk_counts_methods_and_nested_functions():
    tree = ast.parse(
        "class A:\n    def m(self):\n        def inner():\n            pass\n        return inner\n"
        "async def f():\n    x = 1\n\n    return x\n"
    )
    assert _functions(tree) == [("A.m", 2, 4), ("A.m.inner", 3, 2), ("f", 6, 4)]
