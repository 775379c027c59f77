"""Precision, memory layout and compile options: results guarded against fp32, clear refusals and fallbacks."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import latentbridge as lb
import latentbridge.precision as lbp
from latentbridge.bench.suite import SuiteError, parse_suite
from latentbridge.data import heldout_digit
from latentbridge.errors import InputError, PrecisionError
from latentbridge.testing import expect_emulation_warning

N_LATENTS = 256  # the 10,000-latent version of this guard is benchmarks/roofline.py --guard


def _pair_problem(**options: Any) -> lb.TargetSimilarity:
    gen = lb.load_generator("mnist-dcgan", **options)
    scorer = lb.load_scorer("mnist-embed", **options)
    return lb.TargetSimilarity(gen, scorer, heldout_digit(3), batch_size=128)


@pytest.fixture(params=["bf16 native", "bf16 emulated"])
def cpu_bf16(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both kinds of CPU on any machine: one with AVX-512 BF16/AMX and one without (bf16 emulated).

    Only what the library *reports* is simulated; the kernels are whatever this CPU runs, so
    tests using this fixture check behaviour that holds on both kinds (and the warning where due).
    """
    native = request.param == "bf16 native"
    real = lbp._cpu_native
    monkeypatch.setattr(lbp, "_cpu_native", lambda p: native if p == "bf16" else real(p))
    return str(request.param)


@pytest.fixture(scope="module")
def real_compile() -> None:
    """Skip unless torch.compile really compiles here (a C++ compiler and Python's headers for inductor)."""
    reason = lbp.compile_unavailable_reason(torch.device("cpu"))
    if reason is None:
        try:
            torch.compile(lambda x: x * 2 + 1, dynamic=False)(torch.ones(3))
        except Exception as exc:  # a toolchain problem, not latentbridge's: the fallback tests cover it
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if reason is not None:
        pytest.skip(f"torch.compile cannot run here: {reason}")


@pytest.fixture(scope="module")
def fp32_reference() -> tuple[np.ndarray, np.ndarray]:
    problem = _pair_problem(channels_last=False)
    Z = problem.sample(N_LATENTS, seed=0)
    return Z, problem.evaluate(Z)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_keeps_the_ranking(precision: str, fp32_reference: tuple[np.ndarray, np.ndarray]) -> None:
    if lb.precision_support("cpu")[precision] == "unsupported":
        pytest.skip(f"{precision} is not supported on this CPU")
    Z, ref = fp32_reference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lb.PrecisionWarning)  # emulated bf16 is slow, not wrong
        problem = _pair_problem(precision=precision)
    f = problem.evaluate(Z)
    assert f.dtype == np.float64
    assert f.shape == ref.shape
    assert spearmanr(f, ref)[0] >= 0.99
    rel = np.abs(f - ref) / np.abs(ref)
    assert np.median(rel) < 0.02  # bf16 keeps 8 mantissa bits: ~0.4 % per rounding
    assert not np.array_equal(f, ref)  # it really ran in reduced precision


def test_channels_last_changes_only_rounding(fp32_reference: tuple[np.ndarray, np.ndarray]) -> None:
    Z, ref = fp32_reference
    problem = _pair_problem(channels_last=True)
    assert problem.generator.channels_last
    assert problem.scorers[0].channels_last
    np.testing.assert_allclose(problem.evaluate(Z), ref, rtol=1e-5, atol=1e-5)
    # layout is not part of the identity; the default (channels_last) hashes as the old fp32 problem
    assert problem.config_hash() == _pair_problem(channels_last=False).config_hash()


def test_protocol_boundary_stays_float32(cpu_bf16: str) -> None:
    with expect_emulation_warning("bf16"):
        gen = lb.load_generator("mnist-dcgan", precision="bf16")
        scorer = lb.load_scorer("mnist-embed", precision="bf16")
    z = torch.randn(4, 100)
    with torch.inference_mode():
        images = gen.generate(z)
        feats = scorer.embed(images)
    assert images.dtype == torch.float32
    assert images.shape == (4, 1, 28, 28)
    assert feats.dtype == torch.float32
    assert feats.shape == (4, 128)


