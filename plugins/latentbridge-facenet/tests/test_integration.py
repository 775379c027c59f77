"""Seed 000 end to end: tiny StyleGAN2 + FaceNet (random weights) through the pymoo paper GA."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

POP_SIZE = 12  # a 23M-parameter FaceNet forward per image on 2 CPU cores: keep the run short
FIXTURES_ENV = "LATENTBRIDGE_STYLEGAN2_FIXTURES"  # a folder of NVIDIA's StyleGAN2 reference snapshots


def _fixture() -> Path:
    """``tiny_G.pkl`` in ``$LATENTBRIDGE_STYLEGAN2_FIXTURES``, else in shared/fixtures/stylegan2 beside the checkout."""
    named = os.environ.get(FIXTURES_ENV)
    base = Path(named) if named else Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "stylegan2"
    return base / "tiny_G.pkl"


FIXTURE = _fixture()


@pytest.mark.slow
def test_target_similarity_with_paper_ga(weights_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("latentbridge_stylegan2", reason="the stylegan2 plugin is not installed")
    lb_pymoo = pytest.importorskip("latentbridge.pymoo", reason="latentbridge.pymoo is not available")
    minimize = pytest.importorskip("pymoo.optimize").minimize
    from pymoo.core.callback import Callback

    if not FIXTURE.is_file():
        pytest.skip(
            f"the tiny StyleGAN2 snapshot made by NVIDIA's reference code (tiny_G.pkl) is missing (looked for "
            f"{FIXTURE}); set {FIXTURES_ENV} to a folder that holds it"
        )
    import latentbridge

    if not hasattr(latentbridge, "TargetSimilarity") or not hasattr(lb_pymoo, "paper_ga"):
        pytest.skip("latentbridge.TargetSimilarity / latentbridge.pymoo.paper_ga not available yet")
    monkeypatch.delenv("LATENTBRIDGE_BLOCK_PLUGINS")
    latentbridge.reset_plugins()

    gen = latentbridge.load_generator("stylegan2", path=FIXTURE)
    scorer = latentbridge.load_scorer("facenet", weights=weights_file, crop_box=(0.125, 0.125, 0.875, 0.875))
    z0 = torch.from_numpy(gen.latent.sample(1, seed=0).astype(np.float32)).reshape(1, *gen.latent.shape)
    with torch.inference_mode():
        target = gen.generate(z0.to(gen.device))[0].clamp(-1, 1)  # the random tiny G overshoots [-1, 1] a lot
    problem = latentbridge.TargetSimilarity(gen, scorer, target, batch_size=32)
    firsts: list[float] = []

    class FirstGeneration(Callback):
        def notify(self, algorithm: Any) -> None:
            if not firsts:
                firsts.append(float(np.min(algorithm.pop.get("F"))))

    algorithm = lb_pymoo.paper_ga(pop_size=POP_SIZE)
    res = minimize(lb_pymoo.as_pymoo(problem), algorithm, ("n_gen", 3), seed=1, callback=FirstGeneration())

    assert res.X is not None
    best = np.asarray(res.F, dtype=float).ravel()
    assert np.all(np.isfinite(best))
    assert len(firsts) == 1
    assert best.min() <= firsts[0]  # the best ever seen is reported, never worse than the initial population's
