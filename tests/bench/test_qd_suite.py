"""Quality-diversity problems in suites: the objective/measures/grid keys, building, qd:<algorithm> names, planning."""

from __future__ import annotations

import pytest

from latentbridge.bench.planning import plan
from latentbridge.bench.problems import build_problem
from latentbridge.bench.qd_problems import is_qd_spec, qd_cells
from latentbridge.bench.suite import load_suite, parse_suite
from latentbridge.errors import InputError, UnknownNameError
from latentbridge.optimizers import QDOptimizer, resolve

pytest.importorskip("ribs")

HEAD = """
[suite]
name = "q"
budget = 60
seeds = 2
"""
PROBLEM = """
[[problems]]
id = "lsi"
kind = "quality-diversity"
generator = "mnist-dcgan"
objective = { name = "class-probability", digit = 8 }
measures = [{ name = "boldness", temperature = 0.05 }, "lightness"]
grid = [10, 12]
"""
SMOOTH = """
[[problems]]
id = "smooth"
kind = "quality-diversity"
generator = "mnist-dcgan"
objective = { name = "class-probability", digit = 8 }
measures = [{ name = "boldness", temperature = 0.05 }, { name = "lightness", temperature = 0.05 }]
grid = 10
"""


def _opt(name: str, params: str = "") -> str:
    return f'\n[[optimizers]]\nname = "{name}"\n' + (f"params = {{ {params} }}\n" if params else "")


def test_qd_keys_parse_into_options_and_need_no_scorer() -> None:
    suite = parse_suite(HEAD + PROBLEM + _opt("random"))
    spec = suite.problems[0]
    assert is_qd_spec(spec)
    assert spec.scorer == ""
    assert spec.options["objective"] == {"name": "class-probability", "digit": 8}
    assert spec.options["measures"] == [{"name": "boldness", "temperature": 0.05}, {"name": "lightness"}]
    assert qd_cells(spec) == [10, 12]
    assert qd_cells(spec.to_dict()) == [10, 12]  # the stored spec keeps them


def test_qd_problem_is_built_with_its_grid() -> None:
    from latentbridge.qd import QualityDiversity

    problem = build_problem(parse_suite(HEAD + PROBLEM + _opt("random")).problems[0])
    assert isinstance(problem, QualityDiversity)
    assert problem.measure_names == ("boldness", "lightness")
    assert problem.grid().dims == (10, 12)
    assert problem.config()["cells"] == [10, 12]
    assert not problem.differentiable  # hard lightness


@pytest.mark.parametrize(
    ("entry", "key", "words"),
    [
        ('objective = "class-probability"\n', "measures", "needs 'measures'"),
        ('objective = 3\nmeasures = ["boldness"]\n', "objective", "registered measure name"),
        ('objective = "class-probability"\nmeasures = []\n', "measures", "at least one measure"),
        ('objective = "class-probability"\nmeasures = ["boldness"]\ngrid = 0\n', "grid", "cells per measure"),
        ('objective = "class-probability"\nmeasures = ["boldness", "lightness"]\ngrid = [5]\n', "grid", "one per"),
    ],
)
def test_bad_qd_keys_are_located(entry: str, key: str, words: str) -> None:
    text = HEAD + '[[problems]]\nid = "p"\nkind = "quality-diversity"\ngenerator = "mnist-dcgan"\n' + entry
    with pytest.raises(InputError, match=words) as info:
        parse_suite(text + _opt("random"), origin="s.toml")
    assert "s.toml:" in str(info.value)
    assert "problems[0]" in str(info.value)


def test_qd_keys_refused_on_other_kinds() -> None:
    text = HEAD + '[[problems]]\nid = "p"\nkind = "set-diversity"\ngenerator = "mnist-dcgan"\nscorer = "rmse"\n'
    with pytest.raises(InputError, match="'grid' is a key of kind 'quality-diversity'"):
        parse_suite(text + "grid = 10\n" + _opt("random"))


def test_unknown_measure_is_named_at_build() -> None:
    text = PROBLEM.replace('"lightness"', '"lightnes"')
    with pytest.raises(UnknownNameError, match="lightnes"):
        build_problem(parse_suite(HEAD + text + _opt("random"), origin="s.toml").problems[0])


def test_qd_names_resolve_and_validate() -> None:
    solver = resolve("qd:cma-me", {"batch_size": 10})
    assert isinstance(solver, QDOptimizer)
    with pytest.raises(UnknownNameError, match="cma-me"):
        resolve("qd:cma-mee")
    with pytest.raises(InputError, match=r"qd:cma-me.*sigmaa"):
        resolve("qd:cma-me", {"sigmaa": 1.0}).validate("qd:cma-me", None)


def test_planning_applies_gradient_algorithms_to_differentiable_problems_only() -> None:
    opts = _opt("qd:cma-mega", "emitters = 1, batch_size = 9") + _opt("qd:map-elites", "emitters = 1, batch_size = 20")
    opts += _opt("random")
    tasks = plan(parse_suite(HEAD + PROBLEM + SMOOTH + opts))
    pairs = {(t.problem.id, t.optimizer.label) for t in tasks}
    assert ("smooth", "qd:cma-mega") in pairs
    assert ("lsi", "qd:cma-mega") not in pairs
    assert {("lsi", "qd:map-elites"), ("lsi", "random"), ("smooth", "random")} <= pairs


def test_a_qd_algorithm_on_a_non_qd_problem_is_not_planned() -> None:
    text = HEAD + '[[problems]]\nid = "t"\nkind = "set-diversity"\ngenerator = "mnist-dcgan"\nscorer = "rmse"\nk = 2\n'
    tasks = plan(parse_suite(text + _opt("qd:cma-me") + _opt("random")))
    assert {t.optimizer.label for t in tasks} == {"random"}


def test_budget_below_one_iteration_is_refused_before_any_run() -> None:
    with pytest.raises(InputError, match="qd:cma-me"):
        plan(parse_suite(HEAD + SMOOTH + _opt("qd:cma-me")))  # 5 x 30 > 60


def test_builtin_lsi_suite() -> None:
    suite = load_suite("lsi")
    assert [p.kind for p in suite.problems] == ["quality-diversity"]
    names = {o.name for o in suite.optimizers}
    assert {f"qd:{n}" for n in ("map-elites", "cma-me", "cma-mae", "cma-mega", "cma-maega")} <= names
    assert {"paper-ga", "ng:CMA", "random"} <= names
    problem = build_problem(suite.problems[0])
    assert problem.differentiable  # the gradient algorithms run on it
    for o in suite.optimizers:
        assert resolve(o.name, o.params).applies_to(problem), o.label
