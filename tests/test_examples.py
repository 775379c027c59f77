"""The commented suites in examples/ parse, and those on the embedded models plan (every name, file and parameter checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentbridge.bench import load_suite, plan

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.toml"))
NEEDS_WEIGHTS = {"stylegan2-facenet.toml"}  # names weights files that latentbridge does not ship


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_parses_and_plans(path: Path) -> None:
    suite = load_suite(path)
    assert suite.problems
    assert suite.optimizers
    if path.name in NEEDS_WEIGHTS:
        pytest.skip(f"{path.name} needs StyleGAN2/FaceNet weights that are not shipped (parsed only)")
    tasks = plan(suite)
    assert len(tasks) >= suite.seeds * len(suite.problems)
