"""latentbridge.optimizers: names → solver adapters, the applicability rule, one table of algorithm facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge import optimizers as lbo
from latentbridge._algorithm_facts import PYMOO_ALGORITHMS
from latentbridge.errors import InputError, UnknownNameError
from latentbridge.testing import registered, tiny_generator


@pytest.fixture(scope="module")
def problems() -> dict[str, lb.LatentProblem]:
    gen = tiny_generator(6, (1, 6, 6), seed=0)
    with torch.inference_mode():
        target = gen.generate(torch.zeros(1, 6))[0].clone()
    return {
        "so": lb.TargetSimilarity(gen, lb.load_scorer("rmse"), target),
        "mo": lb.TargetSimilarity(gen, [lb.load_scorer("rmse"), lb.load_scorer("ncc")], target),
        "set": lb.SetDiversity(gen, lb.load_scorer("ncc"), k=3),
    }


def test_resolve_names() -> None:
    assert lbo.resolve("paper-ga") == lbo.PymooOptimizer("paper-ga", {})
    assert lbo.resolve("set-ga", {"pop_size": 10}) == lbo.PymooOptimizer("set-ga", {"pop_size": 10}, min_k=2)
    assert lbo.resolve("random") == lbo.BaselineOptimizer("random", {})
    assert lbo.resolve("pymoo:DE", {"pop_size": 8}) == lbo.PymooOptimizer("DE", {"pop_size": 8})
    assert lbo.resolve("ng:CMA") == lbo.NevergradOptimizer("CMA", {})
    with pytest.raises(UnknownNameError, match="pymoo:<Algorithm>"):
        lbo.resolve("paper-gaa")
    for name in ("paper-ga", "set-ga", "random", "map-elites"):
        assert isinstance(lbo.resolve(name), lbo.Solver)


def test_applicability_rule(problems: dict[str, lb.LatentProblem]) -> None:
    so, mo, sets = problems["so"], problems["mo"], problems["set"]
    rule = {
        "paper-ga": (True, False, True),
        "set-ga": (False, False, True),
        "random": (True, True, True),
        "map-elites": (False, False, True),
        "pymoo:DE": (True, False, True),
        "pymoo:NSGA2": (False, True, False),
        "pymoo:nsga_3": (False, True, False),
        "pymoo:random": (True, True, True),
        "ng:CMA": (True, False, True),
    }
    for name, expected in rule.items():
        solver = lbo.resolve(name)
        assert tuple(lbo.applies(solver, p) for p in (so, mo, sets)) == expected, name


def test_multi_objective_names_come_from_the_facts_table() -> None:
    assert {n for n, f in PYMOO_ALGORITHMS.items() if f.multi_objective} == lbo.MULTI_OBJECTIVE_PYMOO
    assert {"NSGA2", "NSGA3", "RNSGA3", "CTAEA"} <= lbo.MULTI_OBJECTIVE_PYMOO
    assert "DE" not in lbo.MULTI_OBJECTIVE_PYMOO


def test_registry_builds_the_library_adapters() -> None:
    reg = lb.registry("optimizer")
    for name, factory in lbo.BUILTIN_OPTIMIZERS.items():
        assert reg.get(name).factory is factory
        assert reg.create(name) == factory()


def test_pymoo_names_are_suggested_with_their_prefix() -> None:
    """``pymoo:NSGA`` suggests ``pymoo:NSGA2`` and ``pymoo:NSGA3``: names that resolve, not bare or bench names."""
    with pytest.raises(UnknownNameError) as info:
        lbo.resolve("pymoo:NSGA")
    message = str(info.value)
    hint = message[message.index("Did you mean") :].split("?")[0]
    assert "pymoo:NSGA2" in hint
    assert "pymoo:NSGA3" in hint
    names = [n.strip() for n in hint.removeprefix("Did you mean:").split(",")]
    assert all(n.startswith("pymoo:") for n in names), names
    for name in names:
        assert isinstance(lbo.resolve(name), lbo.PymooOptimizer)
    assert "paper-ga" not in message  # bench names are not pymoo algorithms
    with pytest.raises(UnknownNameError, match=r"pymoo's NSGA2 is written pymoo:NSGA2"):
        lbo.resolve("NSGA2")
    assert lbo.resolve("pymoo:nsga-3") == lbo.PymooOptimizer("nsga-3", {})  # case, - and _ still ignored


@pytest.mark.parametrize("name", ["paper-ga", "set-ga"])
def test_wrong_preset_parameter_is_refused_with_the_close_name(
    name: str, problems: dict[str, lb.LatentProblem]
) -> None:
    """A suite's ``params = { popsize = 40 }`` fails validation with the suggestion, with or without a problem."""
    pytest.importorskip("pymoo")
    solver = lbo.resolve(name, {"popsize": 40})
    for problem in (None, problems["set"]):
        with pytest.raises(
            InputError, match=rf"{name}: unknown parameter\(s\) 'popsize' \(did you mean 'pop_size'\?\)"
        ):
            lbo.validate_optimizer(name, {"popsize": 40}, solver, problem)
    lbo.validate_optimizer(name, {"pop_size": 40}, lbo.resolve(name, {"pop_size": 40}), problems["set"])


