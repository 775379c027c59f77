"""Reading NVIDIA snapshots and state dicts into the project's own :class:`Generator`, never running their code."""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from latentbridge.errors import InputError, UnsafeFileError, WeightsError
from latentbridge.models.safe_load import brief, load_torch_file, open_zip, read_npz
from torch import nn

from ._safe_pickle import PersistentRecord, safe_load
from .errors import SnapshotLayoutError, SnapshotLimitError, UnsafePickleError
from .networks import GENERATOR_KWARGS, MAPPING_KWARGS, SYNTHESIS_KWARGS, Generator

__all__ = [
    "LoadedGenerator",
    "build_generator",
    "check_generator_kwargs",
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
    head = ", ".join(_short(i) for i in items[:_MAX_LISTED])
    return head + (f", ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")


def _short(item: str, limit: int = 100) -> str:
    return item if len(item) <= limit else f"{item[:limit]}... ({len(item)} characters)"


def _names(keys: Iterable[Any]) -> list[str]:
    """Dict keys of any types as sorted, printable names (a file may mix ints and strings)."""
    return sorted(k if isinstance(k, str) else brief(k) for k in keys)


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


_KWARGS_MAX_NODES = 256
_KWARGS_MAX_DEPTH = 6
_KWARGS_MAX_STR = 256


def _plain(obj: Any, where: str, _count: list[int] | None = None, _depth: int = 0) -> Any:
    """Constructor arguments as JSON-able Python values (EasyDict -> dict, numpy scalars -> numbers).

    Bounded: at most 256 values, 6 levels and 256-character strings (constructor arguments are a
    handful of numbers); anything larger is refused with :class:`SnapshotLimitError` naming the field.
    """
    count = [0] if _count is None else _count
    count[0] += 1
    if count[0] > _KWARGS_MAX_NODES:
        raise SnapshotLimitError(
            f"constructor arguments: more than {_KWARGS_MAX_NODES} values (at {where}); "
            "StyleGAN2 constructor arguments are a handful of numbers"
        )
    if _depth > _KWARGS_MAX_DEPTH:
        raise SnapshotLimitError(f"constructor argument {where}: nested deeper than {_KWARGS_MAX_DEPTH} levels")
    if obj is None or isinstance(obj, (bool, int)):
        return obj
    if isinstance(obj, (float, np.floating)):
        if not math.isfinite(float(obj)):
            raise SnapshotLimitError(f"constructor argument {where} is {float(obj)}, expected a finite number")
        return float(obj)
    if isinstance(obj, str):
        if len(obj) > _KWARGS_MAX_STR:
            raise SnapshotLimitError(f"constructor argument {where}: a string of {len(obj)} characters")
        return obj
    if isinstance(obj, np.generic):
        return _plain(obj.item(), where, count, _depth)
    if isinstance(obj, Mapping):
        return {
            str(k): _plain(v, f"{where}.{k}", count, _depth + 1)
            for k, v in obj.items()
            if isinstance(k, str) or _bad_key(k, where)
        }
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]", count, _depth + 1) for i, v in enumerate(obj)]
    raise SnapshotLayoutError(f"constructor argument {where} has unsupported type {type(obj).__name__}")


def _bad_key(key: Any, where: str) -> bool:
    raise SnapshotLayoutError(f"constructor argument {where}: key {brief(key)} is not a string")


# Sane ranges of the network dimensions (stylegan2-ada-pytorch uses 512 / 8 / 32768 / 512 at 1024²).
_DIM_MAX = 16384
_INT_RANGES: dict[str, tuple[int, int]] = {
    "z_dim": (0, _DIM_MAX),
    "c_dim": (0, 1 << 16),
    "w_dim": (1, _DIM_MAX),
    "img_channels": (1, 16),
    "mapping_kwargs.num_layers": (1, 64),
    "mapping_kwargs.embed_features": (0, _DIM_MAX),
    "mapping_kwargs.layer_features": (1, _DIM_MAX),
    "synthesis_kwargs.channel_base": (1, 1 << 22),
    "synthesis_kwargs.channel_max": (1, _DIM_MAX),
    "synthesis_kwargs.num_fp16_res": (0, 16),
    "synthesis_kwargs.kernel_size": (1, 15),
}
_FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "mapping_kwargs.lr_multiplier": (1e-8, 1e3),
    "mapping_kwargs.w_avg_beta": (0.0, 1.0),
    "synthesis_kwargs.conv_clamp": (1e-8, 1e9),
}
_NULLABLE = frozenset({"mapping_kwargs.embed_features", "mapping_kwargs.layer_features"})
_NULLABLE_FLOAT = frozenset({"mapping_kwargs.w_avg_beta", "synthesis_kwargs.conv_clamp"})
_RES_RANGE = (4, 16384)


