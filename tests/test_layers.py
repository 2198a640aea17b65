"""The layout keeps the architecture: layers import downwards only, every module
lives in a layer folder, modules stay small, and the Smart Energy ids have one home.

Layers, bottom to top (docs/architecture.md draws them)::

    clusters < meter < crypto < readout < frames < air < server < radio
             < sim < replay < han < conform < study < tui < cli

A module imports from its own layer or lower ones, inside functions and under
``TYPE_CHECKING`` too (a lazy import is still a dependency).  A project module
named as text for ``importlib`` counts as imported.

``clusters`` and ``han_emu/meter`` stay pure: no I/O, no asyncio.

The package itself: ``han_emu/__init__.py`` holds only ``__version__`` and
imports nothing from the project, so any layer may read ``__version__`` from it
and nothing else; ``han_emu/__main__.py`` sits above ``cli`` (it starts the
command).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("han_emu", "clusters")

LAYERS: tuple[str, ...] = (
    "clusters", "meter", "crypto", "readout",
    "frames", "air", "server", "radio", "sim", "replay", "han", "conform", "study", "tui", "cli",
)
#: ``python -m han_emu`` starts the command line: above every layer.
MAIN = "__main__"
RANK = {name: i for i, name in enumerate((*LAYERS, MAIN))}
#: What any layer may import from the package root: nothing but its version.
ROOT_NAMES = frozenset({"__version__"})
#: Repository folders that are not part of the product.
NOT_PRODUCT = ("tests", "benchmarks")

MAX_LINES = 700
#: Modules allowed over MAX_LINES, each with its reason: declarative tables only.
LONG_MODULES: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    imported: str  # the imported module (or the package root ``han_emu``), dotted
    line: int

    def __str__(self) -> str:
        return f"{self.module} -> {self.imported} (line {self.line})"


def source_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` names a module or package of this repository."""
    base = REPO.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings or bare string statements."""
    return {
        id(node.value) for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }


def imports_of(path: Path) -> Iterator[Import]:
    """Every project import in ``path``: statements anywhere in the module (relative
    ones resolved), and module names written as text (for ``importlib``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                yield Import(name, full if _is_module(full) else source, node.lineno)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
              and node.value.startswith(tuple(f"{p}." for p in PACKAGES)) and _is_module(node.value)):
            yield Import(name, node.value, node.lineno)


def layer_of(dotted: str) -> str | None:
    """The layer of a project module; None for third-party ones.

    ``han_emu`` itself is its own root; a module straight under ``han_emu/`` other
    than ``__main__`` has no layer and is reported as ``han_emu:<name>``.
    """
    parts = dotted.split(".")
    if parts[0] == "clusters":
        return "clusters"
    if parts[0] in NOT_PRODUCT:
        return parts[0]
    if parts[0] != "han_emu":
        return None
    if len(parts) == 1:
        return "han_emu"
    if parts[1] in RANK:
        return parts[1]
    return f"han_emu:{parts[1]}"


def project_imports() -> list[Import]:
    found = (imp for path in source_files() for imp in imports_of(path) if layer_of(imp.imported) is not None)
    return list(dict.fromkeys(found))


def _report(title: str, offences: list[Import] | list[str]) -> str:
    return "\n".join([title, *(f"  {o}" for o in offences)])


def test_every_module_lives_in_a_layer_folder() -> None:
    stray = [
        str(p.relative_to(REPO)) for p in (REPO / "han_emu").iterdir()
        if (p.suffix == ".py" and p.stem not in ("__init__", MAIN))
        or (p.is_dir() and p.name not in LAYERS and p.name != "__pycache__" and any(p.rglob("*.py")))
    ]
    assert not stray, _report("modules outside a layer folder:", sorted(stray))


def test_imports_point_down_the_layers() -> None:
    upward = []
    for imp in project_imports():
        own, other = layer_of(imp.module), layer_of(imp.imported)
        if other == "han_emu" or own == "han_emu":
            continue  # the package root: test_the_package_root_is_a_leaf
        if own not in RANK or other not in RANK or RANK[other] > RANK[own]:
            upward.append(imp)
    assert not upward, _report("imports of a higher layer, of tests, or of a stray module:", upward)


