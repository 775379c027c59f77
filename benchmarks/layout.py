"""Channels-last vs contiguous layout of the embedded models on this CPU, measured side by side.

The built-ins' ``channels_last=None`` default follows the CPU (``latentbridge.precision.default_channels_last``):
on where torch dispatches AVX-512 kernels, off on AVX2-only CPUs. This script checks that choice on the machine
at hand: it times the embedded generator (and each of its ``ConvTranspose2d`` layers) and the digit CNN in both
layouts, alternating the two in every round, and prints the ratios with the CPU it ran on.

    python benchmarks/layout.py                                             # this CPU
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/layout.py   # as an AVX2-only CPU
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from _common import machine_header

import latentbridge as lb
from latentbridge.precision import default_channels_last


def _time(fn: Callable[[], object], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def _pair(make: Callable[[bool], Callable[[], object]], rounds: int, repeats: int) -> tuple[float, float]:
    """Median seconds per call of the contiguous and channels-last versions, alternating in every round."""
    plain, last = make(False), make(True)
    plain(), last()  # warm up (oneDNN primitive caches)
    a, b = [], []
    for _ in range(rounds):
        a.append(_time(plain, repeats))
        b.append(_time(last, repeats))
    return statistics.median(a), statistics.median(b)


def main(argv: list[str] | None = None) -> None:
    """Print one Markdown table: seconds per batch in both layouts and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("\n".join(machine_header(1)))
    print(f"- default_channels_last('cpu') here: {default_channels_last('cpu')}")
    z = torch.randn(args.batch, 100)
    rows = []

    def generator(channels_last: bool) -> Callable[[], object]:
        gen = lb.load_generator("mnist-dcgan", channels_last=channels_last)
        return lambda: gen.generate(z)

    def scorer(channels_last: bool) -> Callable[[], object]:
        sc = lb.load_scorer("mnist-embed", channels_last=channels_last)
        images = lb.load_generator("mnist-dcgan").generate(z).detach()
        return lambda: sc.embed(images)

    with torch.inference_mode():
        rows.append(("mnist-dcgan generate", *_pair(generator, args.rounds, args.repeats)))
        net = lb.load_generator("mnist-dcgan", channels_last=False).module
        layers = [m for m in net.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
        feeds: list[torch.Tensor | None] = [None] * len(layers)  # what each layer sees in one contiguous forward
        hooks = [
            layer.register_forward_pre_hook(lambda mod, inp, i=i: feeds.__setitem__(i, inp[0].detach().clone()))
            for i, layer in enumerate(layers)
        ]
        net(z)
        for h in hooks:
            h.remove()
        for i, (layer, feed) in enumerate(zip(layers, feeds, strict=True)):
            assert feed is not None

            def conv(
                channels_last: bool, layer: torch.nn.Module = layer, feed: torch.Tensor = feed
            ) -> Callable[[], object]:
                fmt = torch.channels_last if channels_last else torch.contiguous_format
                mod = type(layer)(
                    layer.in_channels,
                    layer.out_channels,
                    layer.kernel_size,
                    layer.stride,
                    layer.padding,
                    bias=layer.bias is not None,
                )
                mod.load_state_dict(layer.state_dict())
                mod = mod.to(memory_format=fmt)
                inp = feed.contiguous(memory_format=fmt)
                return lambda: mod(inp)

            rows.append((f"ConvTranspose2d #{i + 1} {tuple(feed.shape[1:])}", *_pair(conv, args.rounds, args.repeats)))
        rows.append(("mnist-embed embed", *_pair(scorer, args.rounds, args.repeats)))
    print(f"\nbatch {args.batch}, one thread, median of {args.rounds} alternating rounds of {args.repeats} calls\n")
    print("| forward | contiguous (ms) | channels-last (ms) | channels-last / contiguous |")
    print("|---|---:|---:|---:|")
    for name, a, b in rows:
        print(f"| {name} | {1e3 * a:.2f} | {1e3 * b:.2f} | {b / a:.2f}× |")


if __name__ == "__main__":
    main()