def test_precision_is_part_of_the_identity(cpu_bf16: str) -> None:
    fp32 = _pair_problem()
    with expect_emulation_warning("bf16"):
        bf16 = _pair_problem(precision="bf16")
    assert "precision" not in fp32.config()
    assert fp32.precision == "fp32"
    assert bf16.config()["precision"] == "bf16"
    assert bf16.precision == "bf16"
    assert bf16.config()["generator"]["precision"] == "bf16"
    assert fp32.config_hash() != bf16.config_hash()


def test_problem_wide_precision_copies_components_and_keeps_pixel_scorers_exact(cpu_bf16: str) -> None:
    gen = lb.load_generator("mnist-dcgan")
    rmse = lb.load_scorer("rmse")
    with expect_emulation_warning("bf16"):
        problem = lb.SetDiversity(gen, rmse, k=3, precision="bf16")
    assert gen.precision == "fp32"  # the caller's generator is untouched
    assert problem.generator.precision == "bf16"  # type: ignore[attr-defined]
    assert problem.scorers[0] is rmse  # pixel scorers always compute in float32
    assert problem.precision == "bf16"
    # an explicit fp32 overrides components configured otherwise
    with expect_emulation_warning("bf16"):
        bf16_gen = lb.load_generator("mnist-dcgan", precision="bf16")
    back = lb.SetDiversity(bf16_gen, rmse, k=3, precision="fp32")
    assert back.generator.precision == "fp32"
    assert back.precision == "fp32"


def test_mixed_precision_is_reported(cpu_bf16: str) -> None:
    with expect_emulation_warning("bf16"):
        gen = lb.load_generator("mnist-dcgan", precision="bf16")
    problem = lb.TargetSimilarity(gen, lb.load_scorer("mnist-embed"), heldout_digit(3))
    assert problem.precision == "bf16"
    if lb.precision_support("cpu")["fp16"] != "unsupported":
        scorer = lb.load_scorer("mnist-embed", precision="fp16")
        assert lb.TargetSimilarity(gen, scorer, heldout_digit(3)).precision == "mixed"


def test_unknown_precision_is_refused_with_the_option_named(tiny_gen: lb.TorchGenerator) -> None:
    with pytest.raises(PrecisionError, match="precision must be one of fp32, bf16, fp16; got 'fp8'"):
        lb.load_generator("mnist-dcgan", precision="fp8")
    with pytest.raises(InputError, match="precision"):
        lb.TargetSimilarity(tiny_gen, lb.load_scorer("rmse"), np.zeros((1, 8, 8)), precision="half")  # type: ignore[arg-type]


def test_unsupported_and_emulated_precisions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lbp, "_cpu_native", lambda precision: False)
    assert lbp.precision_support("cpu") == {"fp32": "native", "bf16": "emulated", "fp16": "unsupported"}
    assert lbp.emulated("bf16")
    assert not lbp.emulated("fp32")
    assert lbp.cpu_description().endswith("bf16 emulated, fp16 unsupported")
    with pytest.raises(PrecisionError, match=r"precision='fp16' is not supported on device 'cpu'.*bf16"):
        lb.load_generator("mnist-dcgan", precision="fp16")
    with pytest.warns(lb.PrecisionWarning, match="emulated"):
        lb.load_scorer("mnist-embed", precision="bf16")


def test_emulated_bf16_warns_once_per_problem_and_never_for_pixel_scorers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lbp, "_cpu_native", lambda precision: False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        lb.load_scorer("rmse").with_precision("bf16")  # computes in float32 whatever it is asked
        lb.load_scorer("ncc").with_precision("bf16")
        assert seen == []
        lb.SetDiversity(lb.load_generator("mnist-dcgan"), lb.load_scorer("rmse"), k=2, precision="bf16")
        _pair_problem().__class__(  # a problem-wide precision: one warning for the generator and the scorer
            lb.load_generator("mnist-dcgan"), lb.load_scorer("mnist-embed"), heldout_digit(3), precision="bf16"
        )
    assert [str(w.message).split(":")[0] for w in seen] == [
        "SetDiversity(precision=...)",
        "TargetSimilarity(precision=...)",
    ]
    with warnings.catch_warnings(), lbp.emulation_reported():
        warnings.simplefilter("error")
        lb.load_generator("mnist-dcgan", precision="bf16")  # the caller has said it already


