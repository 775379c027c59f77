"""Suite keys for the seed experiments: parameter grids, generated ("G") targets, Table II baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentbridge.bench import ProblemSpec, SuiteError, load_suite, parse_suite
from latentbridge.bench.problems import build_problem, generated_target, load_target
from latentbridge.bench.suite import BUILTIN_SUITES, grid_label
from latentbridge.testing import tiny_generator

TINY = "latentbridge.testing:tiny_generator"

HEAD = """
[suite]
name = "g"
budget = 10
seeds = 1
"""

TARGET = f"""
[[problems]]
id = "t"
kind = "target-similarity"
generator = "{TINY}"
scorer = "rmse"
target = {{ generated = {{ seed = 7 }} }}
"""


def _suite(optimizers: str, problems: str = TARGET) -> str:
    return HEAD + problems + optimizers


def test_grid_expands_to_the_cartesian_product_with_labels() -> None:
    suite = parse_suite(
        _suite("""
[[optimizers]]
name = "paper-ga"
params = { pop_size = 20 }
grid = { p_crossover = [0.6, 0.75, 0.9], p_mutation = [0.001, 0.01, 0.1] }
[[optimizers]]
name = "random"
""")
    )
    grid = suite.optimizers[:9]
    assert len(suite.optimizers) == 10
    assert [o.params for o in grid[:3]] == [
        {"pop_size": 20, "p_crossover": 0.6, "p_mutation": 0.001},
        {"pop_size": 20, "p_crossover": 0.6, "p_mutation": 0.01},
        {"pop_size": 20, "p_crossover": 0.6, "p_mutation": 0.1},
    ]
    assert {(o.params["p_crossover"], o.params["p_mutation"]) for o in grid} == {
        (c, m) for c in (0.6, 0.75, 0.9) for m in (0.001, 0.01, 0.1)
    }
    assert grid[0].label == "paper-ga(p_crossover=0.6, p_mutation=0.001)"
    assert all(o.name == "paper-ga" for o in grid)
    assert all("[" not in o.label and "]" not in o.label for o in grid)  # safe in rich markup
    assert suite.optimizers[9].label == "random"


def test_grid_uses_an_explicit_label_and_keeps_list_params_literal() -> None:
    suite = parse_suite(
        _suite("""
[[optimizers]]
name = "pymoo:DE"
label = "de"
params = { pop_size = 10, weights = [1, 2] }
grid = { CR = [0.3, 0.9], variant = ["DE/rand/1/bin"] }
""")
    )
    assert [o.label for o in suite.optimizers] == [
        "de(CR=0.3, variant=DE/rand/1/bin)",
        "de(CR=0.9, variant=DE/rand/1/bin)",
    ]
    assert suite.optimizers[0].params["weights"] == [1, 2]  # params are never expanded
    assert grid_label("x", {"a": 1, "b": "s"}) == "x(a=1, b=s)"


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("grid = { p_mutation = 0.1 }", "non-empty list"),
        ("grid = { p_mutation = [] }", "non-empty list"),
        ("grid = { pop_size = [10, 20] }", "both in params and in grid"),
        ("grid = { p_mutation = [0.1, 0.1] }", "lists a value twice"),
        ("grid = 3", "table of parameter"),
    ],
)
def test_bad_grids_are_located(grid: str, message: str) -> None:
    text = _suite(f'[[optimizers]]\nname = "paper-ga"\nparams = {{ pop_size = 10 }}\n{grid}\n')
    with pytest.raises(SuiteError, match=message) as info:
        parse_suite(text, origin="s.toml")
    line = text.splitlines().index(grid) + 1
    assert f"s.toml:{line}: optimizers[0].grid" in str(info.value)


def test_grid_labels_collide_with_an_existing_label() -> None:
    text = _suite("""
[[optimizers]]
name = "random"
label = "r(a=1)"
[[optimizers]]
name = "random"
label = "r"
grid = { a = [1, 2] }
""")
    with pytest.raises(SuiteError, match="used twice"):
        parse_suite(text)


def test_generated_target_is_the_generators_image_of_a_seeded_prior_draw() -> None:
    gen = tiny_generator()
    img = generated_target(gen, 7)
    z = gen.latent.sample(1, 7).astype(np.float32)
    with torch.inference_mode():
        expected = gen.generate(torch.from_numpy(z))[0].numpy()
    np.testing.assert_array_equal(img, expected)
    np.testing.assert_array_equal(load_target({"generated": {"seed": 7}}, gen), img)
    assert not np.array_equal(generated_target(gen, 8), img)
    suite = parse_suite(_suite('[[optimizers]]\nname = "random"\n'))
    spec = suite.problems[0]
    assert spec.target == {"generated": {"seed": 7}}
    problem = build_problem(spec)
    assert problem.evaluate(z.astype(np.float64))[0] == pytest.approx(0.0, abs=1e-6)  # z* reaches it exactly


def test_a_generated_target_is_identified_by_its_recipe_not_its_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers with another thread count (or CPU) round G(z*) differently: the problem is the same problem."""
    import latentbridge.bench.problems as problems_mod

    spec = parse_suite(_suite('[[optimizers]]\nname = "random"\n')).problems[0]
    exact = build_problem(spec)
    assert exact.config()["targets_recipe"] == {"generated": {"seed": 7}}
    assert "targets_sha256" not in exact.config()
    real = problems_mod.generated_target
    monkeypatch.setattr(problems_mod, "generated_target", lambda g, seed: real(g, seed) + np.float32(1e-6))
    rounded = build_problem(spec)
    assert not torch.equal(rounded.targets, exact.targets)
    assert rounded.config_hash() == exact.config_hash()
    # the generator's weights are still part of the identity: other weights are another problem
    other = parse_suite(
        _suite('[[optimizers]]\nname = "random"\n').replace(
            f'generator = "{TINY}"', f'generator = {{ name = "{TINY}", seed = 1 }}'
        )
    ).problems[0]
    assert build_problem(other).config_hash() != exact.config_hash()


