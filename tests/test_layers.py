"""The package's layers hold: no import cycle, imports inside functions included, and import-linter's contract.

import-linter (pyproject.toml, run by .ci/run) checks that each module imports only from the layers below
its own; this test walks every import statement of src/lenetlab itself (module level and inside
functions), so a cycle hidden in a function-level import is found without import-linter installed.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def import_graph() -> dict[str, set[str]]:
    """Module -> the lenetlab modules it imports anywhere in its file."""
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)
    graph = {}
    for name, (path, package) in modules.items():
        here = name if package else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
                candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            edges |= {c for c in candidates if c in modules and c != name and c != "lenetlab"}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 60 and "lenetlab.training" in graph["lenetlab.runs"]  # the walk sees the package
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_layer_contract_holds():
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]'); .ci/run runs it")
    done = subprocess.run([lint], cwd=SRC.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]


def function_level_imports() -> list[str]:
    """lenetlab's own imports written inside a function, outside cli/ and the lazy package faces (``__getattr__``
    of an ``__init__.py``); one inside a ``try`` is an optional dependency's guard (the web page's) and allowed."""
    found = []
    for path in sorted((SRC / "lenetlab").rglob("*.py")):
        relative = path.relative_to(SRC / "lenetlab")
        if relative.parts[0] == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if function.name == "__getattr__" and relative.name == "__init__.py":
                continue
            guarded = {id(n) for t in ast.walk(function) if isinstance(t, ast.Try) for s in t.body for n in ast.walk(s)}
            found += [f"{relative}:{node.lineno} ({function.name})" for node in ast.walk(function)
                      if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("lenetlab"))
                      and id(node) not in guarded]
    return found


def test_the_package_imports_its_own_modules_at_the_top_of_each_file():
    # An import hidden in a function hides an edge from import-linter and a cycle from a reader.
    assert function_level_imports() == []