def test_expect_emulation_warning_checks_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lbp, "_cpu_native", lambda precision: False)
    with pytest.raises(AssertionError, match="no PrecisionWarning said so"), expect_emulation_warning("bf16"):
        lb.load_generator("mnist-dcgan")
    monkeypatch.setattr(lbp, "_cpu_native", lambda precision: True)
    with pytest.raises(AssertionError, match="yet it was reported emulated"), expect_emulation_warning("bf16"):
        warnings.warn(
            "x: precision='bf16' on a CPU without native bf16 instructions is emulated",
            lb.PrecisionWarning,
            stacklevel=1,
        )
    with pytest.warns(UserWarning, match="unrelated"), expect_emulation_warning("bf16"):
        warnings.warn("unrelated", UserWarning, stacklevel=1)  # other warnings pass through


@pytest.mark.parametrize(("capability", "expected"), [("AVX512", True), ("AVX2", False), ("DEFAULT", False)])
def test_channels_last_default_follows_the_cpu(
    monkeypatch: pytest.MonkeyPatch, capability: str, expected: bool
) -> None:
    monkeypatch.setattr(lbp, "cpu_capability", lambda: capability)
    assert lbp.default_channels_last("cpu") is expected
    assert lb.load_generator("mnist-dcgan").channels_last is expected
    assert lb.load_scorer("mnist-embed").channels_last  # Conv2d: faster in channels-last on every CPU measured
    assert lb.load_generator("mnist-dcgan", channels_last=not expected).channels_last is (not expected)


def test_a_generator_without_with_precision_is_refused(tiny_gen: lb.TorchGenerator, cpu_bf16: str) -> None:
    class Plain:
        latent = tiny_gen.latent
        image_shape = tiny_gen.image_shape
        device = tiny_gen.device

        def generate(self, z: torch.Tensor) -> torch.Tensor:
            return tiny_gen.generate(z)

    target = np.zeros((1, 8, 8), dtype=np.float32)
    assert lb.TargetSimilarity(Plain(), lb.load_scorer("rmse"), target, precision="fp32").precision == "fp32"
    with (
        expect_emulation_warning("bf16"),
        pytest.raises(PrecisionError, match="generator Plain cannot change its precision"),
    ):
        lb.TargetSimilarity(Plain(), lb.load_scorer("rmse"), target, precision="bf16")


def test_channels_last_on_a_plain_callable_warns() -> None:
    with pytest.warns(lb.PrecisionWarning, match="channels_last=True needs an nn.Module"):
        gen = lb.TorchGenerator(
            lambda z: torch.tanh(z).reshape(-1, 1, 2, 2), lb.LatentSpace((4,)), (1, 2, 2), channels_last=True
        )
    assert not gen.channels_last


def test_compile_falls_back_with_a_message(monkeypatch: pytest.MonkeyPatch, tiny_gen: lb.TorchGenerator) -> None:
    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: "no C++ compiler (test)")
    with pytest.warns(lb.PrecisionWarning, match=r"compile=True falls back to eager mode: no C\+\+ compiler"):
        gen = lb.TorchGenerator(tiny_gen.module, tiny_gen.latent, tiny_gen.image_shape, compile=True)
    z = torch.randn(3, 8)
    with torch.inference_mode():
        assert torch.equal(gen.generate(z), tiny_gen.generate(z))
    assert not gen.compiled
    assert gen.compile_seconds == 0.0


