"""The house has one way through it: read from the code's own imports (AST), every module, imports
inside functions included.

* Between packages, imports go one way: ``structures`` ← ``descriptors`` ← ``workflows`` ← ``launch``
  (a package may import those to its left, never those to its right).
* Inside ``descriptors``, its sub-packages go one way too: ``physics`` ← ``records`` ← ``store`` ←
  ``ingest`` ← ``query`` ← ``report``: the physics knows no rows, the rows no database, the
  database no query language, the query language no report.
* No module imports, directly or through others, a module that imports it (no cycle), in any
  package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("structures", "descriptors", "workflows", "launch")
LAYER = {name: k for k, name in enumerate(PACKAGES)}
DESCRIPTOR_LAYERS = ("physics", "records", "store", "ingest", "query", "report")


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    return {_module_name(p, root): p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))}


def imports_of(path: Path, name: str, known: set[str]) -> list[tuple[str, int]]:
    """(imported project module, line) for every import statement in the file, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            # the longest project module the name starts with: 'descriptors.store.database.X' → its module
            parts = target.split(".")
            for k in range(len(parts), 0, -1):
                candidate = ".".join(parts[:k])
                if candidate in known:
                    if candidate != name:
                        found.append((candidate, node.lineno))
                    break
    return sorted(set(found))


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = project_modules(root)
    known = set(modules)
    return {name: {target for target, _ in imports_of(path, name, known)} for name, path in modules.items()}


def _package_layer(module: str) -> int:
    return LAYER[module.split(".")[0]]


def _descriptor_layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "descriptors" or len(parts) < 2:
        return None
    return DESCRIPTOR_LAYERS.index(parts[1]) if parts[1] in DESCRIPTOR_LAYERS else None


def direction_violations(root: Path = ROOT) -> list[str]:
    modules = project_modules(root)
    known = set(modules)
    bad = []
    for name, path in modules.items():
        for target, line in imports_of(path, name, known):
            if _package_layer(target) > _package_layer(name):
                bad.append(f"{path.relative_to(root)}:{line}: {name} imports {target} (a higher package)")
                continue
            mine, theirs = _descriptor_layer(name), _descriptor_layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                bad.append(f"{path.relative_to(root)}:{line}: {name} imports {target} (a higher layer of descriptors)")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_imports_go_one_way_between_packages_and_descriptor_layers():
    bad = direction_violations()
    assert not bad, "imports against the one direction:\n" + "\n".join(bad)


def test_no_module_imports_itself_through_others():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_check_sees_imports_inside_functions_and_relative_imports(tmp_path):
    """The check itself, on a made-up tree: a function-level import that goes the wrong way and a
    two-module cycle hidden in functions are both caught."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "structures" / "a.py").write_text("def f():\n    from workflows.b import g\n")
    (tmp_path / "workflows" / "b.py").write_text("def g():\n    from . import c\n")
    (tmp_path / "workflows" / "c.py").write_text("def h():\n    import workflows.b\n")
    assert any("structures.a imports workflows.b" in line for line in direction_violations(tmp_path))
    assert ["workflows.b", "workflows.c"] in cycles(import_graph(tmp_path))


def test_no_descriptor_module_is_long_without_saying_why():
    """A module of descriptors/ over 400 lines states in its docstring why it is one module."""
    long = []
    for path in sorted((ROOT / "descriptors").rglob("*.py")):
        lines = path.read_text().count("\n")
        if lines > 400:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            if "one module" not in doc.lower():
                long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, "\n".join(long)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_parses(package):
    for path in (ROOT / package).rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))
