"""The import graph: no import cycle (imports inside functions included), the core never imports the bench,
and no module uses another package's private (underscore) names."""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Literal

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "latentbridge"
# modules allowed to import latentbridge.bench: the bench itself and the command line (augment stands on
# the campaign kernel and latentbridge.stats, beside the bench)
_BENCH_USERS = ("latentbridge.bench", "latentbridge.cli")
#: Most lines a source file may have.
_MAX_LINES = 600

Scope = Literal["module", "runtime", "any"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _from_target(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` statement imports from, fully qualified."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _resolve(module: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    """Fully qualified latentbridge modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "latentbridge"]
    target = _from_target(module, is_package, node)
    if target.split(".")[0] != "latentbridge":
        return []
    out = []
    for alias in node.names:  # `from . import x` loads the submodule x when there is one
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in MODULES else target)
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported (not in functions, classes or TYPE_CHECKING blocks)."""
    out: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            out += _top_level_imports(node.body) + _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            out += _top_level_imports(node.body)
            for handler in node.handlers:
                out += _top_level_imports(handler.body)
            out += _top_level_imports(node.orelse) + _top_level_imports(node.finalbody)
    return out


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Imports that can run: at module level or inside functions and classes, not in TYPE_CHECKING blocks."""
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
        else:
            for child in ast.iter_child_nodes(node):
                visit(child)

    visit(tree)
    return out


def _imports(tree: ast.Module, scope: Scope) -> list[ast.Import | ast.ImportFrom]:
    """``"module"``: run at import time; ``"runtime"``: anywhere but TYPE_CHECKING blocks; ``"any"``: every one."""
    if scope == "module":
        return _top_level_imports(tree.body)
    if scope == "runtime":
        return _runtime_imports(tree)
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


@functools.cache
def _graph(scope: Scope) -> dict[str, set[str]]:
    """Each latentbridge module and the latentbridge modules it imports (see :func:`_imports` for ``scope``)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps: set[str] = set()
        for node in _imports(tree, scope):
            deps.update(d for d in _resolve(name, path.name == "__init__.py", node) if d in MODULES and d != name)
        graph[name] = deps
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_graph_sees_the_package() -> None:
    graph = _graph("module")
    assert "latentbridge.pymoo._solve" in graph
    assert "latentbridge._tracking" in graph["latentbridge.pymoo._solve"]
    assert "latentbridge._solvers" in graph["latentbridge._builtins"]
    assert "latentbridge.nevergrad._driver" in graph["latentbridge.nevergrad"]
    assert "latentbridge._builtins" not in graph["latentbridge._plugins"]  # imported when the registry is built
    assert "latentbridge._builtins" in _graph("runtime")["latentbridge._plugins"]
    assert "latentbridge._problems" not in _graph("runtime")["latentbridge._tracking"]  # TYPE_CHECKING only
    assert "latentbridge._problems" in _graph("any")["latentbridge._tracking"]


def test_no_cycle_among_module_level_imports() -> None:
    cycle = _find_cycle(_graph("module"))
    assert cycle is None, " -> ".join(cycle or [])


def test_no_cycle_counting_imports_inside_functions() -> None:
    """A cycle closed by an import inside a function is still a cycle: it only moves where the import fails."""
    cycle = _find_cycle(_graph("runtime"))
    assert cycle is None, " -> ".join(cycle or [])


def test_find_cycle_finds_one() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith(_BENCH_USERS)))
def test_core_never_imports_the_bench(name: str) -> None:
    deps = _graph("any")[name]
    assert not {d for d in deps if d.startswith("latentbridge.bench")}, f"{name} imports the bench"


# -- private names stay in their package ----------------------------------------------------------
#: Known uses of another package's private names, as (user, "module.name"); each is a violation to remove.
ALLOWED_PRIVATE_USES: frozenset[tuple[str, str]] = frozenset()  # none: keep it that way


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _private_owner(dotted: str) -> str | None:
    """The package that owns the innermost private part of ``dotted`` (where it may be used), or None.

    A private module or name belongs to the nearest package above it: ``latentbridge._validation``
    to ``latentbridge`` (so every subpackage may use it), ``latentbridge.models.train._augment`` to
    ``latentbridge.models``, ``latentbridge.nevergrad._names.lookup`` to ``latentbridge.nevergrad``.
    """
    parts = dotted.split(".")
    owner = None
    for i, part in enumerate(parts):
        if _is_private(part):
            above = parts[:i]
            while above and not (".".join(above) in MODULES and MODULES[".".join(above)].name == "__init__.py"):
                above.pop()
            owner = ".".join(above)
    return owner


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _private_uses(name: str, path: Path) -> set[str]:
    """Every ``latentbridge...`` dotted name the module imports, or reads as an attribute of a module it imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    used: set[str] = set()
    modules: dict[str, str] = {}  # local name -> the latentbridge module bound to it
    for node in _imports(tree, "any"):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "latentbridge":
                    used.add(alias.name)
                    modules[alias.asname or "latentbridge"] = alias.name if alias.asname else "latentbridge"
            continue
        target = _from_target(name, is_package, node)
        if target.split(".")[0] != "latentbridge":
            continue
        for alias in node.names:
            if alias.name == "*":
                continue
            full = f"{target}.{alias.name}"
            used.add(full)
            if full in MODULES:
                modules[alias.asname or alias.name] = full
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            used.add(f"{modules[node.value.id]}.{node.attr}")
    return used


def _foreign_private_uses() -> set[tuple[str, str]]:
    out = set()
    for name, path in MODULES.items():
        for dotted in _private_uses(name, path):
            owner = _private_owner(dotted)
            if owner is not None and not _inside(name, owner):
                out.add((name, dotted))
    return out


def test_private_owner() -> None:
    assert _private_owner("latentbridge.models.train._augment") == "latentbridge.models"
    assert _private_owner("latentbridge.nevergrad._names.lookup") == "latentbridge.nevergrad"
    assert _private_owner("latentbridge.nevergrad._names._helper") == "latentbridge.nevergrad"
    assert _private_owner("latentbridge._validation.check_positive_int") == "latentbridge"
    assert _private_owner("latentbridge._plugins._state") == "latentbridge"
    assert _private_owner("latentbridge.errors.InputError") is None
    assert _private_owner("latentbridge.__version__") is None


def test_private_uses_sees_imports_and_module_attributes(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(
        "import latentbridge.nevergrad as lbng\n"
        "from .models.train import _augment\n"
        "from . import nevergrad as lb_ng, _validation\n"
        "def f():\n"
        "    from .pymoo import _make\n"
        "    return lb_ng._driver, lb_ng.minimize, lbng._names, _validation.check_positive_int\n"
    )
    user = "latentbridge.mod"
    used = _private_uses(user, path)
    assert {"latentbridge.nevergrad.minimize", "latentbridge._validation.check_positive_int"} <= used
    foreign = {d for d in used if (owner := _private_owner(d)) is not None and not _inside(user, owner)}
    assert foreign == {
        "latentbridge.models.train._augment",
        "latentbridge.nevergrad._driver",
        "latentbridge.nevergrad._names",
        "latentbridge.pymoo._make",
    }


def test_no_module_uses_another_packages_private_names() -> None:
    """A private name (``_x``) is used inside the package that holds it; other packages use its public API.

    The private modules of the top-level package (``latentbridge._validation``, ``latentbridge._problems``)
    serve every subpackage.
    """
    found = _foreign_private_uses()
    new = sorted(found - ALLOWED_PRIVATE_USES)
    assert not new, "\n".join(f"{user} uses {dotted}" for user, dotted in new)
    stale = sorted(ALLOWED_PRIVATE_USES - found)
    assert not stale, f"no longer used, remove from ALLOWED_PRIVATE_USES: {stale}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_the_line_limit(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= _MAX_LINES, f"{MODULES[name]} has {lines} lines (at most {_MAX_LINES}): split it by job"
