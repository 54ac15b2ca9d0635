"""The layout rules of docs/architecture.md, checked on the source: imports of ``chinchilla_datasets/``
and ``builders/`` (parsed with ``ast``, function-level imports included) form no cycle; no module is
over ``MAX_LINES`` lines; private ``datasets`` internals are touched in one module at most
(``chinchilla_datasets/datasets_adapter.py``). The checkers are also run on small packages written
into ``tmp_path`` that break each rule, so that they are known to fail when they should."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("chinchilla_datasets", "builders")
MAX_LINES = 700
ADAPTER = "chinchilla_datasets.datasets_adapter"
# Submodules of ``datasets`` that are not its documented API (``datasets.table``, ...), and
# attributes of its objects that are private or undocumented.
PRIVATE_DATASETS_MODULES = {
    "arrow_dataset", "arrow_reader", "arrow_writer", "builder", "config", "data_files", "fingerprint",
    "formatting", "info", "io", "iterable_dataset", "naming", "packaged_modules", "table", "utils",
}
PRIVATE_DATASETS_ATTRIBUTES = {"_indices", "_data", "_fingerprint", "_format_type", "_output_all_columns", "replays"}


# The floors of docs/architecture.md in import order: a module may import its own floor or lower ones.
# A module not listed here is checked for cycles only (add new modules).
FLOOR_ORDER = ["contracts", "sources", "views", "builders", "storage", "flags", "collection", "release", "cli"]
FLOORS = {
    "chinchilla_datasets.schema": "contracts",
    "chinchilla_datasets.corpus": "contracts",
    "chinchilla_datasets.cblue": "contracts",
    "chinchilla_datasets.outputs": "contracts",
    "chinchilla_datasets.datasets_adapter": "contracts",
    "chinchilla_datasets.llm": "contracts",  # imports nothing of the library: any floor may use the client
    "chinchilla_datasets.sources": "sources",
    "chinchilla_datasets.archives": "sources",
    "chinchilla_datasets.spans": "sources",
    "chinchilla_datasets.conform": "sources",
    "chinchilla_datasets.duee_events": "sources",
    "chinchilla_datasets.spo": "sources",
    "chinchilla_datasets": "views",  # the package: re-exports parse_output
    "chinchilla_datasets.instruct": "views",
    "chinchilla_datasets.instruct.*": "views",
    "chinchilla_datasets.base": "builders",
    "chinchilla_datasets.tagged": "builders",
    "chinchilla_datasets.nre": "builders",
    "chinchilla_datasets.registry": "builders",
    "chinchilla_datasets.download": "builders",
    "builders": "builders",
    "builders.*": "builders",
    "chinchilla_datasets.parquet_io": "storage",
    "chinchilla_datasets.mixtures": "storage",
    "chinchilla_datasets.outdir": "storage",
    "chinchilla_datasets.dedup": "flags",
    "chinchilla_datasets.card": "flags",
    "chinchilla_datasets.qc": "flags",
    "chinchilla_datasets.qc.*": "flags",
    "chinchilla_datasets.collection": "collection",
    "chinchilla_datasets.publish": "release",
    "chinchilla_datasets.exports": "release",
    "chinchilla_datasets.score": "release",
    "chinchilla_datasets.audit": "release",
    "chinchilla_datasets.iepile": "release",
    "chinchilla_datasets.predict": "release",
    "chinchilla_datasets.translate": "release",  # reads a corpus through its builder, asks the model through llm
    "chinchilla_datasets.cli": "cli",
}


def floor_of(module: str):
    if module in FLOORS:
        return FLOOR_ORDER.index(FLOORS[module])
    package = module.rpartition(".")[0]
    while package:
        if f"{package}.*" in FLOORS:
            return FLOOR_ORDER.index(FLOORS[f"{package}.*"])
        package = package.rpartition(".")[0]
    return None


def upward_imports(graph: dict) -> list:
    """``(module, imported)`` pairs where a module imports a higher floor than its own."""
    return sorted(
        (name, target)
        for name, targets in graph.items()
        for target in targets
        if floor_of(name) is not None and floor_of(target) is not None and floor_of(target) > floor_of(name)
    )


def modules_of(root: Path, packages=PACKAGES) -> dict:
    """``{dotted module name: path}`` of every ``.py`` file under ``root/<package>/``."""
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: dict) -> set:
    """The modules of ``known`` that module ``name`` imports (anywhere in the file)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import a.b.c``: the deepest known module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path, packages=PACKAGES) -> dict:
    known = modules_of(root, packages)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(graph: dict):
    """One import cycle as a list of modules ``[a, b, ..., a]``, or None."""
    state: dict = {}  # module -> 1 while on the stack, 2 when done
    stack: list = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def long_modules(root: Path, packages=PACKAGES, limit: int = MAX_LINES) -> dict:
    return {
        name: n for name, path in modules_of(root, packages).items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > limit
    }


