"""Reading NVIDIA snapshots and state dicts into the project's own :class:`Generator`, never running their code."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from latentbridge.errors import InputError, WeightsError
from torch import nn

from ._safe_pickle import PersistentRecord, safe_load
from .errors import SnapshotLayoutError, UnsafePickleError
from .networks import GENERATOR_KWARGS, Generator

__all__ = [
    "LoadedGenerator",
    "build_generator",
    "file_sha256",
    "load_file",
    "new_generator",
    "read_init_json",
    "read_snapshot",
    "read_state_dict",
]

SNAPSHOT_KEYS = ("training_set_kwargs", "G", "D", "G_ema", "augment_pipe")
PICKLE_SUFFIXES = (".pkl", ".pickle")
TORCH_SUFFIXES = (".pt", ".pth", ".bin")
_MAX_LISTED = 8


@dataclass
class LoadedGenerator:
    """A generator module built from a file, plus where it came from.

    Attributes:
        net: The :class:`Generator` in eval mode, on CPU, float32.
        path: The file read.
        sha256: SHA-256 of the file's bytes.
        format: ``"nvidia-pickle"``, ``"npz"`` or ``"torch"``.
        network: The snapshot entry read (``"G_ema"``), or None for state-dict files.
        init_kwargs: The constructor arguments used (JSON-able).
    """

    net: Generator
    path: str
    sha256: str
    format: str
    network: str | None = None
    init_kwargs: dict[str, Any] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _listing(items: list[str]) -> str:
    head = ", ".join(items[:_MAX_LISTED])
    return head + (f", ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")


def _check_file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise WeightsError(
            f"StyleGAN2 weights not found: {str(p)!r} does not exist. Expected an NVIDIA network snapshot "
            "(.pkl, e.g. stylegan2-ada-pytorch's ffhq.pkl) or a state dict (.pt/.npz) with init_kwargs / init_json"
        )
    if not p.is_file():
        raise WeightsError(f"StyleGAN2 weights: {str(p)!r} is not a file (expected a .pkl, .pt or .npz file)")
    return p


def _plain(obj: Any, where: str) -> Any:
    """Constructor arguments as JSON-able Python values (EasyDict -> dict, numpy scalars -> numbers)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise SnapshotLayoutError(f"constructor argument {where} has unsupported type {type(obj).__name__}")


def _record_kwargs(rec: PersistentRecord, where: str) -> dict[str, Any]:
    args, kwargs = rec.state.get("_init_args"), rec.state.get("_init_kwargs")
    if not isinstance(kwargs, Mapping) or not isinstance(args, (tuple, list)):
        raise SnapshotLayoutError(
            f"{where}: the snapshot's {rec.class_name} has no recorded constructor arguments "
            "(expected '_init_args' tuple and '_init_kwargs' dict in its state, "
            f"found keys {_listing(sorted(rec.state))}); "
            "this is not a stylegan2-ada-pytorch network snapshot"
        )
    if len(args) > len(GENERATOR_KWARGS):
        raise SnapshotLayoutError(f"{where}: {len(args)} positional constructor arguments, expected at most 7")
    out = dict(zip(GENERATOR_KWARGS, args, strict=False))
    dup = sorted(set(out) & set(kwargs))
    if dup:
        raise SnapshotLayoutError(f"{where}: constructor arguments {dup} given both positionally and by name")
    out.update(kwargs)
    plain = _plain(out, "G")
    assert isinstance(plain, dict)
    return plain


def new_generator(init_kwargs: Mapping[str, Any], seed: int | None = None) -> Generator:
    """Build :class:`Generator` from constructor arguments without touching the global torch RNG.

    Args:
        init_kwargs: NVIDIA constructor keywords.
        seed: Seed of the random initialisation (None: arbitrary, for weights loaded next).

    Returns:
        A freshly initialised generator (train mode, as constructed).
    """
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return Generator(**init_kwargs)