def test_each_adapter_validates_its_own_parameters() -> None:
    """``validate_optimizer`` defers to the adapter's ``validate``; a plugin optimizer may have one too."""
    calls: list[tuple[str, object]] = []

    class Custom:
        def solve(self, problem: lb.LatentProblem, budget: int, seed: int) -> lb.OptimizeResult:
            raise AssertionError("not run")

        def validate(self, label: str, problem: object) -> None:
            calls.append((label, problem))

    lbo.validate_optimizer("custom", {}, Custom(), None)
    assert calls == [("custom", None)]
    with registered("optimizer", "custom-opt", Custom):  # a registered factory's own arguments are checked too
        assert isinstance(lbo.resolve("custom-opt"), Custom)
        with pytest.raises(InputError, match=r"optimizer 'custom-opt' \(latentbridge.testing\): unknown parameter"):
            lbo.resolve("custom-opt", {"batch": 5})
    with pytest.raises(InputError, match=r"random: unknown parameter\(s\) 'bach' \(did you mean 'batch'\?\)"):
        lbo.resolve("random", {"bach": 5}).validate("random", None)  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=r"'seed' cannot be set here"):
        lbo.resolve("random", {"seed": 5}).validate("random", None)  # type: ignore[attr-defined]


def test_nevergrad_parameters_are_checked_by_the_nevergrad_package() -> None:
    pytest.importorskip("nevergrad")
    solver = lbo.resolve("ng:LatentPaperGA", {"popsize": 40})
    with pytest.raises(InputError, match=r"'popsize' \(did you mean 'pop_size'\?\)"):
        lbo.validate_optimizer("ng:LatentPaperGA", {"popsize": 40}, solver, None)
    with pytest.raises(UnknownNameError, match=r"did you mean 'CMA'"):
        lbo.validate_optimizer("ng:CMAA", {}, lbo.resolve("ng:CMAA"), None)
    with pytest.raises(InputError, match=r"'fast' must be true or false"):
        lbo.validate_optimizer("ng:CMA", {"fast": 1}, lbo.resolve("ng:CMA", {"fast": 1}), None)
    lbo.validate_optimizer("ng:DiagonalCMA", {"scale": 0.5}, lbo.resolve("ng:DiagonalCMA", {"scale": 0.5}), None)


def test_bench_refuses_a_wrong_preset_parameter_before_any_run(tmp_path: Path) -> None:
    """Issue 22: ``params = { popsize = 40 }`` for paper-ga is one clear error naming ``pop_size``, not a TypeError."""
    pytest.importorskip("pymoo")
    from typer.testing import CliRunner

    from latentbridge.cli import app

    gen = tiny_generator(6, (1, 6, 6), seed=0)
    with torch.inference_mode():
        np.save(tmp_path / "target.npy", gen.generate(torch.zeros(1, 6))[0].numpy())
    suite = tmp_path / "mine.toml"
    suite.write_text(
        '[suite]\nname = "mine"\nbudget = 80\nseeds = 1\n\n'
        '[[problems]]\nid = "t"\nkind = "target-similarity"\n'
        'generator = { name = "latentbridge.testing:tiny_generator", latent_dim = 6, image_shape = [1, 6, 6] }\n'
        f'scorer = "rmse"\ntarget = {{ npy = "{tmp_path / "target.npy"}" }}\n\n'
        '[[optimizers]]\nname = "paper-ga"\nparams = { popsize = 40 }\n'
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        ["bench", "--suite", str(suite), "--out", str(out), "--no-progress", "--allow-import", "latentbridge.testing"],
    )
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "optimizers[0].params" in text, text
    assert "did you mean 'pop_size'?" in text, text
    assert "TypeError" not in text
    assert not out.exists()  # refused before anything was created


def test_adapters_run(problems: dict[str, lb.LatentProblem]) -> None:
    pytest.importorskip("pymoo")
    so = problems["so"]
    res = lbo.resolve("pymoo:GA", {"pop_size": 10}).solve(so, 40, seed=0)
    assert res.n_evals == 40
    res = lbo.resolve("random", {"batch": 10}).solve(problems["mo"], 30, seed=0)  # pymoo's prior sampling
    assert res.F_front is not None
    res = lbo.resolve("random", {"batch": 10}).solve(so, 30, seed=0)
    assert res.optimizer == "random"
    assert np.isfinite(res.best)
