"""The house's rules, checked on the source: which package may import which (docs/architecture.md), that the product
never imports the local cloud, that there is no import cycle, and that modules stay a size one can read."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[2] / "src"
PRODUCT = SRC / "servicelinker"
LOCAL_CLOUD = SRC / "localcloud"

#: Layer -> the layers it may import (besides itself). Arrows point down: cli/api/operator -> engine ->
#: (catalog, model, clouds, kube, store, probes).
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "settings": set(),
    "catalog": {"model"},
    "store": {"model", "settings"},
    "kube": {"model", "catalog", "settings"},
    "clouds": {"model", "catalog", "settings"},
    "probes": {"model", "catalog"},
    "engine": {"model", "catalog", "clouds", "kube", "store", "probes", "settings"},
    "operator": {"model", "catalog", "kube", "settings"},
    "api": {"model", "catalog", "engine", "settings"},
    "cli": {"model", "catalog", "engine", "settings", "api", "operator", "kube"},
    "__main__": {"cli"},
}
#: Modules allowed to be long, and why (docs/architecture.md says the same).
LONG_MODULES = {
    "servicelinker/probes/extract.py": "one parser per configuration shape of reference §4, kept side by side",
}
MAX_LINES = 600


def _modules(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(path: Path, module: str) -> set[str]:
    """Every module `path` imports, anywhere in it (lazy imports in functions count), resolved to absolute names."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "servicelinker":
        return None
    return parts[1] if len(parts) > 1 else "servicelinker"


PRODUCT_IMPORTS = {name: _imports(path, name) for name, path in _modules(PRODUCT)}


def test_the_product_never_imports_the_local_cloud() -> None:
    offenders = {m: sorted(i for i in imps if i.split(".")[0] == "localcloud") for m, imps in PRODUCT_IMPORTS.items()}
    assert {m: i for m, i in offenders.items() if i} == {}


def test_arrows_point_down() -> None:
    wrong: dict[str, list[str]] = {}
    for module, imports in PRODUCT_IMPORTS.items():
        layer = _layer(module)
        if layer is None or layer == "servicelinker":
            continue
        allowed = ALLOWED[layer] | {layer}
        bad = sorted({i for i in imports if (_layer(i) or layer) not in allowed and _layer(i) != "servicelinker"})
        if bad:
            wrong[module] = bad
    assert wrong == {}


def test_cli_and_api_reach_neither_the_store_nor_a_cloud_adapter() -> None:
    forbidden = ("servicelinker.store", "servicelinker.clouds")
    wrong = {m: sorted(i for i in imps if i.startswith(forbidden)) for m, imps in PRODUCT_IMPORTS.items()
             if _layer(m) in ("cli", "api")}  # fmt: skip
    assert {m: i for m, i in wrong.items() if i} == {}


def _module_level_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    names = {name for name, _ in [*_modules(PRODUCT), *_modules(LOCAL_CLOUD)]}
    for name, path in [*_modules(PRODUCT), *_modules(LOCAL_CLOUD)]:
        tree = ast.parse(path.read_text())
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in tree.body:  # module level only: what runs at import time
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            for sub in ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.ClassDef) else ():
                if isinstance(sub, ast.Import):
                    deps.update(a.name for a in sub.names)
                elif isinstance(sub, ast.ImportFrom):
                    base = sub.module or ""
                    if sub.level:
                        anchor = package.split(".")[: len(package.split(".")) - (sub.level - 1)]
                        base = ".".join([*anchor, base] if base else anchor)
                    deps.add(base)
                    deps.update(f"{base}.{a.name}" for a in sub.names)
        graph[name] = {d for d in deps if d in names and d != name}
    return graph


def test_no_import_cycle() -> None:
    graph = _module_level_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            # a package's __init__ importing its own submodule is not a cycle between modules
            if node.startswith(dep + ".") or dep.startswith(node + "."):
                continue
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep] if dep in stack else [node, dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_modules_stay_readable() -> None:
    long = {}
    for _, path in [*_modules(PRODUCT), *_modules(LOCAL_CLOUD)]:
        rel = str(path.relative_to(SRC))
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and rel not in LONG_MODULES:
            long[rel] = lines
    assert long == {}


def test_no_empty_placeholder_packages() -> None:
    empty = [str(p.relative_to(SRC)) for p in SRC.rglob("__init__.py")
             if not p.read_text().strip() and len(list(p.parent.glob("*.py"))) == 1]  # fmt: skip
    assert empty == []


#: The Cloud port's methods: a class defining most of them is a Cloud implementation.
CLOUD_METHODS = {"get_cluster", "describe_target", "target_secrets", "ensure_firewall_rule", "check_access",
                 "ensure_federated_credential", "ensure_role_assignment", "enable_cluster_features"}  # fmt: skip


def test_one_cloud_adapter_and_it_is_azure() -> None:
    """Every cloud call goes through `clouds/azure` (to Azure, or to the local cloud's ARM endpoint): the only
    registered adapter is `azure`, and no other class in src/ implements the Cloud port."""
    from importlib.metadata import entry_points

    registered = {ep.name: ep.value for ep in entry_points(group="servicelinker.clouds")}
    assert registered == {"azure": "servicelinker.clouds.azure:AzureCloud"}
    implementations = []
    for name, path in [*_modules(PRODUCT), *_modules(LOCAL_CLOUD)]:
        for node in ast.walk(ast.parse(path.read_text())):
            protocol = isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "Protocol" for b in node.bases)
            if isinstance(node, ast.ClassDef) and not protocol:
                methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                if len(methods & CLOUD_METHODS) >= 4:
                    implementations.append(f"{name}.{node.name}")
    assert implementations == ["servicelinker.clouds.azure.adapter.AzureCloud"]
    from servicelinker.settings import Settings

    assert Settings.model_fields["cloud"].default == "azure"
