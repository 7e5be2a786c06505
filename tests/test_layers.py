"""The model's modules read in one direction: record -> tables -> replication ->
uncertainty -> simulation, with no cycle and no import hidden in a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODEL = Path(__file__).resolve().parents[1] / "sim" / "model"
LINE = ["record", "tables", "replication", "uncertainty", "simulation"]  # bottom to top


def _imports(module: str, *, nested_only: bool = False) -> set[str]:
    """The ``sim.model`` modules ``module`` imports (only those inside functions if asked)."""
    tree = ast.parse((MODEL / f"{module}.py").read_text())
    nested = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    found = set()
    for node in ast.walk(tree):
        if nested_only and id(node) not in nested:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "sim.model":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("sim.model."):
                found.add(node.module.removeprefix("sim.model.").split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {
                alias.name.removeprefix("sim.model.").split(".")[0]
                for alias in node.names
                if alias.name.startswith("sim.model.")
            }
    return found - {module}


@pytest.mark.parametrize("module", LINE)
def test_each_module_of_the_line_imports_none_above_it(module):
    above = set(LINE[LINE.index(module) + 1 :])
    assert not _imports(module) & above


@pytest.mark.parametrize("module", LINE)
def test_no_module_of_the_line_imports_inside_a_function(module):
    assert not _imports(module, nested_only=True)


def test_the_model_modules_import_one_another_without_a_cycle():
    modules = sorted(path.stem for path in MODEL.glob("*.py") if path.stem != "__init__")
    graph = {module: _imports(module) & set(modules) for module in modules}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for imported in graph[module]:
            visit(imported, (*path, module))
        done.add(module)

    for module in modules:
        visit(module, ())


def test_the_tables_read_the_public_record_not_the_running_replication():
    source = (MODEL / "tables.py").read_text()
    assert "_Run" not in source
    assert "replication" not in _imports("tables")
