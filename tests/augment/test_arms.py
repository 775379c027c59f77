"""Arms by name: built-ins, combinations, and an arm a third-party distribution registers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import latentbridge as lb
from latentbridge.augment import ARMS, ArmContext, ArmSet, augment, get_arm
from latentbridge.augment.arms import CombinedArm, build_set, known_arms, needs_feedback, needs_generator
from latentbridge.augment.classifiers import CNNClassifier
from latentbridge.errors import InputError, UnknownNameError

from .conftest import TINY

PLUGIN = '''
"""A third-party augmentation arm made by the test suite: the class's originals, flipped left-right."""
import numpy as np
import latentbridge as lb
from latentbridge.augment import ArmSet


class FlipArm:
    needs_generator = False

    def build(self, ctx):
        idx = np.arange(ctx.k) % len(ctx.originals)
        return ArmSet(np.ascontiguousarray(ctx.originals[idx][..., ::-1]))


class BrokenArm:
    needs_generator = False

    def build(self, ctx):
        return ArmSet(np.full((ctx.k, 1, 8, 8), 7.0, np.float32))


@lb.hookimpl
def latentbridge_register_arms(register):
    register("flip", FlipArm, description="left-right flips of the originals")
    register("broken-arm", BrokenArm)
'''


@pytest.fixture
def flip_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the plugin the way an installer leaves it (module + dist-info with an entry point)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "lb_fliparm.py").write_text(PLUGIN)
    info = site / "lb_fliparm-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lb-fliparm\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[latentbridge]\nfliparm = lb_fliparm\n")
    monkeypatch.syspath_prepend(str(site))
    lb.reset_plugins()
    yield
    lb.reset_plugins()


def _dcgan_spec(tmp_path: Path) -> dict[str, object]:
    """A small untrained per-class DCGAN saved as the runner caches them."""
    import torch

    from latentbridge.augment.generators import save_state
    from latentbridge.models.dcgan import Generator

    torch.manual_seed(0)
    path = tmp_path / "g.pt"
    save_state(Generator((1, 28, 28), 100, 8).eval(), path)
    return {"kind": "dcgan", "path": path, "image_shape": (1, 28, 28), "latent_dim": 100, "channels": 8}


def _ctx(arm: str, k: int = 4, **kw: object) -> ArmContext:
    originals = np.random.default_rng(0).uniform(-1, 1, (3, 1, 8, 8)).astype(np.float32)
    return ArmContext(arm=arm, seed=0, label=0, run_seed=1, originals=originals, k=k, n_classes=2, **kw)  # type: ignore[arg-type]


def test_builtin_arms_say_what_they_need() -> None:
    assert not needs_generator("affine")
    assert not needs_generator("none")
    assert needs_generator("random")
    assert needs_generator("coverage")
    assert needs_feedback("bald")
    assert not needs_feedback("supervisor-cc")
    assert needs_generator("random+affine")
    assert needs_feedback("affine+uncertain")
    assert set(ARMS) <= set(known_arms())


def test_unknown_and_malformed_arm_names_get_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean: coverage"):
        get_arm("coverag")
    with pytest.raises(InputError, match="distinct arms other than 'none'"):
        get_arm("random+random")
    with pytest.raises(InputError, match="distinct arms other than 'none'"):
        get_arm("none+affine")
    with pytest.raises(InputError, match="needs the feedback classifier"):
        build_set(_ctx("uncertain", generator=_dcgan_spec(tmp_path)))


def test_a_combination_splits_k_between_its_parts() -> None:
    arm = CombinedArm([("affine", get_arm("affine"))] * 2)
    out = arm.build(_ctx("affine+affine", k=5))
    assert out.images.shape == (5, 1, 8, 8)
    with pytest.raises(InputError, match="needs k >= 2"):
        arm.build(_ctx("affine+affine", k=1))


def test_feedback_arms_run_on_a_generator_and_report_their_search(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (20, 1, 28, 28)).astype(np.float32)
    y = np.arange(20) % 2
    feedback = CNNClassifier(2, seed=0, epochs=1).fit(x, y)
    checker = CNNClassifier(2, seed=1, epochs=1).fit(x, y)
    spec = _dcgan_spec(tmp_path)
    for arm in ("uncertain", "margin", "bald", "coverage"):
        ctx = ArmContext(
            arm=arm,
            seed=0,
            label=1,
            run_seed=3,
            originals=x[y == 1],
            k=3,
            n_classes=2,
            generator=spec,
            budget=20,
            pop_size=10,
            feedback=feedback,
            checker=checker,
            classifier=checker,
        )
        out = build_set(ctx)
        again = build_set(ctx)
        assert out.images.shape == (3, 1, 28, 28)
        assert out.n_evals == 20
        assert out.fitness is not None
        assert out.first_fitness is not None
        assert out.fitness <= out.first_fitness
        assert np.array_equal(out.images, again.images)  # deterministic under the set's seed
        assert out.agreement is not None


@pytest.mark.usefixtures("flip_plugin")
def test_a_plugin_arm_is_found_by_name_and_run_like_a_builtin(shapes: Path, tmp_path: Path) -> None:
    assert "flip" in known_arms()
    entry = lb.registry("arm").get("flip")
    assert (entry.distribution, entry.description) == ("lb-fliparm", "left-right flips of the originals")
    s = augment(shapes, tmp_path / "run", **{**TINY, "arms": ("none", "flip", "flip+affine")})
    assert {r.arm for r in s.results} == {"none", "flip", "flip+affine"}
    assert ",flip+affine,none," in (tmp_path / "run" / "comparisons.csv").read_text()


@pytest.mark.usefixtures("flip_plugin")
def test_a_plugin_arm_returning_bad_images_is_named(shapes: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="arm 'broken-arm' returned images outside"):
        augment(shapes, tmp_path / "run", **{**TINY, "arms": ("none", "broken-arm")})
    assert isinstance(ArmSet(np.zeros((1, 1, 2, 2), np.float32)), ArmSet)


def test_duplicate_repeats_the_originals_unchanged() -> None:
    ctx = _ctx("duplicate", k=5)
    out = get_arm("duplicate").build(ctx)
    assert np.array_equal(out.images, ctx.originals[[0, 1, 2, 0, 1]])
    assert not needs_generator("duplicate")