def test_a_generated_target_does_not_depend_on_the_thread_count() -> None:
    gen = tiny_generator(16, (1, 28, 28))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = generated_target(gen, 3)
        torch.set_num_threads(1)
        one = generated_target(gen, 3)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(one, two)
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize(
    "target",
    [
        "{ generated = 7 }",
        "{ generated = { seed = -1 } }",
        "{ generated = { seed = 1, truncation = 0.5 } }",
        '{ generated = { seed = 1 }, path = "x.png" }',
    ],
)
def test_bad_generated_targets(target: str) -> None:
    text = _suite('[[optimizers]]\nname = "random"\n', TARGET.replace("{ generated = { seed = 7 } }", target))
    with pytest.raises(SuiteError, match=r"problems\[0\]\.target"):
        parse_suite(text)


def _digit_problem(extra: str) -> str:
    return f"""
[[problems]]
id = "w"
kind = "target-similarity"
generator = "{TINY}"
scorer = "rmse"
{extra}
"""


def test_baseline_sources(tmp_path: Path) -> None:
    ok = _suite(
        '[[optimizers]]\nname = "random"\n',
        _digit_problem("target = { heldout_digit = 3 }\nbaseline = { heldout_nearest = true }")
        + _digit_problem('target = { generated = { seed = 1 } }\nbaseline = { npy = "b.npy" }').replace('"w"', '"x"')
        + _digit_problem("target = { heldout_digit = 3 }\nbaseline = { heldout_digit = 3, index = 4 }").replace(
            '"w"', '"y"'
        ),
    )
    suite = parse_suite(ok, base_dir=tmp_path)
    assert [p.baseline for p in suite.problems] == [
        {"heldout_nearest": True},
        {"npy": str(tmp_path / "b.npy")},
        {"heldout_digit": 3, "index": 4},
    ]
    spec = suite.problems[0]
    assert ProblemSpec.from_dict(spec.to_dict()) == spec


def test_specs_without_a_baseline_keep_their_stored_form() -> None:
    spec = ProblemSpec("p", "target-similarity", "g", "s", target={"npy": "x"})
    assert "baseline" not in spec.to_dict()  # stored specs and cache keys of older suites are unchanged


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("baseline = { heldout_nearest = true }", "needs a 'target'"),
        (
            "target = { generated = { seed = 1 } }\nbaseline = { heldout_nearest = true }",
            "needs a held-out digit target",
        ),
        ("target = { heldout_digit = 3 }\nbaseline = { heldout_nearest = false }", "heldout_nearest = true"),
        ("target = { heldout_digit = 3 }\nbaseline = 3", "expected a table"),
        ('target = { heldout_digit = 3 }\nbaseline = { heldout_digit = 3, path = "x" }', "exactly one"),
    ],
)
def test_bad_baselines_are_located(extra: str, message: str) -> None:
    problem = _digit_problem(extra)
    if "target" not in extra:  # a set problem has no target to compare a baseline with
        problem = problem.replace('"target-similarity"', '"set-diversity"')
    text = _suite('[[optimizers]]\nname = "random"\n', problem)
    with pytest.raises(SuiteError, match=message) as info:
        parse_suite(text, origin="s.toml")
    assert "problems[0].baseline" in str(info.value)


def test_builtin_seed_suites() -> None:
    assert {"quick", "seed000", "seed002", "seed000-paper", "seed002-paper"} <= set(BUILTIN_SUITES)
    s0 = load_suite("seed000")
    assert [p.id for p in s0.problems] == ["G1", "W1", "M1", "G2", "W2", "W3"]
    assert [p.target for p in s0.problems if p.id.startswith("G")] == [
        {"generated": {"seed": 1}},
        {"generated": {"seed": 2}},
    ]
    assert all(p.baseline == {"heldout_nearest": True} for p in s0.problems if not p.id.startswith("G"))
    grid = [o for o in s0.optimizers if "(" in o.label]
    assert len(grid) == 9
    assert all(o.problems == ("G1", "W1", "M1") for o in grid)
    validation = {o.label: o for o in s0.optimizers if o.problems == ("G2", "W2", "W3")}
    assert validation["paper-ga"].params == {"pop_size": 20, "p_crossover": 0.75, "p_mutation": 0.001}
    assert "random" in validation
    paper = load_suite("seed000-paper")
    assert (paper.budget, paper.seeds) == (100_000, 30)
    assert all(o.params.get("pop_size", 200) == 200 for o in paper.optimizers)
    s2 = load_suite("seed002")
    assert [o.label for o in s2.optimizers] == ["set-ga", "random", "map-elites"]
    assert {p.scorer for p in s2.problems} == {"rmse", "ncc"}
    assert all(p.options["k"] == 10 for p in s2.problems)
    assert load_suite("seed002-paper").budget == 50_000


def test_builtin_seed_suites_plan() -> None:
    from latentbridge.bench import plan

    tasks = plan(load_suite("seed000"))
    assert len(tasks) == 3 * 9 * 10 + 3 * 2 * 10  # grid on G1/W1/M1, paper-ga + random on G2/W2/W3
    assert {t.optimizer.label for t in tasks if t.problem.id == "W2"} == {"paper-ga", "random"}
    assert len(plan(load_suite("seed002"))) == 2 * 3 * 5
