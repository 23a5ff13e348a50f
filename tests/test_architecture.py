"""The package's shape: layers that import only downwards, and no import cycle.

Every import is read from the source (module level and inside functions alike),
so a low layer cannot reach a high one "lazily to avoid a cycle".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklattn"

# Lower number = lower layer. A module may import its own layer and any below.
LAYERS = {
    "_version": 0,
    "_io": 1,
    "_core": 2,
    "_text": 3,
    "_tabular": 3,
    "_cli": 4,
    "_plotting": 4,
}
PUBLIC_LAYER = 4  # callbacks.py, plotting.py, datasets.py, cli.py, accelerate.py
TOP_LAYER = 5  # __init__.py, __main__.py
SIBLINGS_APART = {frozenset({"_text", "_tabular"})}  # two task families, neither above the other


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """sklattn modules (or packages) that ``path`` imports, resolved to absolute names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("sklattn"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("sklattn"):
                continue
            found.add(target)
            for alias in node.names:  # "from . import x" may name a submodule
                candidate = f"{target}.{alias.name}"
                if _exists(candidate):
                    found.add(candidate)
    found.discard(name)
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _layer(module: str) -> tuple[int, str]:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__",):
        return TOP_LAYER, "sklattn"
    head = parts[1]
    return LAYERS.get(head, PUBLIC_LAYER), head


def _graph() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_private_module_lives_in_a_layer_folder():
    loose = sorted(
        path.name for path in PACKAGE.glob("_*.py")
        if path.stem not in ("__init__", "__main__") and path.stem not in LAYERS
    )
    assert loose == [], f"private modules outside a layer folder: {loose}"
    for folder in PACKAGE.iterdir():
        if folder.is_dir() and (folder / "__init__.py").exists():
            assert folder.name in LAYERS, f"{folder.name}/ is not assigned to a layer in this test"


def test_no_module_imports_a_higher_layer():
    violations = []
    for module, targets in _graph().items():
        own, own_family = _layer(module)
        for target in targets:
            level, family = _layer(target)
            if level > own or frozenset({own_family, family}) in SIBLINGS_APART:
                violations.append(f"{module} -> {target}")
    assert violations == []


def test_no_import_cycle():
    graph = _graph()
    # Package __init__ files re-export their contents; an import of a package means its __init__.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    # The top-level package imports everything and is imported by nothing inside.
    assert [c for c in cycles if "sklattn" not in c] == [], cycles


@pytest.mark.parametrize("module", ["sklattn._io.format", "sklattn._io.registry", "sklattn._io.load",
                                    "sklattn._core.net"])
def test_low_layers_do_not_reach_the_estimators(module):
    # Transitively: what the module's own imports pull in, the package __init__ left out.
    graph = _graph()
    seen, todo = set(), [module]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen and target != "sklattn":
                seen.add(target)
                todo.append(target)
    assert not any(m.startswith(("sklattn._text", "sklattn._tabular")) for m in seen), sorted(seen)


def test_the_check_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "sklattn" / "_io" / "probe.py"
    source.parent.mkdir(parents=True)
    source.write_text("def f():\n    from .._text.base import TextNetBase\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "sklattn"
    try:
        assert _imports(source) == {"sklattn._text.base"}
    finally:
        PACKAGE = saved