def check_generator_kwargs(kwargs: Mapping[str, Any], where: str = "init_kwargs") -> None:
    """Refuse absurd network dimensions before anything is built.

    Checks ``z_dim``, ``c_dim``, ``w_dim``, ``img_channels``, ``img_resolution`` (a power of two in
    [4, 16384]) and the mapping / synthesis options against sane ranges, so that a file declaring a
    million layers or a 2^40-wide mapping is answered with an error naming the field, not with a huge
    allocation.

    Raises:
        SnapshotLimitError: A field out of range or of the wrong type (the message names it).
        SnapshotLayoutError: Unknown or missing fields.
    """
    missing = [k for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels") if k not in kwargs]
    unknown = _names(set(kwargs) - set(GENERATOR_KWARGS))
    if missing or unknown:
        raise SnapshotLayoutError(
            f"{where}: generator constructor arguments: missing {missing}, unsupported {unknown}; "
            f"expected {list(GENERATOR_KWARGS)}"
        )
    flat: dict[str, Any] = {k: v for k, v in kwargs.items() if k not in ("mapping_kwargs", "synthesis_kwargs")}
    for group, allowed in (("mapping_kwargs", MAPPING_KWARGS), ("synthesis_kwargs", SYNTHESIS_KWARGS)):
        sub = kwargs.get(group) or {}
        if not isinstance(sub, Mapping):
            raise SnapshotLayoutError(f"{where}.{group}: expected a dict, found {brief(sub)}")
        bad = _names(set(sub) - set(allowed))
        if bad:
            raise SnapshotLayoutError(
                f"{where}.{group}: unsupported options {bad}; expected options from {list(allowed)}"
            )
        flat.update({f"{group}.{k}": v for k, v in sub.items()})
    for name, (lo, hi) in _INT_RANGES.items():
        if name not in flat or (flat[name] is None and name in _NULLABLE):
            continue
        v = flat[name]
        if type(v) is not int or not lo <= v <= hi:
            raise SnapshotLimitError(f"{where}.{name} = {brief(v)}: expected an int in [{lo}, {hi}]")
    for name, (flo, fhi) in _FLOAT_RANGES.items():
        if name not in flat or (flat[name] is None and name in _NULLABLE_FLOAT):
            continue
        v = flat[name]
        if type(v) not in (int, float) or not flo <= v <= fhi:
            raise SnapshotLimitError(f"{where}.{name} = {brief(v)}: expected a number in [{flo:g}, {fhi:g}]")
    res = flat["img_resolution"]
    if type(res) is not int or not _RES_RANGE[0] <= res <= _RES_RANGE[1] or res & (res - 1):
        raise SnapshotLimitError(
            f"{where}.img_resolution = {brief(res)}: expected a power of two in [{_RES_RANGE[0]}, {_RES_RANGE[1]}]"
        )
    taps = flat.get("synthesis_kwargs.resample_filter")
    if taps is not None and (
        not isinstance(taps, (list, tuple))
        or not 1 <= len(taps) <= 16
        or not all(type(t) in (int, float) and math.isfinite(t) for t in taps)
    ):
        raise SnapshotLimitError(f"{where}.synthesis_kwargs.resample_filter = {brief(taps)}: expected 1..16 numbers")
    for name in ("mapping_kwargs.activation", "synthesis_kwargs.activation", "synthesis_kwargs.architecture"):
        if name in flat and (type(flat[name]) is not str or len(flat[name]) > 32):
            raise SnapshotLimitError(f"{where}.{name} = {brief(flat[name])}: expected a short name")
    for name in ("synthesis_kwargs.use_noise", "synthesis_kwargs.fp16_channels_last"):
        if name in flat and type(flat[name]) is not bool:
            raise SnapshotLimitError(f"{where}.{name} = {brief(flat[name])}: expected true or false")


def meta_generator(init_kwargs: Mapping[str, Any], where: str = "init_kwargs") -> Generator:
    """The generator ``init_kwargs`` describe, built on the ``meta`` device: shapes only, no memory.

    Raises:
        SnapshotLimitError / SnapshotLayoutError: As :func:`check_generator_kwargs`, or the
            arguments are refused by the network's constructor.
    """
    check_generator_kwargs(init_kwargs, where)
    try:
        with torch.device("meta"):
            return Generator(**init_kwargs)
    except (TypeError, ValueError, KeyError, ZeroDivisionError, RuntimeError) as exc:
        raise SnapshotLayoutError(f"{where}: cannot build a generator from {dict(init_kwargs)}: {exc}") from exc


def _record_kwargs(rec: PersistentRecord, where: str) -> dict[str, Any]:
    args, kwargs = rec.state.get("_init_args"), rec.state.get("_init_kwargs")
    if not isinstance(kwargs, Mapping) or not isinstance(args, (tuple, list)):
        raise SnapshotLayoutError(
            f"{where}: the snapshot's {rec.class_name} has no recorded constructor arguments "
            "(expected '_init_args' tuple and '_init_kwargs' dict in its state, "
            f"found keys {_listing(_names(rec.state))}); "
            "this is not a stylegan2-ada-pytorch network snapshot"
        )
    if len(args) > len(GENERATOR_KWARGS):
        raise SnapshotLayoutError(f"{where}: {len(args)} positional constructor arguments, expected at most 7")
    out = dict(zip(GENERATOR_KWARGS, args, strict=False))
    dup = _names(set(out) & set(kwargs))
    if dup:
        raise SnapshotLayoutError(f"{where}: constructor arguments {dup} given both positionally and by name")
    out.update(kwargs)
    plain = _plain(out, f"{where}._init_kwargs")
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
    if not isinstance(skip, (set, frozenset, list, tuple)):
        raise SnapshotLayoutError(f"{prefix or '<root>'}: _non_persistent_buffers_set is {brief(skip)}, expected a set")
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


def _dimension_hints(kwargs: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Name the constructor fields that contradict the tensors present (for the mismatch message)."""
    hints = []
    fcs = sorted(int(m.group(1)) for k in state_dict if (m := re.fullmatch(r"mapping\.fc(\d{1,4})\.weight", k)))
    layers = (kwargs.get("mapping_kwargs") or {}).get("num_layers", 8)
    if fcs and fcs != list(range(layers)):
        hints.append(f"mapping_kwargs.num_layers={layers} but the weights have {len(fcs)} mapping layers")
    first, last = state_dict.get("mapping.fc0.weight"), state_dict.get(f"mapping.fc{len(fcs) - 1}.weight")
    if first is not None and first.ndim == 2 and kwargs["c_dim"] == 0 and first.shape[1] != kwargs["z_dim"]:
        hints.append(f"z_dim={kwargs['z_dim']} but mapping.fc0.weight has {first.shape[1]} inputs")
    if last is not None and last.ndim == 2 and last.shape[0] != kwargs["w_dim"]:
        hints.append(f"w_dim={kwargs['w_dim']} but the last mapping layer has {last.shape[0]} outputs")
    return hints


def build_generator(
    init_kwargs: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor], source: str, net: Generator | None = None
) -> Generator:
    """Build :class:`Generator` from constructor arguments and load ``state_dict`` strictly.

    The arguments are checked against sane ranges (:func:`check_generator_kwargs`) and the
    network they describe is compared, shape by shape, with the tensors present on the ``meta``
    device first: the real network is allocated only once it is known to match the weights.

    Args:
        init_kwargs: NVIDIA constructor keywords (``z_dim``, ``c_dim``, ``w_dim``,
            ``img_resolution``, ``img_channels``, ``mapping_kwargs``, ``synthesis_kwargs``).
        state_dict: Tensors under NVIDIA's parameter names.
        source: File name used in error messages.
        net: A generator already built from ``init_kwargs`` (built here if None).

    Returns:
        The generator in eval mode, float32, on CPU.

    Raises:
        SnapshotLimitError: Arguments out of range.
        SnapshotLayoutError: Unsupported arguments, resolution mismatch, missing / unexpected
            tensors, wrong tensor shapes or non-float tensors.
    """
    kwargs = dict(init_kwargs)
    check_generator_kwargs(kwargs, f"{source}: init_kwargs")
    res_keys = sorted({int(m.group(1)) for k in state_dict if (m := re.match(r"synthesis\.b(\d{1,6})\.", k))})
    if res_keys and res_keys[-1] != kwargs["img_resolution"]:
        raise SnapshotLayoutError(
            f"{source}: resolution mismatch: the weights have synthesis blocks up to b{res_keys[-1]} "
            f"({res_keys[-1]}×{res_keys[-1]} images) but the constructor arguments say "
            f"img_resolution={kwargs['img_resolution']}"
        )
    expected = {k: tuple(v.shape) for k, v in meta_generator(kwargs, f"{source}: init_kwargs").state_dict().items()}
    miss = [k for k in expected if k not in state_dict]
    extra = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} (expected {v})"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != v
    ]
    if miss or extra or shapes:
        parts = []
        if miss:
            parts.append(f"missing tensors: {_listing(miss)}")
        if extra:
            parts.append(f"unexpected tensors: {_listing(extra)}")
        if shapes:
            parts.append(f"wrong shapes: {_listing(shapes)}")
        hints = _dimension_hints(kwargs, state_dict)
        raise SnapshotLayoutError(
            f"{source}: the weights do not fit a StyleGAN2 generator built with {kwargs}: "
            + "; ".join(parts)
            + (f" (the constructor arguments disagree with the weights: {'; '.join(hints)})" if hints else "")
        )
    odd = [f"{k} ({v.dtype})" for k, v in state_dict.items() if not v.is_floating_point()]
    if odd:
        raise SnapshotLayoutError(f"{source}: tensors must hold floating-point values: {_listing(odd)}")
    if net is None:
        net = new_generator(kwargs)
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
            obj = safe_load(f, repr(str(p)))
        except (UnsafePickleError, SnapshotLayoutError):
            raise
        except UnsafeFileError as exc:  # truncated, corrupt or forged pickles
            raise SnapshotLimitError(f"{str(p)!r}: cannot read the pickle: {exc}") from exc
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
    where = f"{str(p)!r}[{network!r}]"
    kwargs = _record_kwargs(rec, where)
    skeleton = meta_generator(kwargs, f"{where}._init_kwargs")  # shapes only: nothing allocated yet
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
    net = build_generator(kwargs, sd, repr(str(p)))
    return LoadedGenerator(net, str(p), file_sha256(p), "nvidia-pickle", network, kwargs)


def _is_zip(p: Path) -> bool:
    with open(p, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


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
    if suffix not in (".npz", *TORCH_SUFFIXES) and _is_zip(p):
        with open_zip(p, repr(str(p))) as z:
            is_npz = all(n.endswith(".npy") for n in z.namelist())
    if is_npz:
        return _read_npz(p), "npz"
    try:
        obj = load_torch_file(p)
    except UnsafeFileError as exc:
        raise type(exc)(
            f"{exc}. (Read as a torch state dict, weights only; NVIDIA network snapshots (.pkl) are read with "
            "path=... alone, without init_kwargs)"
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
    odd = [brief(k) for k in obj if not isinstance(k, str)]
    if odd:
        raise SnapshotLayoutError(
            f"{str(p)!r}: parameter names must be strings, found {_listing(odd)}; expected a state dict mapping "
            "NVIDIA parameter names to tensors"
        )
    return dict(obj), "torch"


def _read_npz(p: Path) -> dict[str, torch.Tensor]:
    """The arrays of an ``.npz`` file (:func:`latentbridge.models.safe_load.read_npz`: headers checked first)."""
    try:
        return read_npz(p)
    except UnsafeFileError as exc:
        raise SnapshotLimitError(f"cannot read as .npz: {exc}") from exc


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
