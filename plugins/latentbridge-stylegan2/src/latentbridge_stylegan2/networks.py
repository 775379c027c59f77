"""StyleGAN2(-ADA) generator modules written from the papers, with NVIDIA's parameter names and numerics."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import torch
from torch import nn

from ._ops import (
    ACTIVATIONS,
    bias_act,
    conv2d_resample,
    make_fir_filter,
    modulated_conv2d,
    normalize_2nd_moment,
    upsample2d,
)

__all__ = [
    "Conv2dLayer",
    "FullyConnectedLayer",
    "Generator",
    "MappingNetwork",
    "NoiseMode",
    "SynthesisBlock",
    "SynthesisLayer",
    "SynthesisNetwork",
    "ToRGBLayer",
    "block_resolutions",
    "truncate",
]

NoiseMode = Literal["const", "random", "none"]
NOISE_MODES: tuple[str, ...] = ("const", "random", "none")
ARCHITECTURES: tuple[str, ...] = ("orig", "skip", "resnet")

# Constructor keywords the modules accept (the names NVIDIA's snapshots record).
GENERATOR_KWARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
MAPPING_KWARGS = ("num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta")
SYNTHESIS_KWARGS = (
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "architecture",
    "resample_filter",
    "conv_clamp",
    "fp16_channels_last",
    "use_noise",
    "activation",
    "kernel_size",
)


def _check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return name


class FullyConnectedLayer(nn.Module):
    """Dense layer with equalized learning rate.

    The stored ``weight`` ``(out, in)`` is used as ``weight · lr_multiplier / √in`` and the stored
    ``bias`` ``(out,)`` as ``bias · lr_multiplier``.

    Args:
        in_features: Input size.
        out_features: Output size.
        bias: Whether the layer has a bias.
        activation: Activation name (see :data:`latentbridge_stylegan2._ops.ACTIVATIONS`).
        lr_multiplier: Learning-rate multiplier of the equalized-lr parametrisation.
        bias_init: Initial value of the (effective) bias.
    """

    bias: nn.Parameter | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = _check_activation(activation)
        # in place: out-of-place arithmetic on the meta device (shape checks in loading.py) imports torch._dynamo
        self.weight = nn.Parameter(torch.randn([out_features, in_features]).div_(lr_multiplier))
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in) -> (N, out)``."""
        w = self.weight.to(x.dtype) * self.weight_gain
        b: torch.Tensor | None = None
        if self.bias is not None:
            b = self.bias.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class MappingNetwork(nn.Module):
    """z (and label c) -> w, broadcast to ``num_ws`` copies, with optional truncation.

    Args:
        z_dim: Latent size (0 = no z input).
        c_dim: Label size (0 = unconditional).
        w_dim: Intermediate latent size.
        num_ws: Number of w copies to output (None = return ``(N, w_dim)``).
        num_layers: Number of FC layers.
        embed_features: Label embedding size (default ``w_dim``).
        layer_features: Hidden FC size (default ``w_dim``).
        activation: Hidden activation.
        lr_multiplier: Learning-rate multiplier of the FC layers (not of the embedding).
        w_avg_beta: Decay of the tracked w average during training (kept for the record).
    """

    w_avg: torch.Tensor

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            layer = FullyConnectedLayer(
                features[i], features[i + 1], activation=activation, lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{i}", layer)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def layers(self) -> Iterator[FullyConnectedLayer]:
        """The FC layers in order."""
        for i in range(self.num_layers):
            layer = getattr(self, f"fc{i}")
            assert isinstance(layer, FullyConnectedLayer)
            yield layer

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """Map latents to w.

        Args:
            z: ``(N, z_dim)`` latents (None if ``z_dim == 0``).
            c: ``(N, c_dim)`` labels (None or ``(N, 0)`` if unconditional).
            truncation_psi: ``w_avg + psi·(w − w_avg)``; 1 disables truncation.
            truncation_cutoff: Truncate only the first ``cutoff`` of the ``num_ws`` copies.

        Returns:
            ``(N, num_ws, w_dim)`` (or ``(N, w_dim)`` if ``num_ws`` is None).
        """
        x = None
        if self.z_dim > 0:
            assert z is not None
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            assert c is not None
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        assert x is not None
        for layer in self.layers():
            x = layer(x)
        if self.num_ws is None:
            return x
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        return truncate(x, self.w_avg, truncation_psi, truncation_cutoff)


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """The truncation trick: ``w_avg + psi·(w − w_avg)`` on ws ``[:, :cutoff]`` (all if None).

    Args:
        ws: ``(N, num_ws, w_dim)``.
        w_avg: ``(w_dim,)``.
        psi: Truncation strength; 1 returns ``ws`` unchanged.
        cutoff: Number of leading ws to truncate, or None for all.

    Returns:
        ``(N, num_ws, w_dim)``.
    """
    if psi == 1:
        return ws
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


class SynthesisLayer(nn.Module):
    """Modulated 3×3 convolution (optionally ×2 upsampling), noise, bias, activation, clamp.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        w_dim: Size of w.
        resolution: Output resolution (size of the constant noise map).
        kernel_size: Convolution kernel size.
        up: Upsampling factor (1 or 2).
        use_noise: Whether the layer adds per-pixel noise.
        activation: Activation name.
        resample_filter: FIR taps used for upsampling.
        conv_clamp: Clamp the output to ``±conv_clamp·gain`` (None = no clamp).
        channels_last: Use channels-last memory format (a speed hint).
    """

    resample_filter: torch.Tensor
    noise_const: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation = _check_activation(activation)
        self.conv_clamp = conv_clamp
        self.channels_last = channels_last
        self.register_buffer("resample_filter", make_fir_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = ACTIVATIONS[activation][1]
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", fused: bool = True, gain: float = 1.0
    ) -> torch.Tensor:
        """``(N, I, H, W)``, w ``(N, w_dim)`` -> ``(N, O, H·up, W·up)``."""
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            n = x.shape[0]
            noise = torch.randn([n, 1, self.resolution, self.resolution], device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            fused=fused,
        )
        gain_total = self.act_gain * gain
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(
            x, self.bias, act=self.activation, gain=gain_total, clamp=clamp, inplace=not torch.is_grad_enabled()
        )


class ToRGBLayer(nn.Module):
    """1×1 modulated convolution to image channels, without demodulation; bias and clamp.

    Args:
        in_channels: Feature channels.
        out_channels: Image channels.
        w_dim: Size of w.
        kernel_size: Kernel size (1).
        conv_clamp: Output clamp (None = no clamp).
        channels_last: Channels-last hint.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 1,
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.channels_last = channels_last
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = True) -> torch.Tensor:
        """``(N, I, H, W)``, w ``(N, w_dim)`` -> ``(N, img_channels, H, W)``."""
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return bias_act(x, self.bias, clamp=self.conv_clamp, inplace=not torch.is_grad_enabled())


class Conv2dLayer(nn.Module):
    """Plain equalized-lr convolution, optionally ×2 upsampling (the 'resnet' skip branch).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel size.
        bias: Whether the layer has a bias.
        activation: Activation name.
        up: Upsampling factor.
        resample_filter: FIR taps used for upsampling.
        conv_clamp: Output clamp (None = no clamp).
        channels_last: Channels-last hint.
    """

    resample_filter: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.activation = _check_activation(activation)
        self.up = up
        self.conv_clamp = conv_clamp
        self.channels_last = channels_last
        self.register_buffer("resample_filter", make_fir_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.act_gain = ACTIVATIONS[activation][1]
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """``(N, I, H, W) -> (N, O, H·up, W·up)``."""
        w = self.weight.to(x.dtype) * self.weight_gain
        x = conv2d_resample(x, w, self.resample_filter, up=self.up, padding=self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        b = self.bias.to(x.dtype) if self.bias is not None else None
        return bias_act(
            x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp, inplace=not torch.is_grad_enabled()
        )


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (const | conv0 ↑2), conv1, toRGB / skip.

    Args:
        in_channels: Channels from the previous block (0 for the first, 4×4 block).
        out_channels: Channels of this block.
        w_dim: Size of w.
        resolution: Resolution of this block.
        img_channels: Image channels.
        is_last: Whether this is the last block (always has a toRGB).
        architecture: ``'orig'``, ``'skip'`` or ``'resnet'``.
        resample_filter: FIR taps.
        conv_clamp: Clamp of hidden activations (None = no clamp).
        use_fp16: Whether this block may run in float16 (on CUDA, when enabled).
        fp16_channels_last: Use channels-last memory format in float16.
        **layer_kwargs: Passed to :class:`SynthesisLayer` (``use_noise``, ``activation``, ``kernel_size``).
    """

    resample_filter: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.img_channels = resolution, img_channels
        self.is_last, self.architecture = is_last, architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", make_fir_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels,
                out_channels,
                w_dim,
                resolution,
                up=2,
                resample_filter=resample_filter,
                conv_clamp=conv_clamp,
                channels_last=self.channels_last,
                **layer_kwargs,
            )
            self.num_conv += 1
        self.conv1 = SynthesisLayer(
            out_channels,
            out_channels,
            w_dim,
            resolution,
            resample_filter=resample_filter,
            conv_clamp=conv_clamp,
            channels_last=self.channels_last,
            **layer_kwargs,
        )
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels,
                out_channels,
                kernel_size=1,
                bias=False,
                up=2,
                resample_filter=resample_filter,
                channels_last=self.channels_last,
            )

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str = "const",
        fused: bool | None = None,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the block.

        Args:
            x: ``(N, in_channels, R/2, R/2)`` features (None for the first block).
            img: ``(N, img_channels, R/2, R/2)`` float32 image so far (None at first).
            ws: ``(N, num_conv + num_torgb, w_dim)``.
            noise_mode: ``'const'``, ``'random'`` or ``'none'``.
            fused: Fused modulated convolutions (None = fused for float32 or batch 1).
            dtype: Compute dtype of the features (float16 only on CUDA).
            channels_last: Use channels-last memory format for the features.

        Returns:
            ``(x, img)``: ``(N, out_channels, R, R)`` features and ``(N, img_channels, R, R)``
            float32 image (None until the first block with a toRGB, e.g. the last one in 'resnet').
        """
        w_iter = iter(ws.unbind(dim=1))
        n = ws.shape[0]
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if fused is None:
            fused = dtype == torch.float32 or n == 1
        if self.in_channels == 0:
            x = self.const.to(dtype=dtype).unsqueeze(0).repeat([n, 1, 1, 1])
            x = x.contiguous(memory_format=memory_format)
            x = self.conv1(x, next(w_iter), noise_mode=noise_mode, fused=fused)
        else:
            assert x is not None
            x = x.to(dtype=dtype, memory_format=memory_format)
            if self.architecture == "resnet":
                y = self.skip(x, gain=math.sqrt(0.5))
                x = self.conv0(x, next(w_iter), noise_mode=noise_mode, fused=fused)
                x = self.conv1(x, next(w_iter), noise_mode=noise_mode, fused=fused, gain=math.sqrt(0.5))
                x = y + x
            else:
                x = self.conv0(x, next(w_iter), noise_mode=noise_mode, fused=fused)
                x = self.conv1(x, next(w_iter), noise_mode=noise_mode, fused=fused)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            rgb = self.torgb(x, next(w_iter), fused=fused)
            rgb = rgb.to(dtype=torch.float32, memory_format=torch.contiguous_format)
            img = img + rgb if img is not None else rgb
        return x, img


def block_resolutions(img_resolution: int) -> list[int]:
    """``[4, 8, ..., img_resolution]``; ``img_resolution`` must be a power of two >= 4."""
    log2 = int(math.log2(img_resolution)) if img_resolution > 0 else 0
    if img_resolution < 4 or 2**log2 != img_resolution:
        raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
    return [2**i for i in range(2, log2 + 1)]


class SynthesisNetwork(nn.Module):
    """ws -> image: a stack of :class:`SynthesisBlock` from 4×4 up to ``img_resolution``.

    Args:
        w_dim: Size of w.
        img_resolution: Output resolution (power of two).
        img_channels: Output channels.
        channel_base: Channels at resolution r are ``min(channel_base // r, channel_max)``.
        channel_max: Maximum number of channels.
        num_fp16_res: The highest ``num_fp16_res`` resolutions (but none below 8×8) may run in float16.
        **block_kwargs: Passed to each :class:`SynthesisBlock` (architecture, conv_clamp, ...).
    """

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = block_resolutions(img_resolution)
        self.num_fp16_res = num_fp16_res
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.channels = channels
        log2 = int(math.log2(img_resolution))
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.fp16_resolution = fp16_resolution if num_fp16_res > 0 else None
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = channels[res // 2] if res > 4 else 0
            is_last = res == img_resolution
            block = SynthesisBlock(
                in_channels,
                channels[res],
                w_dim,
                res,
                img_channels,
                is_last,
                use_fp16=res >= fp16_resolution,
                **block_kwargs,
            )
            self.num_ws += block.num_conv
            if is_last:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)

    def blocks(self) -> Iterator[SynthesisBlock]:
        """The blocks from 4×4 upwards."""
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            assert isinstance(block, SynthesisBlock)
            yield block

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",
        fused: bool | None = None,
        fp16_min_res: int | None = None,
        channels_last: bool = False,
    ) -> torch.Tensor:
        """Synthesize images.

        Args:
            ws: ``(N, num_ws, w_dim)``; block k reads ws ``[i, i + num_conv + num_torgb)``, then
                ``i += num_conv`` (so in 'skip', a toRGB shares its w with the next conv0).
            noise_mode: ``'const'``, ``'random'`` or ``'none'``.
            fused: Fused modulated convolutions (None = automatic).
            fp16_min_res: Run the blocks of this resolution and above in float16 (CUDA only;
                None = float32 everywhere). :attr:`fp16_resolution` is what the snapshot was trained with.
            channels_last: Channels-last features.

        Returns:
            ``(N, img_channels, R, R)`` float32 image.
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        ws = ws.to(torch.float32)
        x: torch.Tensor | None = None
        img: torch.Tensor | None = None
        i = 0
        for block in self.blocks():
            block_ws = ws.narrow(1, i, block.num_conv + block.num_torgb)
            i += block.num_conv
            dtype = torch.float16 if (fp16_min_res is not None and block.resolution >= fp16_min_res) else torch.float32
            x, img = block(
                x,
                img,
                block_ws,
                noise_mode=noise_mode,
                fused=fused,
                dtype=dtype,
                channels_last=channels_last or (dtype == torch.float16 and block.channels_last),
            )
        assert img is not None
        return img


class Generator(nn.Module):
    """The full StyleGAN2-ADA generator: :class:`MappingNetwork` then :class:`SynthesisNetwork`.

    The keyword names are those NVIDIA's snapshots record as constructor arguments, so a
    snapshot's ``_init_kwargs`` rebuild this module and its state dict loads unchanged.

    Args:
        z_dim: Latent size.
        c_dim: Label size (0 = unconditional).
        w_dim: Intermediate latent size.
        img_resolution: Output resolution.
        img_channels: Output channels.
        mapping_kwargs: Keywords of :class:`MappingNetwork`.
        synthesis_kwargs: Keywords of :class:`SynthesisNetwork` / :class:`SynthesisBlock`.
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: Mapping[str, Any] | None = None,
        synthesis_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        synthesis_kwargs = dict(synthesis_kwargs or {})
        bad_m = sorted(set(mapping_kwargs) - set(MAPPING_KWARGS))
        bad_s = sorted(set(synthesis_kwargs) - set(SYNTHESIS_KWARGS))
        if bad_m or bad_s:
            raise ValueError(
                f"unsupported generator options: mapping_kwargs {bad_m}, synthesis_kwargs {bad_s}; "
                f"expected mapping_kwargs from {list(MAPPING_KWARGS)} "
                f"and synthesis_kwargs from {list(SYNTHESIS_KWARGS)}"
            )
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, num_ws=self.num_ws, **mapping_kwargs)
        self.init_kwargs: dict[str, Any] = {
            "z_dim": z_dim,
            "c_dim": c_dim,
            "w_dim": w_dim,
            "img_resolution": img_resolution,
            "img_channels": img_channels,
            "mapping_kwargs": mapping_kwargs,
            "synthesis_kwargs": synthesis_kwargs,
        }

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
        fused: bool | None = None,
    ) -> torch.Tensor:
        """``z (N, z_dim)``, ``c (N, c_dim)`` -> ``(N, img_channels, R, R)``."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        img: torch.Tensor = self.synthesis(ws, noise_mode=noise_mode, fused=fused)
        return img
