"""The package's shape: imports point one way, and nothing is imported inside a function.

Tiers, lowest first: the layers and tools that depend on nothing of lnutils; the models;
training and result files (and kept networks); the experiments (numbers only); studies of one
experiment's trained networks; the words and figures made from them; the command lines and
checks built on everything.  A module may import only
from lower tiers, and the three experiments never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lnutils"

TIERS = {
    0: {"norms", "norms_numpy", "datafiles", "environment", "measure", "compare", "stacks"},
    1: {"data", "corpus", "mlp", "cnn", "rnn", "transformer", "invariance", "cli"},
    2: {"runs"},
    3: {"train", "kept_networks"},
    4: {"experiments.mnist", "experiments.conv", "experiments.rnn", "experiments.transformer"},
    5: {"experiments.bn_lstm"},
    6: {"report", "report.cells", "plotting", "experiments.__main__"},
    7: {"report.mnist", "report.conv", "report.rnn", "report.transformer"},
    8: {"smoke", "bench", "check"},
}
TIER = {name: tier for tier, names in TIERS.items() for name in names}
OPTIONAL_IMPORTS = {"fcntl", "tqdm"}  # imported inside a try, where they may be missing


def module_names() -> list[str]:
    """Every module; a package's ``__init__`` counts as the package when it holds code of a tier."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if not name.endswith("__init__"):
            names.append(name)
        elif name.removesuffix(".__init__") in TIER:
            names.append(name.removesuffix(".__init__"))
    return names


def module_path(name: str) -> Path:
    path = PACKAGE / (name.replace(".", "/") + ".py")
    return path if path.exists() else PACKAGE / name.replace(".", "/") / "__init__.py"


def lnutils_imports(tree: ast.Module) -> set[str]:
    """The lnutils modules a module imports (``from lnutils import runs`` -> runs)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lnutils"):
            base = node.module.removeprefix("lnutils").lstrip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}".lstrip(".")
                found.add(candidate if candidate in TIER else base)
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("lnutils.") for a in node.names if a.name.startswith("lnutils.")}
    return found - {""}


def test_every_module_has_a_tier():
    assert sorted(set(module_names()) - set(TIER)) == []


@pytest.mark.parametrize("name", module_names())
def test_imports_point_down(name):
    tree = ast.parse(module_path(name).read_text())
    upward = {imported for imported in lnutils_imports(tree) if TIER.get(imported, 0) >= TIER[name]}
    assert not upward, f"lnutils.{name} (tier {TIER[name]}) imports {sorted(upward)} from its own tier or above"


@pytest.mark.parametrize("name", module_names())
def test_no_imports_inside_functions(name):
    tree = ast.parse(module_path(name).read_text())
    inside = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    inside += [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    inside.append(node.module or "")
    assert [m for m in inside if m.split(".")[0] not in OPTIONAL_IMPORTS] == []


def test_the_tier_rule_catches_a_sideways_import():
    tree = ast.parse("from lnutils.experiments import mnist\nfrom lnutils import report\n")
    assert lnutils_imports(tree) == {"experiments.mnist", "report"}


READS_FILES = {"open", "read_text", "read_bytes", "read_json", "read_results", "saved_results", "replaced_results"}
READS_FILES |= {"saved_results", "saved_records", "saved_paper_runs", "load", "loadtxt", "exists"}
READS_FILES |= {"selection_in_use", "selections_in_use", "selected_learning_rates", "full_length_selections"}
READS_FILES_PREFIXES = ("read_", "saved_", "load_", "replaced_")


def reads_a_file(name: str) -> bool:
    """A call that reads, or looks up, a file: by name, or by a prefix the experiments' readers share."""
    return name in READS_FILES or name.startswith(READS_FILES_PREFIXES)


@pytest.mark.parametrize("name", [n for n in module_names() if n.split(".")[0] == "report"])
def test_the_words_open_no_file(name):
    """lnutils/report renders what it is given: no call there opens, reads or looks for a file."""
    tree = ast.parse(module_path(name).read_text())
    calls = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert {call for call in calls if reads_a_file(call)} == set()


def test_the_file_rule_catches_a_read():
    tree = ast.parse("def f(path):\n    return runs.read_results(path), mnist.selection_in_use(4), len(path)\n")
    calls = {
        n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
    }
    assert {call for call in calls if reads_a_file(call)} == {"read_results", "selection_in_use"}
