"""Low-level tensor ops of StyleGAN2: activations, FIR resampling (upfirdn) and modulated convolution."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "ACTIVATIONS",
    "bias_act",
    "conv2d_resample",
    "make_fir_filter",
    "modulated_conv2d",
    "normalize_2nd_moment",
    "upfirdn2d",
    "upfirdn2d_ref",
    "upsample2d",
]

Activation = Callable[[torch.Tensor], torch.Tensor]

#: name -> (function, default gain). The gain keeps the signal's second moment about constant.
ACTIVATIONS: dict[str, tuple[Activation, float]] = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, math.sqrt(2.0)),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), math.sqrt(2.0)),
    "tanh": (torch.tanh, 1.0),
    "sigmoid": (torch.sigmoid, 1.0),
    "elu": (F.elu, 1.0),
    "selu": (F.selu, 1.0),
    "softplus": (F.softplus, 1.0),
    "swish": (lambda x: torch.sigmoid(x) * x, math.sqrt(2.0)),
}


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row to unit mean square.

    Args:
        x: ``(N, F)`` features.
        eps: Added to the mean square before the reciprocal square root.

    Returns:
        ``(N, F)``: ``x * rsqrt(mean(x², dim=1) + eps)``.
    """
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
    inplace: bool = False,
) -> torch.Tensor:
    """Add a per-channel bias, apply an activation, scale by ``gain`` and clamp.

    Args:
        x: ``(N, C, ...)`` input.
        b: ``(C,)`` bias added along axis 1, or None.
        act: A key of :data:`ACTIVATIONS` (``lrelu`` uses slope 0.2).
        gain: Output scale; None means the activation's default gain.
        clamp: If not None and >= 0, the output is clamped to ``[-clamp, clamp]``.
        inplace: Overwrite ``x`` (saves memory traffic; only for fresh tensors without autograd).

    Returns:
        Tensor of the shape of ``x``.
    """
    fn, default_gain = ACTIVATIONS[act]
    g = default_gain if gain is None else float(gain)
    if b is not None:
        bb = b.reshape([-1 if i == 1 else 1 for i in range(x.ndim)]).to(x.dtype)
        x = x.add_(bb) if inplace else x + bb
    if inplace and act == "lrelu":
        x = F.leaky_relu_(x, 0.2)
    elif inplace and act in ("linear", "relu"):
        x = x.relu_() if act == "relu" else x
    else:
        x = fn(x)
    if g != 1:
        x = x.mul_(g) if inplace else x * g
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x


def make_fir_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """The separable 2-D FIR filter ``outer(taps, taps) / sum²``, normalised to unit sum.

    Args:
        taps: 1-D filter taps.

    Returns:
        ``(K, K)`` float32 filter.
    """
    t = torch.as_tensor(list(taps), dtype=torch.float32, device="cpu")  # tiny: CPU even under a meta device context
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError(f"FIR taps must be a non-empty 1-D sequence, got {taps!r}")
    f = t[:, None] * t[None, :]
    return f / f.sum()


def _parse_padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return (padding, padding, padding, padding)
    p = [int(v) for v in padding]
    if len(p) == 2:
        return (p[0], p[0], p[1], p[1])
    if len(p) != 4:
        raise ValueError(f"padding must be an int, (px, py) or (x0, x1, y0, y1), got {padding!r}")
    return (p[0], p[1], p[2], p[3])