def test_compile_failure_at_first_call_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(fn: Any, **kwargs: Any) -> Any:
        def run(x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("inductor exploded\nlong traceback")

        return run

    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", broken_compile)
    fwd = lbp.CompiledForward(torch.nn.Identity(), torch.device("cpu"), owner="scorer 'x'")
    assert fwd.active
    with pytest.warns(lb.PrecisionWarning, match="RuntimeError: inductor exploded$"):
        out = fwd(torch.ones(2))
    assert torch.equal(out, torch.ones(2))
    assert not fwd.active


@pytest.mark.parametrize("autocast", [False, True])
def test_compiled_code_that_computes_something_else_falls_back(autocast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong_compile(fn: Any, **kwargs: Any) -> Any:
        return lambda x: fn(x) * 1.3  # what a miscompiled graph might do

    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", wrong_compile)
    fwd = lbp.CompiledForward(torch.nn.Tanh(), torch.device("cpu"), owner="scorer 'x'", mode="freeze")
    x = torch.linspace(-2, 2, 12).reshape(3, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        with pytest.warns(lb.PrecisionWarning, match=r"compile='freeze' falls back to eager mode: its output differs"):
            out = fwd(x)
        assert torch.equal(out, torch.tanh(x))  # the eager result, not the wrong one
    assert not fwd.active


def test_compiled_code_within_rounding_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: lambda x: fn(x) * (1 + 1e-5))
    fwd = lbp.CompiledForward(torch.nn.Tanh(), torch.device("cpu"), owner="g")
    fwd(torch.ones(3))
    assert fwd.active


def test_compile_records_warm_up_once_per_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []

    def fake_compile(fn: Any, **kwargs: Any) -> Any:
        assert kwargs == {"dynamic": False}

        def run(x: torch.Tensor) -> torch.Tensor:
            calls.append(tuple(x.shape))
            return fn(x)

        return run

    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", fake_compile)
    fwd = lbp.CompiledForward(torch.nn.Identity(), torch.device("cpu"), owner="g")
    for n in (4, 4, 2):
        fwd(torch.ones(n))
    assert calls == [(4,), (4,), (2,)]
    assert fwd.compile_seconds > 0


@pytest.mark.parametrize("bad", ["fast", "max-autotune", 1, 0.5])
def test_unknown_compile_value_is_refused(bad: Any, tiny_gen: lb.TorchGenerator) -> None:
    with pytest.raises(PrecisionError, match=r"generator 'torch': compile must be False, True .* or 'freeze'"):
        lb.TorchGenerator(tiny_gen.module, tiny_gen.latent, tiny_gen.image_shape, compile=bad)
    with pytest.raises(PrecisionError, match="scorer 'mnist-embed': compile must be"):
        lb.load_scorer("mnist-embed", compile=bad)


def test_freeze_asks_inductor_to_freeze_the_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch._inductor import config as inductor_config

    freezing: list[bool] = []

    def fake_compile(fn: Any, **kwargs: Any) -> Any:
        assert kwargs == {"dynamic": False}

        def run(x: torch.Tensor) -> torch.Tensor:
            freezing.append(bool(inductor_config.freezing))  # where inductor compiles: at the call
            return fn(x)

        return run

    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", fake_compile)
    gen = lb.load_generator("mnist-dcgan", compile="freeze")
    scorer = lb.load_scorer("mnist-embed", compile=True)
    problem = lb.TargetSimilarity(gen, scorer, heldout_digit(3), batch_size=8)
    problem.evaluate(problem.sample(8, seed=0))
    problem.evaluate(problem.sample(8, seed=1))
    assert freezing == [False, True, False, True, False]  # target features, then (generator, scorer) twice
    assert not inductor_config.freezing  # restored
    assert (gen.compile_mode, scorer.compile_mode) == ("freeze", True)
    assert lb.load_generator("mnist-dcgan").compile_mode is False
    # an execution option: the identity does not change
    assert gen.config() == lb.load_generator("mnist-dcgan").config()


def test_freeze_compiles_for_real_and_changes_only_rounding(real_compile: None) -> None:
    """The real thing (inductor, C++ kernels) on the embedded pair, channels-last, three batch shapes."""
    eager = _pair_problem()
    eager.batch_size = 6
    with warnings.catch_warnings():
        warnings.simplefilter("error", lb.PrecisionWarning)  # a fallback to eager fails the test
        frozen = _pair_problem(compile="freeze")
        frozen.batch_size = 6
        Z = frozen.sample(10, seed=0)  # shapes: the target (1), a full chunk (6), the rest (4)
        f = frozen.evaluate(Z)
    assert frozen.generator.compiled
    assert frozen.scorers[0].compiled
    np.testing.assert_allclose(f, eager.evaluate(Z), rtol=1e-4, atol=1e-5)
    seconds = frozen.generator.compile_seconds
    assert seconds > 0
    frozen.evaluate(frozen.sample(10, seed=1))
    assert frozen.generator.compile_seconds == seconds  # each shape compiled once


def test_freeze_gets_its_own_graph_after_a_plain_compile_of_the_same_class(real_compile: None) -> None:
    """A plain graph fits any instance of a class; a frozen one must not reuse it (it would not freeze)."""

    def net(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 4, 4)))

    latent, z = lb.LatentSpace((6,)), torch.randn(5, 6)
    plain = lb.TorchGenerator(net(1), latent, (1, 4, 4), compile=True)
    frozen_net = net(2)
    frozen = lb.TorchGenerator(frozen_net, latent, (1, 4, 4), compile="freeze")
    with torch.inference_mode():  # inductor freezes only where gradients are off, as in evaluate()
        plain.generate(z)
        out = frozen.generate(z)
        torch.testing.assert_close(out, lb.TorchGenerator(frozen_net, latent, (1, 4, 4)).generate(z))
    assert frozen.compile_seconds > 0  # compiled, not a cache hit on the plain graph
    with torch.no_grad():
        frozen_net[0].weight.mul_(2.0)
    with torch.inference_mode():
        assert torch.equal(frozen.generate(z), out)  # the weights were folded in: later changes are not seen