def _check_layout(rec: PersistentRecord, module: nn.Module, where: str, problems: list[str]) -> None:
    if rec.class_name != type(module).__name__:
        problems.append(
            f"{where or '<root>'}: snapshot has class {rec.class_name!r}, expected {type(module).__name__!r}"
        )
        return
    children = rec.state.get("_modules", {})
    if not isinstance(children, Mapping):
        problems.append(f"{where or '<root>'}: '_modules' is a {type(children).__name__}, expected a dict")
        return
    mine = dict(module.named_children())
    for name, child in children.items():
        path = f"{where}.{name}" if where else str(name)
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            problems.append(f"{path}: snapshot has a {type(child).__name__}, expected a persistent module")
        elif name not in mine:
            problems.append(f"{path}: unexpected submodule {child.class_name!r}")
        else:
            _check_layout(child, mine[name], path, problems)
    for name, child in mine.items():
        if children.get(name) is None:
            path = f"{where}.{name}" if where else name
            problems.append(f"{path}: missing submodule (expected {type(child).__name__!r})")


def _record_state_dict(rec: PersistentRecord, prefix: str, out: dict[str, torch.Tensor]) -> None:
    st = rec.state
    skip = st.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        tensors = st.get(group, {})
        if not isinstance(tensors, Mapping):
            raise SnapshotLayoutError(f"{prefix or '<root>'}: {group} is a {type(tensors).__name__}, expected a dict")
        for name, t in tensors.items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise SnapshotLayoutError(f"{prefix}{name}: expected a tensor, found {type(t).__name__}")
            out[f"{prefix}{name}"] = t.detach()
    for name, child in (st.get("_modules") or {}).items():
        if isinstance(child, PersistentRecord):
            _record_state_dict(child, f"{prefix}{name}.", out)