def upfirdn2d_ref(
    x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1, padding: int | Sequence[int] = 0, gain: float = 1.0
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative = crop), convolve with FIR ``f``, downsample.

    The straightforward reference; :func:`upfirdn2d` computes the same with fewer operations.

    Args:
        x: ``(N, C, H, W)`` input.
        f: ``(K, K)`` filter (true convolution: the filter is flipped before correlating).
        up: Integer upsampling factor (zeros inserted after every sample).
        down: Integer downsampling factor (keep every ``down``-th sample).
        padding: ``(x0, x1, y0, y1)`` padding applied after upsampling; an int pads all sides.
        gain: The filter is scaled by ``gain`` (``up**2`` keeps the signal level when upsampling).

    Returns:
        ``(N, C, H', W')`` with ``W' = (W*up + x0 + x1 - K + 1) // down`` (same for H).
    """
    px0, px1, py0, py1 = _parse_padding(padding)
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    k = (f * gain).to(x.dtype).flip([0, 1])
    x = F.conv2d(x, k[None, None].expand(c, 1, *k.shape), groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upfirdn2d(
    x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1, padding: int | Sequence[int] = 0, gain: float = 1.0
) -> torch.Tensor:
    """Same result as :func:`upfirdn2d_ref`, without multiplying the inserted zeros.

    Upsampling followed by filtering is a strided transposed depthwise convolution with ``f``;
    without upsampling it is a depthwise convolution with the flipped ``f``.

    Args:
        x: ``(N, C, H, W)`` input.
        f: ``(K, K)`` filter.
        up: Upsampling factor.
        down: Downsampling factor.
        padding: ``(x0, x1, y0, y1)`` or an int.
        gain: Filter scale.

    Returns:
        ``(N, C, H', W')``, see :func:`upfirdn2d_ref`.
    """
    px0, px1, py0, py1 = _parse_padding(padding)
    c = x.shape[1]
    kh, kw = f.shape
    k = (f * gain).to(x.dtype)
    if up > 1:
        # out[o] = y[o + K-1-p0] with y = conv_transpose(x, f, stride=up); crop K-1-p0 before, K-up-p1 after.
        cx0, cx1, cy0, cy1 = kw - 1 - px0, kw - up - px1, kh - 1 - py0, kh - up - py1
        if min(cx0, cx1, cy0, cy1) < 0:
            return upfirdn2d_ref(x, f, up=up, down=down, padding=padding, gain=gain)
        y = F.conv_transpose2d(x, k[None, None].expand(c, 1, kh, kw), stride=up, groups=c)
        y = y[:, :, cy0 : y.shape[2] - cy1, cx0 : y.shape[3] - cx1]
    else:
        kf = k.flip([0, 1])[None, None].expand(c, 1, kh, kw)
        if px0 == px1 == py0 == py1 and px0 >= 0:
            y = F.conv2d(x, kf, padding=px0, groups=c)
        else:
            return upfirdn2d_ref(x, f, up=up, down=down, padding=padding, gain=gain)
    if down > 1:
        y = y[:, :, ::down, ::down]
    return y


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample ``(N, C, H, W)`` to ``(N, C, up·H, up·W)`` with FIR filter ``f`` (gain ``up²``).

    For a 4-tap filter and ``up=2`` the padding is ``[2, 1, 2, 1]``.
    """
    kh, kw = f.shape
    pad = [(kw + up - 1) // 2, (kw - up) // 2, (kh + up - 1) // 2, (kh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=pad, gain=up * up)


def conv2d_resample(
    x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None, up: int = 1, padding: int = 0, groups: int = 1
) -> torch.Tensor:
    """2-D convolution (correlation, weight not flipped), optionally upsampling ×``up``.

    * ``up == 1``: ``conv2d(x, w, padding)``.
    * ``up > 1``, 1×1 kernel: convolve, then :func:`upfirdn2d` with ``up`` (the conv commutes).
    * ``up > 1``, larger kernel: ``conv_transpose2d(stride=up)`` with the weight's in/out axes
      swapped per group (kernel not flipped), then FIR-filter ``f`` with gain ``up²``.

    Args:
        x: ``(N, groups·I, H, W)`` input.
        w: ``(groups·O, I, k, k)`` weight.
        f: ``(K, K)`` FIR filter (needed when ``up > 1``).
        up: Upsampling factor (1 or 2 in StyleGAN2).
        padding: Convolution padding at the output resolution.
        groups: Number of groups.

    Returns:
        ``(N, groups·O, H·up, W·up)`` for the "same" padding StyleGAN2 uses.
    """
    if up == 1:
        return F.conv2d(x, w, padding=padding, groups=groups)
    if f is None:
        raise ValueError("conv2d_resample with up > 1 needs a FIR filter")
    out_ch, in_per_group, kh, kw = w.shape
    fh, fw = f.shape
    px0 = padding + (fw + up - 1) // 2
    px1 = padding + (fw - up) // 2
    py0 = padding + (fh + up - 1) // 2
    py1 = padding + (fh - up) // 2
    if kh == 1 and kw == 1:
        x = F.conv2d(x, w, groups=groups)
        return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up * up)
    wt = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
    wt = wt.reshape(groups * in_per_group, out_ch // groups, kh, kw)
    x = F.conv_transpose2d(x, wt, stride=up, groups=groups)
    pad = [px0 - (kw - 1), px1 - (kw - up), py0 - (kh - 1), py1 - (kh - up)]
    return upfirdn2d(x, f, padding=pad, gain=up * up)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    fused: bool = True,
) -> torch.Tensor:
    """StyleGAN2's modulated convolution: per-sample weights ``W·s``, optionally demodulated.

    Demodulation divides each output channel by ``sqrt(Σ_{in,kh,kw} (W·s)² + 1e-8)``. The
    fused path runs one grouped convolution with per-sample weights; the unfused path scales
    activations instead (same result up to float rounding, often faster on CPU for big batches).
    If ``x`` is float16 the per-sample weights are computed in float32 first, then cast.

    Args:
        x: ``(N, I, H, W)`` input.
        weight: ``(O, I, k, k)`` shared weight.
        styles: ``(N, I)`` per-sample input-channel scales.
        noise: Tensor broadcastable to ``(N, O, H', W')`` added after the convolution, or None.
        up: Upsampling factor (1 or 2).
        padding: Convolution padding.
        resample_filter: ``(K, K)`` FIR filter for upsampling.
        demodulate: Whether to demodulate.
        fused: Grouped per-sample convolution (True) or activation scaling (False).

    Returns:
        ``(N, O, H·up, W·up)``.
    """
    n, in_ch, h, w_ = x.shape
    out_ch, _, kh, kw = weight.shape
    styles = styles.float()
    weight = weight.float()
    dcoefs: torch.Tensor | None = None
    if fused:
        wm = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)  # (N, O, I, k, k)
        if demodulate:
            dcoefs = (wm.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # (N, O)
            wm = wm * dcoefs.reshape(n, out_ch, 1, 1, 1)
        xg = x.reshape(1, n * in_ch, h, w_)
        wg = wm.reshape(n * out_ch, in_ch, kh, kw).to(x.dtype)
        if x.is_contiguous(memory_format=torch.channels_last):
            wg = wg.contiguous(memory_format=torch.channels_last)
        y = conv2d_resample(xg, wg, resample_filter, up=up, padding=padding, groups=n)
        y = y.reshape(n, out_ch, *y.shape[2:])
        if noise is not None:
            y = y.add_(noise.to(y.dtype)) if not torch.is_grad_enabled() else y + noise.to(y.dtype)
        return y
    if demodulate:
        # Σ_{i,kh,kw} (W[o,i]·s[n,i])² = Σ_i s[n,i]² · Σ_{kh,kw} W[o,i]²  -> (N, O), no (N, O, I, k, k) tensor.
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()
    xs = x * styles.to(x.dtype).reshape(n, in_ch, 1, 1)
    y = conv2d_resample(xs, weight.to(x.dtype), resample_filter, up=up, padding=padding)
    inplace = not torch.is_grad_enabled()
    if dcoefs is not None:
        d = dcoefs.to(y.dtype).reshape(n, out_ch, 1, 1)
        y = y.mul_(d) if inplace else y * d
    if noise is not None:
        y = y.add_(noise.to(y.dtype)) if inplace else y + noise.to(y.dtype)
    return y
