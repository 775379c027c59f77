"""describe(): the identity of generators and scorers that problem config hashes are built from."""

from __future__ import annotations

import pytest
import torch

import latentbridge as lb
from latentbridge import _protocols
from latentbridge._protocols import describe, set_origin, weights_digest


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Unflatten(1, (1, 4, 4)))


def test_weights_digest_tells_weights_apart_and_ignores_everything_else() -> None:
    a, b = _net(0), _net(1)
    assert weights_digest(a) != weights_digest(b)
    assert weights_digest(a) == weights_digest(_net(0))
    assert weights_digest(object()) is None


def test_weights_digest_is_computed_once_per_module(monkeypatch: pytest.MonkeyPatch) -> None:
    net = _net(2)
    calls = 0
    real = torch.nn.Module.state_dict

    def counting(self: torch.nn.Module, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += self is net  # children are visited by the parent's call
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.nn.Module, "state_dict", counting)
    gen = lb.TorchGenerator(net, lb.LatentSpace((4,)), (1, 4, 4))
    for _ in range(3):
        gen.config()
    assert calls == 1


def test_describe_adds_registry_origin_and_state_hash() -> None:
    gen = lb.TorchGenerator(_net(0), lb.LatentSpace((4,)), (1, 4, 4), name="g")
    plain = describe(gen)
    assert plain["state_sha256"] == weights_digest(gen)
    assert "registry" not in plain
    set_origin(gen, "my-gen", {"path": "w.pt", "scale": 2})
    assert describe(gen)["registry"] == {"name": "my-gen", "options": {"path": "w.pt", "scale": 2}}

    class Slotted:  # no __dict__: the origin is remembered on the side
        __slots__ = ("__weakref__",)

    obj = set_origin(Slotted(), "slotted", {})
    assert describe(obj)["registry"]["name"] == "slotted"


def test_embedding_scorer_identity_covers_the_embedder_weights() -> None:
    def scorer(seed: int) -> lb.EmbeddingScorer:
        return lb.EmbeddingScorer(_net(seed)[0], name="e")

    assert describe(scorer(0))["state_sha256"] != describe(scorer(1))["state_sha256"]
    assert _protocols.module_digest(_net(0)) == weights_digest(_net(0))
