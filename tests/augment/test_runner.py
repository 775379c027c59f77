from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.augment import DEFAULT_ARMS as ARMS
from latentbridge.augment import AugmentStore, AugmentStoreError, augment
from latentbridge.augment.runner import derive_seed
from latentbridge.augment.shift import SHIFTS
from latentbridge.errors import InputError
from latentbridge.testing import registered

from .conftest import TINY, make_folder


def _table(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.arm, r.seed, r.fold, r.accuracy, r.precision, r.recall, r.f1, r.val_accuracy) for r in rows]


def test_every_arm_end_to_end_then_resume_is_a_no_op(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    notes: list[tuple[str, int, int]] = []
    s = augment(shapes, out, **TINY, progress=lambda *note: notes.append(note))
    whole = [(done, total) for phase, done, total in notes if phase == "overall"]
    units = 3 + 4 * 2 * 3 + len(ARMS) * 2 * 2  # GANs, sets, classifier fits: known before the first unit
    assert whole[0] == (0, units)
    assert whole[-1] == (units, units)
    assert all(t == units for _, t in whole)
    assert [d for d, _ in whole] == sorted(d for d, _ in whole)  # it only moves forward
    assert len(s.results) == len(ARMS) * 2 * 2
    assert {r.arm for r in s.results} == set(ARMS)
    assert s.computed == {"generators": 3, "sets": 4 * 2 * 3, "results": 20}
    for r in s.results:
        assert 0.0 <= r.accuracy <= 1.0
        assert 0.0 <= r.f1 <= 1.0
        assert r.n_train == 3 * 3 + (0 if r.arm == "none" else 3 * 6)  # 3 classes × 3 originals (+ k=6 per class)
    for name in ("results.csv", "report.md", "report.html", "boxplots.png", "fig11_first_vs_last.png"):
        assert (out / name).is_file(), name
    assert len(list((out / "grids").glob("*.png"))) == 3
    assert len(list((out / "selected" / "supervisor" / "cross").glob("*.png"))) == 2 * 6
    assert len(list((out / "generators").glob("*.pt"))) == 3
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("arm,seed,fold,accuracy,precision,recall,f1")
    assert len(csv_lines) == 21
    md = (out / "report.md").read_text()
    assert "Wilcoxon" in md
    assert "A12" in md
    assert "supervisor-cc" in md
    assert "Verdict" in md
    with AugmentStore(out / "augment.sqlite", readonly=True) as st:
        assert st.meta("config")["seeds"] == 2
        assert "torch" in st.meta("versions")
        sets = {(r.arm, r.seed, r.label): r for r in st.sets()}
        shifted = st.shift_results()
    # every classifier is also scored on each distribution-shifted copy of the test split
    assert sorted((r.arm, r.seed, r.fold, r.shift) for r in shifted) == sorted(
        (r.arm, r.seed, r.fold, name) for r in s.results for name in SHIFTS
    )
    sup = sets[("supervisor", 0, 0)]
    assert sup.images.shape == (6, 1, 8, 8)
    assert sup.fitness is not None
    assert sup.first_fitness is not None
    assert sup.fitness <= sup.first_fitness
    assert sup.n_evals == TINY["budget"]
    assert sets[("affine", 0, 0)].images.shape == (6, 1, 8, 8)

    resumed: list[tuple[str, int, int]] = []
    again = augment(shapes, out, resume=True, **TINY, progress=lambda *note: resumed.append(note))
    assert resumed[0] == ("overall", units, units)  # a resumed run starts where the stored one stopped
    assert again.computed == {"generators": 0, "sets": 0, "results": 0}
    assert _table(again.results) == _table(s.results)


def test_rerun_needs_resume_and_the_same_config(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    tiny = {**TINY, "arms": ("none", "affine")}
    augment(shapes, out, **tiny)
    with pytest.raises(AugmentStoreError, match=r"already holds results.*--resume"):
        augment(shapes, out, **tiny)
    with pytest.raises(AugmentStoreError, match=r"another configuration \(differs in: folds"):
        augment(shapes, out, resume=True, **{**tiny, "folds": 3})


def test_process_executor_gives_the_serial_results(shapes: Path, tmp_path: Path) -> None:
    tiny = {**TINY, "arms": ("none", "affine"), "seeds": 1}
    a = augment(shapes, tmp_path / "a", **tiny, report=False)
    b = augment(shapes, tmp_path / "b", **tiny, report=False, executor="process", workers=1)
    assert _table(a.results) == _table(b.results)


def test_bad_options(shapes: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="arms must be distinct names"):
        augment(shapes, tmp_path / "x", **{**TINY, "arms": ("random",)})
    with pytest.raises(InputError, match=r"budget .* at least one GA population"):
        augment(shapes, tmp_path / "x", **{**TINY, "budget": 5})
    with pytest.raises(InputError, match="classifier must be one of"):
        augment(shapes, tmp_path / "x", **{**TINY, "classifier": "forest"})
    assert not (tmp_path / "x").exists()


def _conditional(label: int = 0, size: int = 8) -> lb.TorchGenerator:
    """A class-conditional test generator: a seeded random net per label."""
    torch.manual_seed(100 + label)
    net = torch.nn.Sequential(torch.nn.Linear(6, size * size), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, size, size)))
    return lb.TorchGenerator(net, lb.LatentSpace((6,)), (1, size, size), name=f"cond-{label}")


