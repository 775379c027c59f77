"""qd.solve: pyribs' algorithms by name through ask/tell, budgets, determinism, resume from a journal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import latentbridge as lb
from latentbridge.errors import InputError, NonFiniteFitnessWarning, StoreError, UnknownNameError
from latentbridge.qd import Journal, QualityDiversity, algorithm, solve

SMALL = {"emitters": 2, "batch_size": 10}


@pytest.mark.parametrize("name", ["map-elites", "cma-me", "cma-mae", "cma-mega", "cma-maega"])
def test_every_algorithm_fills_an_archive_within_the_budget(tiny_qd: QualityDiversity, name: str) -> None:
    res = solve(tiny_qd, name, budget=130, seed=0, grid=8, **SMALL)
    size = algorithm(name).iteration_size(res.params)
    assert res.n_evals == (130 // size) * size == tiny_qd.n_evals
    assert res.iterations == 130 // size
    assert len(res.trace.evals) == res.iterations
    assert res.n_grad_evals == (2 * res.iterations if algorithm(name).gradient else 0)
    assert len(res.archive) > 1
    assert res.metrics.num_elites == len(res.archive)
    m = res.archive.metrics()
    assert res.metrics == m
    assert res.trace.qd_score[-1] == pytest.approx(m.qd_score)
    assert m.best == pytest.approx(-res.result.f)  # the OptimizeResult is the best elite of fitness -objective
    assert res.result.extra["qd"] == m.as_dict()
    assert res.result.n_evals == res.n_evals
    assert name in repr(res)


@pytest.mark.parametrize("name", ["cma-me", "cma-mega"])
def test_the_same_seed_gives_the_same_archive(tiny_qd: QualityDiversity, name: str) -> None:
    a = solve(tiny_qd, name, budget=100, seed=4, grid=8, **SMALL)
    b = solve(tiny_qd, name, budget=100, seed=4, grid=8, **SMALL)
    c = solve(tiny_qd, name, budget=100, seed=5, grid=8, **SMALL)
    assert np.array_equal(a.archive.solution, b.archive.solution)
    assert a.trace.qd_score == b.trace.qd_score
    assert not np.array_equal(a.archive.objective, c.archive.objective)


def test_one_batched_evaluation_per_ask(tiny_qd: QualityDiversity) -> None:
    batches: list[int] = []
    with tiny_qd.observe(lambda e: batches.append(e.n)):
        solve(tiny_qd, "cma-me", budget=60, seed=0, grid=8, **SMALL)
        solve(tiny_qd, "cma-mega", budget=44, seed=0, grid=8, **SMALL)
    assert batches == [20, 20, 20, 2, 20, 2, 20]  # cma-mega: ask_dqd (1 per emitter) then ask


def test_pyribs_schedulers_drive_the_problem_unchanged(tiny_qd: QualityDiversity) -> None:
    """The user's own pyribs loop: one evaluate_qd per ask, one evaluate_qd_grad per ask_dqd."""
    from ribs.archives import GridArchive
    from ribs.emitters import EvolutionStrategyEmitter, GradientArborescenceEmitter
    from ribs.schedulers import Scheduler

    grid = tiny_qd.grid(8)
    archive = GridArchive(solution_dim=tiny_qd.dim, dims=grid.dims, ranges=grid.ranges, seed=1)
    emitters = [
        EvolutionStrategyEmitter(archive, x0=np.zeros(tiny_qd.dim), sigma0=0.3, batch_size=8, seed=2),
        GradientArborescenceEmitter(archive, x0=np.zeros(tiny_qd.dim), sigma0=0.3, lr=0.1, batch_size=8, seed=3),
    ]
    scheduler = Scheduler(archive, [emitters[1]])
    for _ in range(3):
        Z = scheduler.ask_dqd()
        obj, meas, jac = tiny_qd.evaluate_qd_grad(Z)
        scheduler.tell_dqd(obj, meas, jac)
        Z = scheduler.ask()
        scheduler.tell(*tiny_qd.evaluate_qd(Z))
    es = Scheduler(archive, [emitters[0]])
    for _ in range(3):
        Z = es.ask()
        es.tell(*tiny_qd.evaluate_qd(Z))
    assert tiny_qd.n_evals == 3 * 9 + 3 * 8
    assert len(archive) > 1


def test_bad_requests_raise_one_clear_error(tiny_qd: QualityDiversity, hard_qd: QualityDiversity) -> None:
    with pytest.raises(UnknownNameError, match="cma-me"):
        solve(tiny_qd, "cma-mme", budget=100, seed=0)
    with pytest.raises(InputError, match="smaller than one cma-me iteration"):
        solve(tiny_qd, "cma-me", budget=100, seed=0)  # 5 x 30
    with pytest.raises(InputError, match="does not take"):
        solve(tiny_qd, "cma-me", budget=300, seed=0, lr=0.1)
    with pytest.raises(InputError, match="are not"):
        solve(hard_qd, "cma-mega", budget=300, seed=0)
    with pytest.raises(InputError, match="QualityDiversity"):
        solve(lb.TargetSimilarity(tiny_qd.generator, lb.load_scorer("rmse"), tiny_qd.render(np.zeros(8))[0]), "cma-me",
              budget=300, seed=0)  # fmt: skip
    with pytest.raises(InputError, match=r"grid must be an int or 2 ints \(cells per measure\)"):
        solve(tiny_qd, "cma-me", budget=300, seed=0, grid=(4, 4, 4))


