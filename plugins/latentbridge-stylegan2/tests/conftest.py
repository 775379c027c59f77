"""Shared fixtures: the reference fixtures folder, marker-file hygiene, one torch thread, fresh plugins."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import latentbridge
import pytest
import torch

from sg2_support import Global, write_snapshot

MARKERS = ("pwned_marker", "pwned_marker_src")


def _repo_root() -> Path | None:
    """The latentbridge checkout holding this plugin: the nearest parent whose pyproject names latentbridge."""
    for parent in Path(__file__).resolve().parents:
        pp = parent / "pyproject.toml"
        if pp.is_file() and 'name = "latentbridge"' in pp.read_text():
            return parent
    return None


#: Names the folder of NVIDIA's reference outputs and snapshots, when they are kept elsewhere.
FIXTURES_ENV = "LATENTBRIDGE_STYLEGAN2_FIXTURES"


def fixtures_path() -> Path:
    """The folder of the StyleGAN2 reference fixtures: ``$LATENTBRIDGE_STYLEGAN2_FIXTURES``, else
    ``shared/fixtures/stylegan2`` in the folder that holds the latentbridge checkout."""
    named = os.environ.get(FIXTURES_ENV)
    if named:
        return Path(named).expanduser().resolve()
    root = _repo_root()
    parents = Path(__file__).resolve().parents
    base = root if root is not None else parents[min(3, len(parents) - 1)]
    return (base / ".." / "shared" / "fixtures" / "stylegan2").resolve()


def missing_fixtures_reason(path: Path) -> str:
    """Why the reference tests skip: what is missing and how to provide it."""
    return (
        f"NVIDIA stylegan2-ada-pytorch reference fixtures are missing (README.md, tiny_G.pkl, tiny_G.npz, cases.npz "
        f"made by the reference code; looked in {path}); set {FIXTURES_ENV} to a folder that holds them"
    )


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The NVIDIA reference fixtures; skips the test when they are absent."""
    path = fixtures_path()
    if not (path / "README.md").is_file() or not (path / "tiny_G.pkl").is_file():
        pytest.skip(missing_fixtures_reason(path))
    return path


@pytest.fixture
def no_markers() -> Iterator[list[Path]]:
    """Delete the malicious pickles' marker files before the test; the test asserts they stay absent."""
    paths = [Path(tempfile.gettempdir()) / name for name in MARKERS]
    for p in paths:
        p.unlink(missing_ok=True)
    yield paths
    for p in paths:
        p.unlink(missing_ok=True)


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Iterator[None]:
    """The test networks are tiny: one intra-op thread avoids spin-wait stalls on a shared 2-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True)
def _fresh_plugins() -> Iterator[None]:
    latentbridge.reset_plugins()
    yield
    latentbridge.reset_plugins()


@pytest.fixture
def snapshot_writer() -> Callable[..., Path]:
    """:func:`write_snapshot`, as a fixture."""
    return write_snapshot


@pytest.fixture
def forbidden_global() -> type[Global]:
    """A value class that pickles as a call of any global (to build refused pickles)."""
    return Global