def build_generator(
    init_kwargs: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor], source: str, net: Generator | None = None
) -> Generator:
    """Build :class:`Generator` from constructor arguments and load ``state_dict`` strictly.

    Args:
        init_kwargs: NVIDIA constructor keywords (``z_dim``, ``c_dim``, ``w_dim``,
            ``img_resolution``, ``img_channels``, ``mapping_kwargs``, ``synthesis_kwargs``).
        state_dict: Tensors under NVIDIA's parameter names.
        source: File name used in error messages.
        net: A generator already built from ``init_kwargs`` (built here if None).

    Returns:
        The generator in eval mode, float32, on CPU.

    Raises:
        SnapshotLayoutError: Unsupported arguments, resolution mismatch, missing / unexpected
            tensors or wrong tensor shapes.
    """
    kwargs = dict(init_kwargs)
    missing = [k for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels") if k not in kwargs]
    unknown = sorted(set(kwargs) - set(GENERATOR_KWARGS))
    if missing or unknown:
        raise SnapshotLayoutError(
            f"{source}: generator constructor arguments: missing {missing}, unsupported {unknown}; "
            f"expected {list(GENERATOR_KWARGS)}"
        )
    res_keys = sorted({int(m.group(1)) for k in state_dict if (m := re.match(r"synthesis\.b(\d+)\.", k))})
    if res_keys and res_keys[-1] != kwargs["img_resolution"]:
        raise SnapshotLayoutError(
            f"{source}: resolution mismatch: the weights have synthesis blocks up to b{res_keys[-1]} "
            f"({res_keys[-1]}×{res_keys[-1]} images) but the constructor arguments say "
            f"img_resolution={kwargs['img_resolution']}"
        )
    if net is None:
        try:
            net = new_generator(kwargs)
        except (TypeError, ValueError) as exc:
            raise SnapshotLayoutError(f"{source}: cannot build the generator from {kwargs}: {exc}") from exc
    expected = net.state_dict()
    miss = [k for k in expected if k not in state_dict]
    extra = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if miss or extra or shapes:
        parts = []
        if miss:
            parts.append(f"missing tensors: {_listing(miss)}")
        if extra:
            parts.append(f"unexpected tensors: {_listing(extra)}")
        if shapes:
            parts.append(f"wrong shapes: {_listing(shapes)}")
        raise SnapshotLayoutError(
            f"{source}: the weights do not fit a StyleGAN2 generator built with {kwargs}: " + "; ".join(parts)
        )
    with torch.no_grad():
        net.load_state_dict({k: torch.as_tensor(v).to(torch.float32) for k, v in state_dict.items()}, strict=True)
    return net.eval().requires_grad_(False)


def read_snapshot(path: str | Path, network: str = "G_ema") -> LoadedGenerator:
    """Read an NVIDIA ``stylegan2-ada-pytorch`` network snapshot without executing its code.

    Args:
        path: The ``.pkl`` file.
        network: Which entry to read: ``"G_ema"`` (the generator to sample from) or ``"G"``.

    Returns:
        The rebuilt generator and its provenance.

    Raises:
        WeightsError: The file does not exist.
        UnsafePickleError: The pickle references a global outside the allow-list.
        SnapshotLayoutError: The pickle is safe but not a StyleGAN2 generator snapshot.
    """
    p = _check_file(path)
    with open(p, "rb") as f:
        head = f.read(2)
        if head[:2] == b"PK":
            raise SnapshotLayoutError(
                f"{str(p)!r}: this is a zip archive (torch.save / npz), not an NVIDIA network snapshot pickle; "
                "load it as a state dict with init_kwargs= or init_json="
            )
        if not head or head[0] != pickle.PROTO[0]:
            raise SnapshotLayoutError(
                f"{str(p)!r}: not a pickle of protocol 2 or later (first bytes {head!r}); "
                "expected an NVIDIA network snapshot (.pkl)"
            )
        f.seek(0)
        try:
            obj = safe_load(f)
        except (UnsafePickleError, SnapshotLayoutError):
            raise
        except Exception as exc:  # truncated / corrupt pickles
            raise SnapshotLayoutError(f"{str(p)!r}: cannot read the pickle: {type(exc).__name__}: {exc}") from exc
    if isinstance(obj, PersistentRecord):
        rec: Any = obj
    elif isinstance(obj, Mapping):
        if network not in obj:
            raise SnapshotLayoutError(
                f"{str(p)!r}: unknown pickle layout: no {network!r} entry; "
                f"found keys {_listing([str(k) for k in obj])}, "
                f"expected an NVIDIA network snapshot dict with keys {list(SNAPSHOT_KEYS)}"
            )
        rec = obj[network]
    else:
        raise SnapshotLayoutError(
            f"{str(p)!r}: unknown pickle layout: found a {type(obj).__name__}, expected an NVIDIA network snapshot "
            f"dict with keys {list(SNAPSHOT_KEYS)}"
        )
    if not isinstance(rec, PersistentRecord) or rec.class_name != "Generator":
        found = rec.class_name if isinstance(rec, PersistentRecord) else type(rec).__name__
        raise SnapshotLayoutError(
            f"{str(p)!r}: unknown pickle layout: {network!r} is {found!r}, expected a persistent 'Generator' module"
        )
    kwargs = _record_kwargs(rec, f"{str(p)!r}[{network!r}]")
    try:
        skeleton = new_generator(kwargs)
    except (TypeError, ValueError) as exc:
        raise SnapshotLayoutError(
            f"{str(p)!r}: cannot build a generator from the recorded arguments {kwargs}: {exc}"
        ) from exc
    problems: list[str] = []
    _check_layout(rec, skeleton, "", problems)
    if problems:
        raise SnapshotLayoutError(
            f"{str(p)!r}: unknown network layout in {network!r} (not the stylegan2-ada-pytorch generator): "
            + "; ".join(problems[:_MAX_LISTED])
            + (f"; ... ({len(problems)} problems)" if len(problems) > _MAX_LISTED else "")
        )
    sd: dict[str, torch.Tensor] = {}
    _record_state_dict(rec, "", sd)
    net = build_generator(kwargs, sd, repr(str(p)), net=skeleton)
    return LoadedGenerator(net, str(p), file_sha256(p), "nvidia-pickle", network, kwargs)


def read_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], str]:
    """Read a plain state dict from ``.npz`` (numpy arrays) or ``.pt`` (``torch.save``, weights only).

    A ``.pt`` file may hold the state dict itself or a dict with a ``"G_ema"`` or
    ``"state_dict"`` entry holding it.

    Returns:
        ``(state_dict, format)`` with format ``"npz"`` or ``"torch"``.
    """
    p = _check_file(path)
    suffix = p.suffix.lower()
    is_npz = suffix == ".npz"
    if suffix not in (".npz", *TORCH_SUFFIXES) and zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as z:
            is_npz = all(n.endswith(".npy") for n in z.namelist())
    if is_npz:
        try:
            with np.load(p, allow_pickle=False) as data:
                sd = {k: torch.from_numpy(np.array(data[k])) for k in data.files}
        except Exception as exc:
            raise SnapshotLayoutError(f"{str(p)!r}: cannot read as .npz: {type(exc).__name__}: {exc}") from exc
        return sd, "npz"
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SnapshotLayoutError(
            f"{str(p)!r}: cannot read as a torch state dict (weights only): {type(exc).__name__}: {exc}. "
            "NVIDIA network snapshots (.pkl) are read with path=... alone, without init_kwargs"
        ) from exc
    if isinstance(obj, Mapping):
        for key in ("G_ema", "state_dict"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        found = type(obj).__name__ if not isinstance(obj, Mapping) else "a dict with non-tensor values"
        raise SnapshotLayoutError(
            f"{str(p)!r}: unknown layout: found {found}, "
            "expected a state dict mapping NVIDIA parameter names to tensors"
        )
    return {str(k): v for k, v in obj.items()}, "torch"


def read_init_json(path: str | Path) -> dict[str, Any]:
    """Constructor arguments from JSON: the kwargs dict itself or ``{"G_constructor_kwargs": {...}}``."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(
            f"init_json {str(p)!r} does not exist (expected a JSON file of generator constructor arguments)"
        )
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"init_json {str(p)!r} is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("G_constructor_kwargs"), dict):
        data = data["G_constructor_kwargs"]
    if not isinstance(data, dict) or "z_dim" not in data:
        raise InputError(
            f"init_json {str(p)!r}: expected a JSON object with generator constructor arguments (z_dim, w_dim, ...) "
            "or with a 'G_constructor_kwargs' object"
        )
    return data


def load_file(
    path: str | Path,
    *,
    network: str = "G_ema",
    init_kwargs: Mapping[str, Any] | None = None,
    init_json: str | Path | None = None,
) -> LoadedGenerator:
    """Load a generator from a snapshot (``.pkl``) or a state dict (``.pt``/``.npz`` + constructor arguments).

    Args:
        path: Weights file.
        network: Snapshot entry (``"G_ema"`` by default; ignored for state dicts).
        init_kwargs: Constructor arguments for a state dict.
        init_json: JSON file with the constructor arguments for a state dict.

    Returns:
        The loaded generator and its provenance.
    """
    p = _check_file(path)
    if init_kwargs is not None and init_json is not None:
        raise InputError("pass either init_kwargs or init_json, not both")
    if init_kwargs is None and init_json is None:
        if p.suffix.lower() in (".npz", *TORCH_SUFFIXES):
            raise InputError(
                f"{str(p)!r} is a state dict: pass the generator's constructor arguments with init_kwargs={{...}} "
                "or init_json='G.json' (z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, "
                "synthesis_kwargs)"
            )
        return read_snapshot(p, network=network)
    kwargs = dict(init_kwargs) if init_kwargs is not None else read_init_json(init_json)  # type: ignore[arg-type]
    kwargs = _plain(kwargs, "init_kwargs")
    sd, fmt = read_state_dict(p)
    net = build_generator(kwargs, sd, repr(str(p)))
    return LoadedGenerator(net, str(p), file_sha256(p), fmt, None, kwargs)
