"""The ``stylegan2`` latent generator: z, w and w+ search spaces over a StyleGAN2-ADA generator."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from latentbridge import LatentSpace
from latentbridge.errors import InputError, LatentShapeError
from latentbridge.precision import CompiledForward, CompileMode, autocast, check_compile, check_precision

from .loading import LoadedGenerator, load_file, new_generator
from .networks import NOISE_MODES, Generator, truncate

__all__ = ["SPACES", "StyleGAN2Generator"]

SPACES: tuple[str, ...] = ("z", "w", "w+")
_STATS_CHUNK = 2048


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device must be a torch device or a name like 'cpu' / 'cuda:0', got {device!r}") from exc


def _size2(resize: int | Sequence[int] | None) -> tuple[int, int] | None:
    if resize is None:
        return None
    if isinstance(resize, int) and not isinstance(resize, bool):
        hw = (resize, resize)
    elif isinstance(resize, Sequence) and len(resize) == 2 and all(isinstance(v, int) for v in resize):
        hw = (int(resize[0]), int(resize[1]))
    else:
        raise InputError(f"resize must be an int or a (height, width) pair of ints, got {resize!r}")
    if min(hw) < 1:
        raise InputError(f"resize must be positive, got {resize!r}")
    return hw


def _wants_grad(z: torch.Tensor) -> bool:
    """Whether the caller asks for gradients: grad mode on and the latents require grad."""
    return torch.is_grad_enabled() and z.requires_grad


def _inference_unless(grad: bool) -> contextlib.AbstractContextManager[Any]:
    """``torch.inference_mode()`` for plain calls; nothing when gradients are wanted."""
    return contextlib.nullcontext() if grad else torch.inference_mode()


class _Synthesis(torch.nn.Module):
    """``synthesis(ws, **options)`` with the options fixed: the one-tensor callable ``torch.compile`` gets."""

    def __init__(self, synthesis: torch.nn.Module, **options: Any) -> None:
        super().__init__()
        self.synthesis = synthesis
        self.options = options

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.synthesis(ws, **self.options)
        return out


class StyleGAN2Generator:
    """A StyleGAN2-ADA generator as a :class:`latentbridge.LatentGenerator`.

    Search spaces (``space``):

    * ``"z"``: ``(z_dim,)``, prior N(0, 1). ``generate`` runs mapping (with truncation
      around ``w_avg`` exactly as NVIDIA's ``G(z, c, truncation_psi, truncation_cutoff)``) and
      synthesis.
    * ``"w"``: ``(w_dim,)``, prior N(w_avg, std²) where std is the per-dimension standard
      deviation of mapping outputs over ``w_stats_samples`` seeded z draws. ``generate``
      broadcasts w to all ``num_ws`` layers, applies ``w_avg + psi·(w − w_avg)`` (first
      ``truncation_cutoff`` layers only, if set) and runs synthesis.
    * ``"w+"``: ``(num_ws, w_dim)``, one w per layer, same prior per layer and same truncation.

    Conditional models need ``label``: a class index (one-hot encoded) or a ``c_dim`` vector.

    Args:
        net: The generator module (weights loaded).
        space: ``"z"``, ``"w"`` or ``"w+"``.
        truncation_psi: Truncation strength (1 = none).
        truncation_cutoff: Truncate only the first ``cutoff`` ws (None = all).
        noise_mode: ``"const"`` (the snapshot's fixed noise maps, deterministic), ``"random"``
            (fresh noise every call, from torch's global RNG) or ``"none"``.
        label: Class index or ``(c_dim,)`` label vector; required iff ``c_dim > 0``.
        resolution: Expected native resolution; a mismatch with the model is an error.
        resize: Resize outputs to this size (int or ``(H, W)``; bilinear, antialiased when shrinking).
        device: Where to run (None = CUDA if available, else CPU).
        fp16: Run the high-resolution blocks in float16 (CUDA only; the blocks the snapshot
            trained in fp16, or the top 4 resolutions if it records none).
        channels_last: Channels-last memory format for the synthesis features.
        precision: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: mapping and synthesis run under
            ``torch.autocast`` (CPU: bf16 where the CPU has native bf16; CUDA: fp16 or bf16). Images
            are still returned as float32; recorded in :meth:`config`. ``fp16=True`` is NVIDIA's own
            per-block float16 (CUDA only) and can be combined with it.
        fused_modconv: Fused (grouped, per-sample weights) modulated convolutions; None picks
            fused on CUDA in float32 or for batch 1, unfused otherwise (faster on CPU).
        compile: ``True`` runs the synthesis network through ``torch.compile``, ``"freeze"``
            with its weights frozen into the compiled graph (oneDNN fusion on CPU); the
            first call per batch shape compiles (:attr:`compile_seconds`); eager fallback
            with a ``PrecisionWarning`` where compiling fails.
        w_stats_samples: Number of z draws for the w / w+ prior's standard deviation.
        seed: Seed of those draws.
        source: Provenance (file, hash, format) recorded in :meth:`config`.
    """

    def __init__(
        self,
        net: Generator,
        *,
        space: str = "z",
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
        label: int | Sequence[float] | np.ndarray | torch.Tensor | None = None,
        resolution: int | None = None,
        resize: int | Sequence[int] | None = None,
        device: str | torch.device | None = None,
        fp16: bool = False,
        channels_last: bool = False,
        precision: str = "fp32",
        fused_modconv: bool | None = None,
        compile: CompileMode = False,
        w_stats_samples: int = 10_000,
        seed: int = 0,
        source: LoadedGenerator | None = None,
    ) -> None:
        if space not in SPACES:
            raise InputError(f"space must be one of {SPACES}, got {space!r}")
        if noise_mode not in NOISE_MODES:
            raise InputError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        try:
            psi = float(truncation_psi)
        except (TypeError, ValueError) as exc:
            raise InputError(f"truncation_psi must be a number, got {truncation_psi!r}") from exc
        if not math.isfinite(psi):
            raise InputError(f"truncation_psi must be finite, got {truncation_psi!r}")
        if truncation_cutoff is not None and (
            not isinstance(truncation_cutoff, int) or not 0 <= truncation_cutoff <= net.num_ws
        ):
            raise InputError(
                f"truncation_cutoff must be None or an int in [0, {net.num_ws}], got {truncation_cutoff!r}"
            )
        if resolution is not None and int(resolution) != net.img_resolution:
            raise InputError(
                f"resolution mismatch: the model generates {net.img_resolution}×{net.img_resolution} images, "
                f"but resolution={resolution} was requested; pass resize={resolution} to resample its output"
            )
        if psi != 1 and not isinstance(getattr(net.mapping, "w_avg", None), torch.Tensor):
            raise InputError("truncation_psi != 1 needs the mapping network's w_avg, which this model does not have")
        if int(w_stats_samples) < 2:
            raise InputError(f"w_stats_samples must be >= 2, got {w_stats_samples!r}")
        self._device = _resolve_device(device)
        if fp16 and self._device.type != "cuda":
            raise InputError(f"fp16=True needs a CUDA device, got device={str(self._device)!r}")
        self.precision = check_precision(precision, self._device, owner="generator 'stylegan2'")
        compile_mode = check_compile(compile, owner="generator 'stylegan2'")
        self.net = net.eval().requires_grad_(False).to(self._device)
        self.space = space
        self.truncation_psi = psi
        self.truncation_cutoff = truncation_cutoff
        self.noise_mode = noise_mode
        self.resize = _size2(resize)
        self.fp16 = bool(fp16)
        self.channels_last = bool(channels_last)
        self.fused_modconv = fused_modconv
        self.w_stats_samples = int(w_stats_samples)
        self.seed = int(seed)
        self.source = source
        self._label_option = label
        self._c = self._label_vector(label)
        if channels_last:
            self.net.synthesis.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        synth = self.net.synthesis
        self._fp16_min_res: int | None = None
        if self.fp16:
            top = synth.fp16_resolution
            self._fp16_min_res = top if top is not None else max(2 ** (int(math.log2(synth.img_resolution)) - 3), 8)
        self._latent = self._make_latent()
        self._compiled: dict[bool, CompiledForward] = {}
        if compile_mode:
            for fused in (False, True):  # batch 1 may run fused modulated convolutions (see _fused)
                module = _Synthesis(
                    synth,
                    noise_mode=noise_mode,
                    fused=fused,
                    fp16_min_res=self._fp16_min_res,
                    channels_last=self.channels_last,
                )
                self._compiled[fused] = CompiledForward(
                    module,
                    self._device,
                    owner="generator 'stylegan2'",
                    mode=compile_mode,
                    check=noise_mode != "random",  # fresh noise each call: nothing to compare with
                )

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        network: str = "G_ema",
        init_kwargs: Mapping[str, Any] | None = None,
        init_json: str | Path | None = None,
        **options: Any,
    ) -> StyleGAN2Generator:
        """Load a generator from a file; this is the factory registered as ``"stylegan2"``.

        Args:
            path: An NVIDIA network snapshot ``.pkl`` (read with a restricted unpickler that
                never imports or runs code from the file), or a state dict ``.pt`` / ``.npz``
                with NVIDIA parameter names.
            network: Snapshot entry to read: ``"G_ema"`` (default) or ``"G"``.
            init_kwargs: Constructor arguments of a state dict (``z_dim``, ``c_dim``, ``w_dim``,
                ``img_resolution``, ``img_channels``, ``mapping_kwargs``, ``synthesis_kwargs``).
            init_json: A JSON file with those arguments (alternative to ``init_kwargs``).
            **options: Keywords of :class:`StyleGAN2Generator` (``space``, ``truncation_psi``,
                ``noise_mode``, ``label``, ``resolution``, ``resize``, ``device``, ...).

        Returns:
            The generator.
        """
        if path is None:
            raise InputError(
                "stylegan2 needs path=...: an NVIDIA network snapshot (.pkl, e.g. ffhq.pkl) "
                "or a state dict (.pt/.npz) with init_kwargs= or init_json="
            )
        loaded = load_file(path, network=network, init_kwargs=init_kwargs, init_json=init_json)
        return cls(loaded.net, source=loaded, **options)

    @classmethod
    def random(cls, init_kwargs: Mapping[str, Any], *, init_seed: int = 0, **options: Any) -> StyleGAN2Generator:
        """A randomly initialised generator (for benchmarks and tests).

        Args:
            init_kwargs: NVIDIA constructor arguments.
            init_seed: Seed of the initialisation.
            **options: Keywords of :class:`StyleGAN2Generator`.
        """
        return cls(new_generator(dict(init_kwargs), seed=init_seed), **options)

    # ------------------------------------------------------------------ protocol
    @property
    def latent(self) -> LatentSpace:
        """The search space: ``z`` ``(z_dim,)``, ``w`` ``(w_dim,)`` or ``w+`` ``(num_ws, w_dim)``."""
        return self._latent

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of generated images (after ``resize``)."""
        h, w = self.resize or (self.net.img_resolution, self.net.img_resolution)
        return (self.net.img_channels, h, w)

    @property
    def device(self) -> torch.device:
        """Where ``generate`` runs."""
        return self._device

    @property
    def num_ws(self) -> int:
        """Number of per-layer w vectors the synthesis network reads."""
        return self.net.num_ws

    @property
    def label(self) -> torch.Tensor | None:
        """The ``(c_dim,)`` label vector used for conditional models (None if unconditional)."""
        return self._c

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images for a batch of latents of the configured space.

        Differentiable: with grad enabled and ``z`` requiring grad, mapping and synthesis run
        with autograd (eagerly, even with ``compile``), so that ``problem.evaluate_grad`` and
        latentbridge's gradient optimizers can backpropagate to z, w or w+. Otherwise they run
        under ``torch.inference_mode()``.

        Args:
            z: ``(n, *latent.shape)`` float tensor: ``(n, z_dim)``, ``(n, w_dim)`` or
                ``(n, num_ws, w_dim)``; moved to :attr:`device` as float32.

        Returns:
            ``(n, C, H, W)`` float32 images, about [-1, 1] (not clamped, as NVIDIA's).

        Raises:
            LatentShapeError: ``z`` has the wrong shape or is not a float tensor.
        """
        z = self._check_latent(z)
        grad = _wants_grad(z)
        with _inference_unless(grad), autocast(self.precision, self._device):
            ws = self.ws(z)
            fused = self._fused(z.shape[0])
            compiled = None if grad else self._compiled.get(fused)
            img: torch.Tensor = (
                compiled(ws)
                if compiled is not None
                else self.net.synthesis(
                    ws,
                    noise_mode=self.noise_mode,
                    fused=fused,
                    fp16_min_res=self._fp16_min_res,
                    channels_last=self.channels_last,
                )
            )
            if self.resize is not None and tuple(img.shape[-2:]) != self.resize:
                shrink = self.resize[0] < img.shape[-2] or self.resize[1] < img.shape[-1]
                img = F.interpolate(img, size=self.resize, mode="bilinear", align_corners=False, antialias=shrink)
            return img.to(torch.float32).contiguous()

    def ws(self, z: torch.Tensor) -> torch.Tensor:
        """The ``(n, num_ws, w_dim)`` synthesis input for latents of the configured space (truncated)."""
        z = self._check_latent(z)
        with _inference_unless(_wants_grad(z)):
            if self.space == "z":
                out: torch.Tensor = self.net.mapping(
                    z, self._batch_c(z.shape[0]), self.truncation_psi, self.truncation_cutoff
                )
                return out
            ws = z.unsqueeze(1).repeat(1, self.num_ws, 1) if self.space == "w" else z
            return truncate(ws, self.net.mapping.w_avg, self.truncation_psi, self.truncation_cutoff)

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """Untruncated mapping of ``(n, z_dim)`` z to ``(n, w_dim)`` w (with this generator's label)."""
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.net.z_dim:
            found = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise LatentShapeError(f"map expects z of shape (n, {self.net.z_dim}), got {found}")
        z = z.to(self._device, torch.float32)
        with torch.inference_mode():
            ws: torch.Tensor = self.net.mapping(z, self._batch_c(z.shape[0]))
            return ws[:, 0]

    def config(self) -> dict[str, Any]:
        """JSON-serialisable description: file, hash, options, model shape, latent space."""
        src = self.source
        label: Any = self._label_option
        if isinstance(label, np.integer):
            label = int(label)
        elif isinstance(label, (np.ndarray, torch.Tensor)):
            label = np.asarray(label.detach().cpu() if isinstance(label, torch.Tensor) else label).tolist()
        elif isinstance(label, Sequence):
            label = [float(v) for v in label]
        return {
            "name": "stylegan2",
            "path": src.path if src else None,
            "sha256": src.sha256 if src else None,
            "format": src.format if src else "in-memory",
            "network": src.network if src else None,
            "init_kwargs": src.init_kwargs if src else self.net.init_kwargs,
            "space": self.space,
            "truncation_psi": self.truncation_psi,
            "truncation_cutoff": self.truncation_cutoff,
            "noise_mode": self.noise_mode,
            "label": label,
            "resolution": self.net.img_resolution,
            "resize": list(self.resize) if self.resize else None,
            "image_shape": list(self.image_shape),
            "z_dim": self.net.z_dim,
            "w_dim": self.net.w_dim,
            "c_dim": self.net.c_dim,
            "num_ws": self.num_ws,
            "device": str(self._device),
            "fp16": self.fp16,
            "channels_last": self.channels_last,
            **({"precision": self.precision} if self.precision != "fp32" else {}),
            "w_stats_samples": self.w_stats_samples if self.space != "z" else None,
            "seed": self.seed,
            "latent": self._latent.config(),
        }

    @property
    def compiled(self) -> bool:
        """Whether synthesis runs ``torch.compile``-d code (False if not asked for or fell back)."""
        return bool(self._compiled) and all(c.active for c in self._compiled.values())

    @property
    def compile_mode(self) -> CompileMode:
        """The ``compile`` option asked for: ``False``, ``True`` or ``"freeze"``."""
        return self._compiled[False].mode if self._compiled else False

    @property
    def compile_seconds(self) -> float:
        """Seconds spent in first (compiling) calls so far; 0 without ``compile``."""
        return sum(c.compile_seconds for c in self._compiled.values())

    def with_precision(self, precision: str) -> StyleGAN2Generator:
        """A copy that computes in ``precision`` (``"fp32"``, ``"bf16"``, ``"fp16"``); the network is shared."""
        new = copy.copy(self)
        new.precision = check_precision(precision, self._device, owner="generator 'stylegan2'")
        return new

    # ------------------------------------------------------------------ helpers
    def _fused(self, n: int) -> bool:
        if self.fused_modconv is not None:
            return self.fused_modconv
        return n == 1 or (self._device.type == "cuda" and not self.fp16)

    def _label_vector(self, label: Any) -> torch.Tensor | None:
        c_dim = self.net.c_dim
        if c_dim == 0:
            if label is not None:
                raise InputError(f"this StyleGAN2 model is unconditional (c_dim=0); got label={label!r}, expected None")
            return None
        if label is None:
            raise InputError(
                f"this StyleGAN2 model is conditional (c_dim={c_dim}): pass label=<class index 0..{c_dim - 1}> "
                f"or a label vector of length {c_dim}"
            )
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            if not 0 <= int(label) < c_dim:
                raise InputError(f"label must be a class index in [0, {c_dim - 1}], got {label}")
            c = torch.zeros(c_dim)
            c[int(label)] = 1
            return c.to(self._device)
        try:
            c = torch.as_tensor(np.asarray(label, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise InputError(f"label must be a class index or a vector of {c_dim} floats, got {label!r}") from exc
        if tuple(c.shape) != (c_dim,) or not bool(torch.isfinite(c).all()):
            raise InputError(f"label vector must have shape ({c_dim},) and finite values, got shape {tuple(c.shape)}")
        return c.to(self._device)

    def _batch_c(self, n: int) -> torch.Tensor | None:
        return None if self._c is None else self._c.unsqueeze(0).expand(n, -1)

    def _check_latent(self, z: Any) -> torch.Tensor:
        shape = self._latent.shape
        want = f"(n, {', '.join(map(str, shape))})"
        if not isinstance(z, torch.Tensor):
            raise LatentShapeError(
                f"generate expects a torch.Tensor of shape {want} for space {self.space!r}, got {type(z).__name__}"
            )
        if z.ndim != len(shape) + 1 or tuple(z.shape[1:]) != shape:
            raise LatentShapeError(
                f"wrong latent size for space {self.space!r}: expected shape {want} "
                f"(z_dim={self.net.z_dim}, w_dim={self.net.w_dim}, num_ws={self.num_ws}), got {tuple(z.shape)}"
            )
        if not z.is_floating_point():
            raise LatentShapeError(f"latents must be floating point, got dtype {z.dtype}")
        return z.to(self._device, torch.float32)

    def _make_latent(self) -> LatentSpace:
        if self.space == "z":
            return LatentSpace((self.net.z_dim,), name="z")
        loc, scale = self._w_stats()
        if self.space == "w":
            return LatentSpace((self.net.w_dim,), loc=loc, scale=scale, name="w")
        shape = (self.num_ws, self.net.w_dim)
        return LatentSpace(
            shape, loc=np.broadcast_to(loc, shape).copy(), scale=np.broadcast_to(scale, shape).copy(), name="w+"
        )

    def _w_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """``(w_avg, std)`` of w = mapping(z) over ``w_stats_samples`` seeded z draws, float64 ``(w_dim,)``."""
        gen = torch.Generator().manual_seed(self.seed)
        n, total = self.w_stats_samples, 0
        s1 = torch.zeros(self.net.w_dim, dtype=torch.float64)
        s2 = torch.zeros(self.net.w_dim, dtype=torch.float64)
        while total < n:
            k = min(_STATS_CHUNK, n - total)
            z = torch.randn(k, self.net.z_dim, generator=gen)
            w = self.map(z).to("cpu", torch.float64)
            s1 += w.sum(0)
            s2 += w.square().sum(0)
            total += k
        mean = s1 / n
        var = ((s2 - n * mean.square()) / (n - 1)).clamp_min(0)
        std = var.sqrt().clamp_min(1e-6).numpy()
        w_avg = getattr(self.net.mapping, "w_avg", None)
        loc = w_avg.detach().to("cpu", torch.float64).numpy() if isinstance(w_avg, torch.Tensor) else mean.numpy()
        return loc, std