def test_many_frozen_models_all_compile(real_compile: None) -> None:
    """dynamo keeps 8 graphs per code object, then runs eagerly without an error: each frozen model has its own."""
    z = torch.randn(5, 6)
    for seed in range(5):  # 5 models x 2 shapes = 10 graphs
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 4, 4)))
        gen = lb.TorchGenerator(net, lb.LatentSpace((6,)), (1, 4, 4), compile="freeze")
        with torch.inference_mode():
            gen.generate(z[:3])
            out = gen.generate(z)
        with torch.no_grad():
            net[0].weight.mul_(2.0)
        with torch.inference_mode():
            assert torch.equal(gen.generate(z), out), f"model {seed} ran eagerly"  # frozen: the change is not seen


SUITE = """
[suite]
name = "p"
budget = 10
{suite_extra}
[[problems]]
id = "t"
kind = "target-similarity"
generator = "mnist-dcgan"
scorer = "mnist-embed"
target = {{ heldout_digit = 3 }}
{problem_extra}
[[optimizers]]
name = "random"
"""


def test_suite_precision_keys() -> None:
    suite = parse_suite(SUITE.format(suite_extra='precision = "bf16"', problem_extra=""))
    assert suite.problems[0].options["precision"] == "bf16"
    suite = parse_suite(SUITE.format(suite_extra='precision = "bf16"', problem_extra='precision = "fp32"'))
    assert suite.problems[0].options["precision"] == "fp32"
    assert "precision" not in parse_suite(SUITE.format(suite_extra="", problem_extra="")).problems[0].options
    with pytest.raises(SuiteError, match=r"<suite>:\d+: .*precision.*expected one of fp32, bf16, fp16, got 'fp64'"):
        parse_suite(SUITE.format(suite_extra="", problem_extra='precision = "fp64"'))
    base = parse_suite(SUITE.format(suite_extra="", problem_extra=""))
    assert base.with_overrides(precision="bf16").problems[0].options["precision"] == "bf16"
    with pytest.raises(SuiteError, match="--precision must be one of"):
        base.with_overrides(precision="int8")


def test_cli_refuses_an_unknown_precision(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from latentbridge.cli import app

    result = CliRunner().invoke(app, ["bench", "--suite", "quick", "--precision", "fp64", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--precision must be one of fp32, bf16, fp16" in result.output
    assert not (tmp_path / "bench.sqlite").exists()