def test_registered_conditional_generator(shapes: Path, tmp_path: Path, fresh_plugins: None) -> None:
    tiny = {**TINY, "arms": ("none", "random", "supervisor"), "seeds": 1}
    with registered("generator", "tiny-conditional", _conditional):
        s = augment(shapes, tmp_path / "run", generator="tiny-conditional", **tiny, report=False)
        assert s.computed["generators"] == 0
        assert s.computed["sets"] == 2 * 3
        assert not (tmp_path / "run" / "generators").exists()
        with pytest.raises(InputError, match=r"makes images of shape \(1, 9, 9\), but DATA's images are \(1, 8, 8\)"):
            augment(shapes, tmp_path / "bad", generator="tiny-conditional", generator_options={"size": 9}, **tiny)
        assert not (tmp_path / "bad").exists()


def test_derived_seeds_are_stable_and_distinct() -> None:
    assert derive_seed(0, "set", 1, 2) == derive_seed(0, "set", 1, 2)
    assert len({derive_seed(0, "set", s, c) for s in range(5) for c in range(10)}) == 50
    assert 0 <= derive_seed(123, "x") < 2**31
    assert np.all(np.array([derive_seed(i) for i in range(3)]) >= 0)


def test_a_class_conditional_generator_serves_every_class_and_reports_its_quality(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    s = augment(shapes, out, **{**TINY, "arms": ("none", "random", "coverage"), "generator": "cdcgan", "cgan_steps": 6})
    assert {r.arm for r in s.results} == {"none", "random", "coverage"}
    assert len(list((out / "generators").glob("conditional-*.pt"))) == 1  # one model for all classes
    assert s.computed["generators"] == 3
    with AugmentStore(out / "augment.sqlite", readonly=True) as st:
        rows = st.generators()
        sets = {(r.arm, r.seed, r.label): r for r in st.sets()}
    assert {r["kind"] for r in rows.values()} == {"cdcgan"}
    assert len({r["path"] for r in rows.values()}) == 1
    assert rows[1]["info"]["shared_with_class"] == 0
    for row in rows.values():
        q = row["info"]["quality"]
        assert 0.0 <= q["agreement"] <= 1.0
        assert q["frechet"] >= 0.0
        assert q["n"] == 200
    assert sets[("random", 0, 2)].images.shape == (6, 1, 8, 8)
    assert "Generator quality" in (out / "report.md").read_text()
    again = augment(
        shapes,
        out,
        resume=True,
        **{**TINY, "arms": ("none", "random", "coverage"), "generator": "cdcgan", "cgan_steps": 6},
    )
    assert again.computed == {"generators": 0, "sets": 0, "results": 0}


def test_resume_may_add_arms_and_computes_only_theirs(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    tiny = {**TINY, "arms": ("none", "affine")}
    first = augment(shapes, out, **tiny)
    more = augment(shapes, out, resume=True, **{**tiny, "arms": ("none", "affine", "duplicate")})
    assert more.computed == {"generators": 0, "sets": 2 * 3, "results": 2 * 2}  # the new arm's sets and fits only
    assert _table([r for r in more.results if r.arm != "duplicate"]) == _table(first.results)
    dup = [r for r in more.results if r.arm == "duplicate"]
    assert all(r.n_train == 3 * 3 + 3 * 6 for r in dup)
    with AugmentStore(out / "augment.sqlite", readonly=True) as st:
        assert st.meta("config")["arms"] == ["none", "affine", "duplicate"]
        assert st.meta("arms_added") == [["duplicate"]]
    again = augment(shapes, out, resume=True, **{**tiny, "arms": ("none", "affine", "duplicate")})
    assert again.computed == {"generators": 0, "sets": 0, "results": 0}
    with pytest.raises(AugmentStoreError, match="differs in: arms"):  # dropping an arm is another run
        augment(shapes, out, resume=True, **tiny)
    with pytest.raises(AugmentStoreError, match="differs in: arms, folds"):
        augment(shapes, out, resume=True, **{**tiny, "arms": ("none", "affine", "random"), "folds": 3})


def test_adding_arms_to_a_run_of_other_data_changes_nothing(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    tiny = {**TINY, "arms": ("none", "affine")}
    augment(shapes, out, **tiny)
    other = make_folder(tmp_path / "other", seed=1)
    with pytest.raises(AugmentStoreError, match=r"differs in: arms, data"):
        augment(other, out, resume=True, **{**tiny, "arms": ("none", "affine", "duplicate")})
    with AugmentStore(out / "augment.sqlite", readonly=True) as st:
        assert st.meta("config")["arms"] == ["none", "affine"]
        assert st.meta("arms_added") is None


def test_a_setting_the_run_never_reads_does_not_block_its_resume(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    tiny = {**TINY, "arms": ("none", "affine")}
    augment(shapes, out, **{**tiny, "cgan_steps": 1200})  # per-class generators: cgan_steps is never read
    again = augment(shapes, out, resume=True, **tiny)
    assert again.computed == {"generators": 0, "sets": 0, "results": 0}
    cond = {**tiny, "arms": ("none", "random"), "generator": "cdcgan", "cgan_steps": 4}
    augment(shapes, tmp_path / "cond", **cond)
    with pytest.raises(AugmentStoreError, match="differs in: cgan_steps"):  # here it is read
        augment(shapes, tmp_path / "cond", resume=True, **{**cond, "cgan_steps": 5})