def test_no_cycles_between_layers() -> None:
    edges: dict[str, dict[str, list[Import]]] = {}
    for imp in project_imports():
        own, other = layer_of(imp.module), layer_of(imp.imported)
        if own and other and own != other:
            edges.setdefault(own, {}).setdefault(other, []).append(imp)
    cycles = [component for component in _strongly_connected(edges) if len(component) > 1]
    # Within a cycle, the imports against the layer order are the ones to remove.
    offences = [
        imp for component in cycles for a in sorted(component) for b in sorted(component)
        if RANK.get(b, len(RANK)) > RANK.get(a, len(RANK)) for imp in edges.get(a, {}).get(b, [])
    ]
    assert not cycles, _report(
        "layers importing each other: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles), offences)


def _strongly_connected(edges: dict[str, dict[str, list[Import]]]) -> list[set[str]]:
    """Tarjan's algorithm over the layer graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                component.add(top)
                if top == node:
                    break
            found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_package_root_is_a_leaf() -> None:
    """``han_emu/__init__.py`` imports nothing of the project; others take only
    ``__version__`` from it (never ``import han_emu`` for its contents)."""
    offences = []
    root = REPO / "han_emu" / "__init__.py"
    offences += [imp for imp in imports_of(root) if layer_of(imp.imported) is not None]
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "han_emu" and not node.level:
                names = {a.name for a in node.names if not _is_module(f"han_emu.{a.name}")}
                if names - ROOT_NAMES:
                    offences.append(Import(module_name(path), f"han_emu ({', '.join(sorted(names))})", node.lineno))
            elif isinstance(node, ast.Import):
                offences += [Import(module_name(path), "han_emu", node.lineno)
                             for a in node.names if a.name == "han_emu"]
    assert not offences, _report("imports of the package root beyond __version__:", offences)


def test_no_module_over_700_lines() -> None:
    sizes = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines()) for p in source_files()}
    long = [f"{path}: {n} lines" for path, n in sorted(sizes.items()) if n > MAX_LINES and path not in LONG_MODULES]
    assert not long, _report(f"modules over {MAX_LINES} lines (split them by what they hold):", long)
    stale = [path for path in LONG_MODULES if sizes.get(path, 0) <= MAX_LINES]
    assert not stale, _report("allowlisted long modules that are gone or short now:", stale)


# -- one home for the Smart Energy ids ----------------------------------------------------------

IDS_HOME = "clusters/ids.py"
SINGLE_HOME_IDS = {0x0109: "Smart Energy profile id", 0x0800: "Key Establishment cluster id"}
#: Names that say a constant is something else with the same number (a frame-control
#: bit, an ethertype, an attribute id, a tier register ...): not a definition of the id.
OTHER_MEANING = re.compile(r"MASK|FLAG|BIT|(^|_)FC(_|$)|ETHER|ATTR|TIER|REGISTER", re.IGNORECASE)


def _target_names(node: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id if isinstance(t, ast.Name) else t.attr for t in targets if isinstance(t, (ast.Name, ast.Attribute))]


def id_definitions(path: Path) -> Iterator[tuple[int, str, int]]:
    """(value, name, line) for each name or class attribute bound to one of the ids'
    literal values; uses of the number in expressions are not definitions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            value = node.value.value
            if type(value) is int and value in SINGLE_HOME_IDS:
                for name in _target_names(node):
                    if not OTHER_MEANING.search(name):
                        yield value, name, node.lineno


def test_se_profile_and_key_establishment_ids_have_one_home() -> None:
    found: dict[int, list[str]] = {value: [] for value in SINGLE_HOME_IDS}
    for path in source_files():
        for value, name, line in id_definitions(path):
            found[value].append(f"{path.relative_to(REPO)}: {name} = {value:#06x} (line {line})")
    problems = []
    for value, what in SINGLE_HOME_IDS.items():
        homes = [d for d in found[value] if d.startswith(f"{IDS_HOME}:")]
        others = [d for d in found[value] if not d.startswith(f"{IDS_HOME}:")]
        if len(homes) != 1:
            problems.append(f"{what} {value:#06x} defined {len(homes)} times in {IDS_HOME}")
        problems += [f"{what} defined outside {IDS_HOME} (import it from there): {d}" for d in others]
    assert not problems, _report("ids with more than one home:", problems)


# -- the pure layers ------------------------------------------------------------------------------

PURE = ("clusters", "han_emu/meter")
#: Standard modules that do I/O or run event loops and threads.
IMPURE_MODULES = frozenset({
    "asyncio", "io", "os", "pathlib", "shutil", "tempfile", "socket", "selectors", "ssl", "serial",
    "subprocess", "threading", "multiprocessing", "sqlite3", "logging", "sys",
})
IMPURE_CALLS = frozenset({"open", "print", "input"})


def test_clusters_and_meter_stay_pure() -> None:
    """The spec as code and the meter model do no I/O and run no event loop: they
    take a clock and give values, so every source and test can drive them."""
    offences = []
    for path in sorted(p for folder in PURE for p in (REPO / folder).rglob("*.py")):
        name = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                offences += [f"{name} -> {a.name} (line {node.lineno})"
                             for a in node.names if a.name.split(".")[0] in IMPURE_MODULES]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                if node.module.split(".")[0] in IMPURE_MODULES:
                    offences.append(f"{name} -> {node.module} (line {node.lineno})")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IMPURE_CALLS:
                offences.append(f"{name} calls {node.func.id}() (line {node.lineno})")
            elif isinstance(node, (ast.AsyncFunctionDef, ast.Await)):
                offences.append(f"{name} is asynchronous (line {node.lineno})")
    assert not offences, _report("I/O or asyncio in a pure layer:", offences)