def private_datasets_uses(path: Path) -> list:
    """Where a file uses private ``datasets`` internals: ``[(line, what)]``."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("datasets."):
            if node.module.split(".")[1] in PRIVATE_DATASETS_MODULES:
                uses.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "datasets" and len(parts) > 1 and parts[1] in PRIVATE_DATASETS_MODULES:
                    uses.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "datasets" and node.attr in PRIVATE_DATASETS_MODULES:
                uses.append((node.lineno, f"datasets.{node.attr}"))
            elif node.attr in PRIVATE_DATASETS_ATTRIBUTES:
                uses.append((node.lineno, f".{node.attr}"))
    return uses


def modules_using_private_datasets(root: Path, packages=PACKAGES) -> dict:
    return {name: uses for name, path in modules_of(root, packages).items() if (uses := private_datasets_uses(path))}


# ---------------------------------------------------------------- the rules, on the project


def test_the_import_graph_has_no_cycle():
    graph = import_graph(ROOT)
    assert "chinchilla_datasets.collection" in graph and graph["chinchilla_datasets.collection"]  # the parser sees imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_imports_point_down_the_floors():
    graph = import_graph(ROOT)
    assert upward_imports(graph) == []
    # Every module of today's layout is placed; a new one is checked once it is added to FLOORS.
    assert floor_of("chinchilla_datasets.instruct.renderer") is not None and floor_of("builders.duie") is not None


def test_the_build_loop_is_imported_by_no_lower_floor():
    graph = import_graph(ROOT)
    importers = sorted(name for name, targets in graph.items() if "chinchilla_datasets.collection" in targets)
    assert importers == ["chinchilla_datasets.cli"], importers
    for lower in ("card", "dedup", "publish", "audit", "mixtures", "parquet_io", "outputs"):
        assert "chinchilla_datasets.collection" not in graph[f"chinchilla_datasets.{lower}"], lower


def test_no_module_is_over_the_line_limit():
    assert long_modules(ROOT) == {}


def test_private_datasets_internals_are_used_in_the_adapter_only():
    users = modules_using_private_datasets(ROOT)
    assert set(users) <= {ADAPTER}, users
    assert users.get(ADAPTER), "the adapter no longer uses any private internals: check PRIVATE_DATASETS_*"


# ---------------------------------------------------------------- the checkers fail when they should


def write_package(root: Path, files: dict) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checkers_catch_a_cycle_a_long_module_and_private_internals(tmp_path):
    write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from .b import thing\n",
        "pkg/b.py": "def f():\n    from pkg.sub import c  # a lazy import still closes the circle\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from .. import a\nimport datasets\nx = datasets.table.InMemoryTable\n",
        "pkg/d.py": "from datasets.arrow_writer import get_parquet_column_options\n" + "y = 1\n" * 30,
        "pkg/e.py": "def f(ds):\n    return ds._indices\n",
        "pkg/clean.py": "import datasets\nfrom . import a\nds = datasets.Dataset.from_dict({})\n",
    })
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.sub.c"] == {"pkg.a"} and graph["pkg.b"] == {"pkg.sub.c"} and graph["pkg.clean"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    assert long_modules(tmp_path, ("pkg",), limit=30) == {"pkg.d": 31}
    assert set(modules_using_private_datasets(tmp_path, ("pkg",))) == {"pkg.sub.c", "pkg.d", "pkg.e"}

    assert upward_imports({"chinchilla_datasets.card": {"chinchilla_datasets.collection"}}) == [("chinchilla_datasets.card", "chinchilla_datasets.collection")]
    assert upward_imports({"chinchilla_datasets.collection": {"chinchilla_datasets.card"}}) == []

    (tmp_path / "pkg/sub/c.py").write_text("import datasets\n", encoding="utf-8")  # circle broken
    assert find_cycle(import_graph(tmp_path, ("pkg",))) is None
