"""The package's shape: imports point one way, and nothing is imported inside a function.

Tiers, lowest first: the normalization functions and tools that depend on nothing of lnutils; the
normalization layers; the models and data; result files; training, kept networks and runs made of parts;
each experiment's helpers (rates, probes, the adding problem); the questions answered on a result; the
experiments (numbers only); the studies built on one experiment; the words and figures made from them; the
command lines and checks built on everything.  A module may import only from lower tiers, so the four
experiments never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lnutils"

TIERS = {
    0: {
        "norms",
        "norms_numpy",
        "datafiles",
        "environment",
        "measure",
        "compare",
        "stacks",
        "progress",
        "student_code",
        "check_mistakes",
    },
    1: {"layers", "check_report"},
    2: {"data", "corpus", "mlp", "cnn", "rnn", "transformer", "invariance", "cli"},
    3: {"runs"},
    4: {"train", "kept_networks", "parts"},
    5: {
        "experiments.mnist_rates",
        "experiments.adding",
        "experiments.rnn_probes",
        "experiments.conv_probes",
        "experiments.transformer_probes",
        "experiments.transformer_training",
    },
    6: {"experiments.conv_verdicts", "experiments.mnist_verdicts", "experiments.rnn_verdicts"},
    7: {"experiments.mnist_readings", "experiments.conv", "experiments.rnn", "experiments.transformer"},
    8: {
        "experiments.mnist",
        "experiments.bn_lstm",
        "experiments.conv_budget",
        "experiments.conv_kept",
        "experiments.rnn_budget",
    },
    9: {"report", "report.cells", "plotting", "experiments.__main__"},
    10: {"report.mnist", "report.conv", "report.rnn", "report.transformer"},
    11: {"smoke", "bench", "check"},
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


def called_names(tree: ast.AST) -> set[str]:
    """The names of every function a piece of code calls (``f(...)`` and ``x.f(...)`` both give f)."""
    return {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }


# The functions that decide: the comparison rule and the experiments' answers.  Words render their
# results (verdicts passed in as data); they never call them.
DECISIONS = {"answer", "answer_family", "decided", "holm", "holds", "make_verdict", "claim_verdicts"}
DECISIONS |= {"verdict_family", "weakest", "part_evidence", "convergence", "claims", "budget_check"}


def decides(name: str) -> bool:
    return name in DECISIONS or name == "verdicts" or name.endswith("_verdicts")


def words_in_experiments(tree: ast.AST) -> list[str]:
    """What an experiment module says in words where it should record numbers and ids: a ``print`` (progress
    goes through :func:`lnutils.progress.say`), and a verdict's ``metric`` that is not an id (its words
    live in :data:`lnutils.report.cells.METRIC_WORDS`)."""
    found = [
        f"print at line {n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Call) and called_name(n) == "print"
    ]
    metrics = [k.value for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords if k.arg == "metric"]
    metrics += [
        value
        for n in ast.walk(tree)
        if isinstance(n, ast.Dict)
        for key, value in zip(n.keys, n.values)
        if isinstance(key, ast.Constant) and key.value == "metric"
    ]
    for value in metrics:
        texts = [c.value for c in ast.walk(value) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        if isinstance(value, ast.JoinedStr) or any(not text.isidentifier() for text in texts):
            found.append(f"metric in words at line {value.lineno}")
    return found


def called_name(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


@pytest.mark.parametrize("name", [n for n in module_names() if n.split(".")[0] == "report"])
def test_the_words_decide_nothing(name):
    """lnutils/report calls neither the comparison rule nor an experiment's answers: it renders verdicts
    that the chapter passes in."""
    assert {call for call in called_names(ast.parse(module_path(name).read_text())) if decides(call)} == set()


@pytest.mark.parametrize(
    "name", [n for n in module_names() if n.startswith("experiments.") and n != "experiments.__main__"]
)
def test_the_experiments_write_no_words(name):
    """lnutils/experiments records numbers and ids; the command line (``experiments.__main__``) may print."""
    assert words_in_experiments(ast.parse(module_path(name).read_text())) == []


def test_the_words_and_numbers_rules_catch_planted_violations():
    deciding_words = ast.parse("def table(v):\n    return compare.answer(v[0], v[1], 0.2), rnn.verdicts(v)\n")
    assert {call for call in called_names(deciding_words) if decides(call)} == {"answer", "verdicts"}
    talking_numbers = ast.parse(
        "def run(x):\n"
        "    print('starting')\n"
        "    make_verdict(1, 2, metric='test error %')\n"
        "    make_verdict(1, 2, metric=f'error after epoch {x}')\n"
        "    make_verdict(1, 2, metric='test_error')\n"
        "    return {'metric': 'validation loss, last evaluation'}\n"
    )
    assert words_in_experiments(talking_numbers) == [
        "print at line 2",
        "metric in words at line 3",
        "metric in words at line 4",
        "metric in words at line 6",
    ]
