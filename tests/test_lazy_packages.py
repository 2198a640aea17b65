"""The packages that load their names on first use (PEP 562) list each name in
``_HOMES``, which the loader and ``__all__`` read, and again in a
``TYPE_CHECKING`` import for readers and type checkers: the two must agree,
and every name must load from the home it names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAZY = ("clusters", "han_emu.frames", "han_emu.replay", "han_emu.air")


def _type_checking_names(package: str) -> set[str]:
    source = ROOT.joinpath(*package.split("."), "__init__.py").read_text()
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom):
                    names.update(alias.asname or alias.name for alias in stmt.names)
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    names.add(stmt.target.id)  # a name the package builds itself, declared for its type
    return names


@pytest.mark.parametrize("package", LAZY)
def test_the_type_checking_imports_name_what_the_package_exports(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    declared = _type_checking_names(package) - {"Cluster"}  # a type used only in an annotation
    assert declared == exported, f"{package}: only in TYPE_CHECKING {sorted(declared - exported)}, " \
                                 f"only in __all__ {sorted(exported - declared)}"


@pytest.mark.parametrize("package", LAZY)
def test_every_exported_name_loads(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module._HOMES) <= set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None