def test_algorithms_run_on_exact_lsi_measures(hard_qd: QualityDiversity) -> None:
    res = solve(hard_qd, "map-elites", budget=40, seed=0, grid=(16, 8), emitters=1, batch_size=20)
    assert res.archive.grid.names == ("boldness", "lightness")
    assert len(res.archive) > 1


@pytest.mark.parametrize("name", ["cma-me", "cma-mega", "map-elites"])
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(
    tiny_qd: QualityDiversity, name: str, tmp_path: Path
) -> None:
    full = solve(tiny_qd, name, budget=160, seed=7, grid=8, **SMALL)
    ck = tmp_path / "run.npz"
    first = solve(tiny_qd, name, budget=80, seed=7, grid=8, checkpoint=ck, checkpoint_every=1, **SMALL)
    assert ck.is_file()
    assert first.resumed_iterations == 0
    before = tiny_qd.n_evals
    resumed = solve(tiny_qd, name, budget=160, seed=7, grid=8, checkpoint=ck, **SMALL)
    assert resumed.resumed_iterations == first.iterations
    assert tiny_qd.n_evals - before == resumed.n_evals - first.n_evals  # replayed iterations are not evaluated
    assert resumed.n_evals == full.n_evals
    assert resumed.trace.qd_score == full.trace.qd_score
    assert np.array_equal(resumed.archive.solution, full.archive.solution)
    assert np.array_equal(resumed.archive.objective, full.archive.objective)
    assert np.array_equal(resumed.result.x, full.result.x)


def test_resume_refuses_another_runs_or_a_tampered_checkpoint(tiny_qd: QualityDiversity, tmp_path: Path) -> None:
    ck = tmp_path / "run.npz"
    solve(tiny_qd, "cma-me", budget=60, seed=1, grid=8, checkpoint=ck, **SMALL)
    with pytest.raises(InputError, match=r"another run \(it differs in \['seed'\]\)"):
        solve(tiny_qd, "cma-me", budget=100, seed=2, grid=8, checkpoint=ck, **SMALL)
    journal = Journal.from_bytes(ck.read_bytes())
    journal.objective[0] = journal.objective[0] + 0.5  # other told values: pyribs asks other solutions next
    journal.save(ck)
    with pytest.raises(StoreError, match=r"at iteration [12] pyribs asked other solutions"):
        solve(tiny_qd, "cma-me", budget=100, seed=1, grid=8, checkpoint=ck, **SMALL)
    ck.write_bytes(b"not a zip")
    with pytest.raises(StoreError, match="not a latentbridge array file"):
        solve(tiny_qd, "cma-me", budget=100, seed=1, grid=8, checkpoint=ck, **SMALL)


def test_journal_round_trip_and_shape_checks(tiny_qd: QualityDiversity, tmp_path: Path) -> None:
    ck = tmp_path / "run.npz"
    solve(tiny_qd, "cma-mega", budget=44, seed=0, grid=8, checkpoint=ck, **SMALL)
    j = Journal.from_bytes(ck.read_bytes())
    assert len(j) == 2
    assert j.sizes == [(2, 20), (2, 20)]
    assert len(j.jacobian) == 2
    assert Journal.from_bytes(j.to_bytes()).to_bytes() == j.to_bytes()
    with np.load(ck, allow_pickle=False) as npz:  # plain numpy reads it too
        assert npz["jacobian"].shape == (4, 3, 8)
    j.sizes[0] = (2, 21)
    with pytest.raises(StoreError, match="objective has shape"):
        Journal.from_bytes(j.to_bytes())


def test_failed_evaluations_stay_out_of_the_archive(tiny_gen: lb.TorchGenerator, tiny_target: object) -> None:
    import torch

    class Flaky(torch.nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            out = tiny_gen.module(z)
            return torch.where(z[:, :1, None, None] > 0.5, torch.full_like(out, float("nan")), out)

    gen = lb.TorchGenerator(Flaky(), tiny_gen.latent, tiny_gen.image_shape)
    from latentbridge.measures import Similarity

    p = QualityDiversity(
        gen, Similarity(lb.load_scorer("rmse"), tiny_target), ["boldness"], ranges=[(0, 64)], qd_offset=-2.0
    )
    with pytest.warns(NonFiniteFitnessWarning):
        res = solve(p, "cma-me", budget=100, seed=0, grid=8, **SMALL)
    assert 0 < res.result.n_failed < 100
    assert np.all(np.isfinite(res.archive.objective))
    assert np.all(res.archive.solution[:, 0] <= 0.5)
