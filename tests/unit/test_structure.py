"""The shape of the house: no import cycles between charsuite's and kernels_profile's
modules (lazy imports inside functions count too), and no module over 250 lines unless
its docstring says why (a line starting "Size:")."""

import ast
from pathlib import Path

import pytest

from helpers import REPO

PACKAGES = ("charsuite", "kernels_profile")
MAX_LINES = 250


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules `name` imports anywhere except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = "open"
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return cycles


def test_no_import_cycles():
    mods = modules()
    graph = {m: imports_of(m, p, set(mods)) for m, p in mods.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    graph = {m: {t for t in deps if not (t.startswith(m + ".") and (REPO / m.replace(".", "/")).is_dir())}
             for m, deps in graph.items()}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_sees_lazy_imports_and_cycles(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from charsuite import b\n")
    assert imports_of("charsuite.a", a, {"charsuite.a", "charsuite.b"}) == {"charsuite.b"}
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_small_or_say_why(name):
    path = modules()[name]
    lines = len(path.read_text().splitlines())
    if lines > MAX_LINES:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert any(ln.startswith("Size:") for ln in doc.splitlines()), f"{path}: {lines} lines and no 'Size:' reason"


def test_one_class_per_name_and_one_bisection():
    # issue 27: two Boundary classes, two Breakdowns and three hand-written bisections (plan.py,
    # simulate/boundary.py, analysis/memory_model.py) read as near-synonyms; one of each now
    classes: dict[str, list[str]] = {}
    halving = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            text = path.read_text()
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.ClassDef) and node.col_offset == 0:
                    classes.setdefault(node.name, []).append(str(path.relative_to(REPO)))
            if "(lo + hi) // 2" in text and path.name != "narrowing.py":
                halving.append(str(path.relative_to(REPO)))
    assert {n: p for n, p in classes.items() if len(p) > 1} == {}
    assert halving == []  # every boundary search bisects through charsuite/narrowing.py


def test_no_two_public_functions_share_a_name():
    """issue 27: a name says which function it is, whichever module a reader meets it in."""
    defined: dict[str, list[str]] = {}
    for path in sorted((REPO / "charsuite").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and node.name != "main":
                defined.setdefault(node.name, []).append(str(path.relative_to(REPO)))
    shared = {n: where for n, where in defined.items() if len(where) > 1}
    assert shared == {}
