"""The code has no import circle: every module of `tracker` is read (its imports at module level
and inside functions alike, since an import moved into a function to dodge a circle is still
one), and the graph of `tracker` modules must be acyclic.

Not counted: imports under `if TYPE_CHECKING:` (never run), and imports of the package root
`tracker` itself, the composition root (the app factory wires every area together, and the
entry points that need an app, such as the scheduler's jobs, import it)."""

from __future__ import annotations

import ast
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tracker"


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _target(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(t for a in child.names if (t := _target(a.name, modules)))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (child.level - 1)]
                    base = ".".join(parts + ([child.module] if child.module else []))
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    target = full if full in modules else _target(base, modules)
                    if target:
                        found.add(target)
            else:
                visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(name)
    found.discard(PACKAGE)
    return found


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_the_project_has_no_import_circle():
    modules = _modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert import_cycles(graph) == []


def test_the_cycle_finder_sees_a_circle_through_a_function_level_import(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("from tracker.b import x\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from tracker.a import y\n")
    modules = {"tracker.a": a, "tracker.b": b}
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert graph == {"tracker.a": {"tracker.b"}, "tracker.b": {"tracker.a"}}
    assert import_cycles(graph) == [["tracker.a", "tracker.b"]]


def test_choices_assigned_as_tuples_fail_the_run():
    """conftest makes `field.choices = [tuples]` warn, and pyproject turns that warning into an
    error: a form that still fills its choices with tuples fails whichever test renders it."""
    from wtforms import Form, SelectField
    from wtforms.fields.choices import SelectChoice

    class Filter(Form):
        status = SelectField(choices=[])

    form = Filter()
    form.status.choices = [SelectChoice("open", "Open")]  # fine
    with pytest.raises(DeprecationWarning, match="tuples"):
        form.status.choices = [("open", "Open")]
