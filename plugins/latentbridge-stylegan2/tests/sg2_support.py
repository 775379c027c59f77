"""Test support for the StyleGAN2 plugin: tiny configs and a writer of NVIDIA-format snapshot pickles."""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentbridge_stylegan2.networks import Generator

TINY_KWARGS: dict[str, Any] = {
    "z_dim": 8,
    "c_dim": 0,
    "w_dim": 12,
    "img_resolution": 16,
    "img_channels": 3,
    "mapping_kwargs": {"num_layers": 2},
    "synthesis_kwargs": {"channel_base": 128, "channel_max": 16},
}

TINY_COND_KWARGS: dict[str, Any] = {
    "z_dim": 6,
    "c_dim": 3,
    "w_dim": 10,
    "img_resolution": 8,
    "img_channels": 1,
    "mapping_kwargs": {"num_layers": 3},
    "synthesis_kwargs": {"channel_base": 64, "channel_max": 16, "architecture": "resnet", "conv_clamp": 2.0},
}


def make_net(kwargs: dict[str, Any], seed: int = 0) -> Generator:
    """A random generator with non-trivial noise strengths, biases and w_avg (so every term matters)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Generator(**kwargs)
        with torch.no_grad():
            for name, p in net.named_parameters():
                if name.endswith("noise_strength"):
                    p.fill_(0.3)
                elif name.endswith("bias"):
                    p.add_(0.1 * torch.randn_like(p))
            net.mapping.w_avg.copy_(0.5 * torch.randn_like(net.mapping.w_avg))
    return net.eval()


# ---------------------------------------------------------------- NVIDIA-format snapshot writer
class _EasyDict(dict):  # type: ignore[type-arg]
    """Pickled as ``dnnlib.util.EasyDict`` (NEWOBJ + SETITEMS), like NVIDIA's."""


def _reconstruct_never(meta: Any) -> Any:  # pragma: no cover - the reader must never call it
    raise AssertionError("the fake _reconstruct_persistent_obj must never be called")


class _Persistent:
    """Pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_reconstruct_never, (self.meta,))


class Global:
    """Pickles as a call of an arbitrary ``module.name`` global with ``args`` (for forbidden globals)."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (self.func, self.args)


@contextlib.contextmanager
def fake_nvidia_modules() -> Iterator[None]:
    """Temporarily make ``torch_utils.persistence`` and ``dnnlib.util`` importable names for the pickler."""
    names = ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util")
    saved = {n: sys.modules.get(n) for n in names}
    mods = {n: types.ModuleType(n) for n in names}
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_never  # type: ignore[attr-defined]
    mods["dnnlib.util"].EasyDict = _EasyDict  # type: ignore[attr-defined]
    mods["torch_utils"].persistence = mods["torch_utils.persistence"]  # type: ignore[attr-defined]
    mods["dnnlib"].util = mods["dnnlib.util"]  # type: ignore[attr-defined]
    old = (_reconstruct_never.__module__, _EasyDict.__module__, _EasyDict.__qualname__)
    _reconstruct_never.__module__, _reconstruct_never.__qualname__ = (
        "torch_utils.persistence",
        "_reconstruct_persistent_obj",
    )
    _EasyDict.__module__, _EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    sys.modules.update(mods)
    try:
        yield
    finally:
        _reconstruct_never.__module__, _reconstruct_never.__qualname__ = old[0], "_reconstruct_never"
        _EasyDict.__module__, _EasyDict.__qualname__ = old[1], old[2]
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def _easy(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = _EasyDict()
        out.update({k: _easy(v) for k, v in obj.items()})
        return out
    return obj


def module_meta(
    module: torch.nn.Module, init_kwargs: dict[str, Any] | None, module_src: str, extra: dict[str, Any] | None = None
) -> _Persistent:
    """The persistent record of ``module`` in NVIDIA's layout (children recursively, no init args for them)."""
    state: dict[str, Any] = {
        "training": False,
        "_parameters": dict(module._parameters),
        "_buffers": dict(module._buffers),
        "_non_persistent_buffers_set": set(),
        "_modules": {n: module_meta(c, {}, module_src) for n, c in module._modules.items() if c is not None},
        "_init_args": (),
        "_init_kwargs": _easy(init_kwargs or {}),
    }
    for k in ("weight_gain", "bias_gain"):
        if hasattr(module, k):
            state[k] = np.float64(getattr(module, k))
    state.update(extra or {})
    meta = {
        "type": "class",
        "version": 6,
        "module_src": module_src,
        "class_name": type(module).__name__,
        "state": state,
    }
    return _Persistent(meta)


def write_snapshot(
    path: Path,
    net: Generator,
    *,
    protocol: int = 4,
    module_src: str = "raise SystemExit('module_src must never run')\n",
    g_ema_extra: dict[str, Any] | None = None,
    top_extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``net`` as an NVIDIA network snapshot: ``{training_set_kwargs, G, D, G_ema, augment_pipe}``."""
    g = module_meta(net, dict(net.init_kwargs), module_src, g_ema_extra)
    snap: dict[str, Any] = {"training_set_kwargs": None, "G": g, "D": None, "G_ema": g, "augment_pipe": None}
    snap.update(top_extra or {})
    with fake_nvidia_modules():
        data = pickle.dumps(snap, protocol=protocol)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- hostile payload builders (tests only)
class Call:
    """Pickles as ``func(*args)`` (``func`` written by reference), optionally followed by ``BUILD state``."""

    def __init__(self, func: Callable[..., Any], *args: Any, state: Any = None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self) -> tuple[Any, ...]:
        if self.state is None:
            return (self.func, self.args)
        return (self.func, self.args, self.state)


def storage_of(t: torch.Tensor) -> Any:
    """``t``'s typed storage: pickles as ``torch.storage._load_from_bytes(<legacy torch.save blob>)``."""
    return t._typed_storage()


def forged_tensor(numel: int, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> Call:
    """``_rebuild_tensor_v2`` over a real ``numel``-float storage with the given (possibly forged) geometry."""
    return Call(torch._utils._rebuild_tensor_v2, storage_of(torch.zeros(numel)), offset, size, stride, False, {})


def laughs(levels: int, width: int = 10) -> Any:
    """``levels`` lists of ``width`` references to the previous one: width**levels nodes as a tree."""
    node: Any = ["lol"]
    for _ in range(levels):
        node = [node] * width
    return node
