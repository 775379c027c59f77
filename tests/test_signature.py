"""latentbridge._signature: one check of a call against a signature, with close names suggested."""

from __future__ import annotations

from typing import Any

import pytest

from latentbridge._signature import check_call, close_matches, unknown_names_error
from latentbridge.errors import InputError


def _solver(problem: Any, budget: int, seed: int, *, batch: int = 100, pop_size: int = 10) -> None:
    """A stand-in with the shape of an optimizer: positional inputs the caller passes, keyword parameters."""


class _Opaque:
    """A callable whose signature cannot be read (as for some C functions)."""

    __signature__ = "unreadable"

    def __call__(self, **kwargs: Any) -> None: ...


def test_accepted_calls_pass() -> None:
    check_call(_solver, "s", {}, args=(None,), fixed={"budget": 1, "seed": 0})
    check_call(_solver, "s", {"batch": 5, "pop_size": 3}, args=(None,), fixed={"budget": 1, "seed": 0})
    check_call(_Opaque(), "opaque", {"anything": 1})  # no readable signature: the call decides


def test_unknown_names_get_close_matches_and_the_accepted_list() -> None:
    with pytest.raises(
        InputError,
        match=r"^paper-ga: unknown parameter\(s\) 'popsize' \(did you mean 'pop_size'\?\); it accepts: batch, pop_size$",
    ):
        check_call(_solver, "paper-ga", {"popsize": 40}, args=(None,), fixed={"budget": 1, "seed": 0})
    with pytest.raises(InputError, match=r"unknown option\(s\) 'zzz'; it accepts: batch, pop_size$"):
        check_call(_solver, "x", {"zzz": 1}, args=(None,), fixed={"budget": 1, "seed": 0}, noun="option")


def test_names_the_caller_sets_are_refused() -> None:
    with pytest.raises(InputError, match=r"'seed' cannot be set here"):
        check_call(_solver, "random", {"seed": 3}, args=(None,), fixed={"budget": 1, "seed": 0})


def test_other_mismatches_name_the_call() -> None:
    with pytest.raises(InputError, match=r"^s: missing a required argument: 'seed'"):
        check_call(_solver, "s", {}, args=(None, 1))


def test_keyword_catch_all_accepts_any_name() -> None:
    def anything(**kwargs: Any) -> None: ...

    check_call(anything, "a", {"whatever": 1})


def test_message_helpers() -> None:
    assert close_matches(["popsize", "devise", "zzz", "pop_siz"], ["pop_size", "device"]) == ["pop_size", "device"]
    err = unknown_names_error("DE", ["popsize"], ["pop_size", "sampling"], owner="DE")
    assert str(err) == "DE: unknown parameter(s) 'popsize' (did you mean 'pop_size'?); DE accepts: pop_size, sampling"
    assert str(unknown_names_error("f", ["a"], [])).endswith("it accepts: no parameters")
