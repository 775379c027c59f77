"""Every registered generator and scorer honours its contract (latentbridge.testing.check_generator/check_scorer)."""

from __future__ import annotations

import pytest

import latentbridge as lb
from latentbridge.errors import InputError, WeightsError
from latentbridge.testing import check_generator, check_scorer

# Plugins whose models need weights that no test may download; their own suites run the same
# contract checks on random weights (plugins/<name>/tests: test_conforms_to_the_*_contract).
_NEEDS_WEIGHTS = (
    "needs weights (a snapshot or state dict) that are not shipped; its plugin suite checks it on random weights"
)


def _load(kind: str, name: str) -> object:
    try:
        return lb.load_generator(name) if kind == "generator" else lb.load_scorer(name)
    except (WeightsError, InputError) as exc:
        if isinstance(exc, WeightsError) or "path=" in str(exc) or "weights" in str(exc):
            pytest.skip(f"{kind} {name!r} {_NEEDS_WEIGHTS}: {str(exc).splitlines()[0][:120]}")
        raise


@pytest.mark.parametrize("name", lb.registry("generator").names())
def test_registered_generator_contract(name: str) -> None:
    check_generator(_load("generator", name))


@pytest.mark.parametrize("name", lb.registry("scorer").names())
def test_registered_scorer_contract(name: str) -> None:
    scorer = _load("scorer", name)
    check_scorer(scorer, (1, 28, 28))
    check_scorer(scorer, (3, 16, 12))


def test_public_validation_module_is_what_core_uses() -> None:
    from latentbridge import _scorers, _validation, validation

    assert validation.as_device is _scorers.as_device
    for name in ("as_image", "check_images", "check_latents", "check_positive_int"):
        assert getattr(validation, name) is getattr(_validation, name)
    with pytest.raises(InputError, match="k must be"):
        validation.check_positive_int(0, "k")
