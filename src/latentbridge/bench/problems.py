"""Build :class:`~latentbridge.LatentProblem` instances from :class:`ProblemSpec` (in any process).

:func:`build_problem` builds a suite's problem (and names the suite key of a step that fails),
:func:`rebuild_problem` the problem of a stored run, :func:`cached_problem` memoises per process;
``"pkg.module:factory"`` names import only inside :func:`trusted_imports`.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray

from .._plugins import load_generator, load_problem, load_scorer, registry
from .._problems import LatentProblem
from .._protocols import LatentGenerator
from .._validation import read_npy
from ..errors import ImageShapeError, InputError, UnknownNameError, UntrustedImportError
from ..precision import emulated, emulation_reported, precision_of
from .qd_problems import build_qd_problem, is_qd_spec
from .specs import ProblemSpec, SuiteError, located

__all__ = [
    "build_problem",
    "cached_problem",
    "emulated_precisions",
    "generated_target",
    "is_import_path",
    "load_originals",
    "load_target",
    "rebuild_problem",
    "target_images",
    "trusted_imports",
    "trusted_modules",
]

_CACHE: OrderedDict[str, LatentProblem] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def load_target(source: dict[str, Any], generator: LatentGenerator) -> NDArray[np.float32]:
    """A target image ``(C, H, W)`` float32 in [-1, 1] from a suite's ``target`` table.

    Args:
        source: ``{heldout_digit, index}`` (a held-out MNIST digit), ``{generated = {seed}}``
            (see :func:`generated_target`), ``{path}`` (an image file, resized/converted to the
            generator's image shape) or ``{npy}``.
        generator: Shapes the image.
    """
    if "heldout_digit" in source:
        from ..data import heldout_digit

        digit = heldout_digit(int(source["heldout_digit"]), int(source.get("index", 0)))
        shape = tuple(int(d) for d in generator.image_shape)
        if shape != digit.shape:
            raise ImageShapeError(
                f"target {{ heldout_digit = {source['heldout_digit']} }} is a {'x'.join(map(str, digit.shape))} "
                f"MNIST digit but the generator makes {'x'.join(map(str, shape))} images; held-out digits are "
                "only used as they are. To resize one, save it as a PNG (in Python: "
                "latentbridge.images.save_grid(heldout_digit(3), 'digit.png', pad=0)) and name the file: "
                'target = { path = "digit.png" } is resized and converted to the generator\'s image shape'
            )
        return digit
    if "generated" in source:
        return generated_target(generator, int(source["generated"]["seed"]))
    if "npy" in source:
        return np.asarray(read_npy(source["npy"], "target"), dtype=np.float32)
    if "path" in source:
        from .. import images

        img = images.load(source["path"], like=generator)
        return np.asarray(img.detach().cpu().numpy(), dtype=np.float32)
    raise InputError(f"target needs one of heldout_digit, generated, path, npy; got {sorted(source)}")


def generated_target(generator: LatentGenerator, seed: int) -> NDArray[np.float32]:
    """Seed 000's "G" targets: ``G(z*)`` with ``z*`` drawn from the generator's prior under ``seed``.

    ``z* = generator.latent.sample(1, seed)``, so the same seed and weights give the same image
    in every process (computed with one thread, so its rounding does not depend on the thread
    count) and, up to float rounding, on every machine. Problems built from it are identified by
    this recipe, not by the image's bytes (``TargetSimilarity(target_recipe=...)``).

    Returns:
        float32 ``(C, H, W)`` in [-1, 1].
    """
    z = generator.latent.sample(1, seed).reshape((1, *generator.latent.shape))
    # one thread: the image's last bits then match in the parent and in every worker on this machine
    with _ONE_THREAD, torch.inference_mode():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            img = generator.generate(torch.from_numpy(z.astype(np.float32)).to(generator.device))
        finally:
            torch.set_num_threads(threads)
    return np.asarray(img[0].detach().float().cpu().numpy(), dtype=np.float32)


_ONE_THREAD = threading.Lock()


def load_originals(source: dict[str, Any]) -> NDArray[np.float32]:
    """Original images ``(N, C, H, W)`` from a suite's ``originals`` table.

    Args:
        source: ``{heldout_class, count}`` (the first ``count`` held-out MNIST digits of that
            class, default 100) or ``{npy}``.
    """
    if "heldout_class" in source:
        from ..data import load_mnist, to_float_images

        images, labels = load_mnist("test")
        rows = np.flatnonzero(labels == int(source["heldout_class"]))[: int(source.get("count", 100))]
        if rows.size == 0:
            raise InputError(f"originals: no held-out digits of class {source['heldout_class']!r}")
        return to_float_images(images[rows])
    if "npy" in source:
        arr = np.asarray(read_npy(source["npy"], "originals"), dtype=np.float32)
        if arr.ndim != 4:
            raise InputError(f"originals: {source['npy']} must hold images (N, C, H, W), got shape {arr.shape}")
        return arr
    raise InputError(f"originals needs one of heldout_class, npy; got {sorted(source)}")


#: Module prefixes whose ``"pkg.module:factory"`` names this process may import (see :func:`trusted_imports`).
_TRUSTED: tuple[str, ...] = ()


@contextmanager
def trusted_imports(modules: Sequence[str]) -> Iterator[None]:
    """Allow generator/scorer names ``"pkg.module:factory"`` whose module is in ``modules`` (or below one).

    The only way to let a suite name an unregistered factory: the command line's
    ``--allow-import pkg.module`` wraps each run in this context. It is never read from a
    suite file or a store, so opening either can only resolve registered names.
    """
    global _TRUSTED
    mods = tuple(_check_module(m) for m in modules)
    before = _TRUSTED
    _TRUSTED = tuple(dict.fromkeys((*before, *mods)))
    try:
        yield
    finally:
        _TRUSTED = before


def trusted_modules() -> tuple[str, ...]:
    """The modules :func:`trusted_imports` allows in this process right now."""
    return _TRUSTED


def _check_module(name: Any) -> str:
    if not isinstance(name, str) or not name or not all(p.isidentifier() for p in name.split(".")):
        raise InputError(f"--allow-import takes a dotted module name such as 'mypkg.models', got {name!r}")
    return name


def is_import_path(name: str) -> bool:
    """Whether ``name`` has the form ``"package.module:attr"`` (an import, not a registry name)."""
    module, sep, attr = name.partition(":")
    return bool(sep and attr) and all(p.isidentifier() for p in (*module.split("."), *attr.split(".")))


def _import_path(kind: str, name: str) -> Any:
    """``"package.module:attr"`` → the callable, if its module is trusted in this process.

    Trusting a module trusts only what that module defines: ``attr`` (or ``Class.attr``) is looked up
    statically (no module ``__getattr__``, no descriptor, property or metaclass code runs), may not pass
    through another module (``trusted:os.system``), and must be a function or class whose ``__module__``
    is the named module (``trusted:imported_name`` of something defined elsewhere is refused). Nothing is
    called before these checks pass.
    """
    module = name.partition(":")[0]
    if not any(module == t or module.startswith(t + ".") for t in _TRUSTED):
        raise UntrustedImportError(
            f"{kind} {name!r} is an import path, not a registered {kind} name; suites and stored results "
            f"resolve registered names only (see `latentbridge plugins`). If you trust module {module!r}, "
            f"allow it explicitly: latentbridge bench --allow-import {module} ..."
        )
    module, _, attr = name.partition(":")
    obj: Any = importlib.import_module(module)
    walked = module
    for part in attr.split("."):
        if inspect.ismodule(obj):
            if part not in vars(obj):
                raise InputError(f"{kind} {name!r}: module {walked!r} defines no {part!r}")
            value = vars(obj)[part]
        elif inspect.isclass(obj):
            try:
                value = inspect.getattr_static(obj, part)
            except AttributeError:
                raise InputError(f"{kind} {name!r}: {walked!r} has no attribute {part!r}") from None
            if isinstance(value, staticmethod):
                value = value.__func__
            elif isinstance(value, classmethod):
                value = value.__get__(None, obj)
        else:
            raise UntrustedImportError(f"{kind} {name!r}: {walked!r} is not a class; only classes are walked into")
        walked = f"{walked}.{part}" if walked != module else f"{module}:{part}"
        owner = getattr(value, "__module__", None) if _plain_callable(value) else None
        if owner != module:
            what = f"module {value.__name__!r}" if inspect.ismodule(value) else f"a {type(value).__name__}"
            where = f" defined in {owner!r}" if isinstance(owner, str) else ""
            raise UntrustedImportError(
                f"{kind} {name!r}: {walked!r} is {what}{where}, not a function or class defined in the trusted "
                f"module {module!r}; --allow-import {module} trusts only what {module} itself defines. Name it "
                "by the module that defines it (and allow that module) instead"
            )
        obj = value
    return obj


def _plain_callable(value: Any) -> bool:
    """A function, a method or a class: the only things an import path may name."""
    return inspect.isfunction(value) or inspect.isclass(value) or inspect.ismethod(value)


def _load(kind: Literal["generator", "scorer"], name: str, options: dict[str, Any]) -> Any:
    """A registered generator/scorer, or (opt-in only) one built by a trusted import path."""
    if name not in registry(kind) and is_import_path(name):
        obj = _import_path(kind, name)(**options)
        from .._protocols import set_origin

        return set_origin(obj, name, options)
    return load_generator(name, **options) if kind == "generator" else load_scorer(name, **options)


def build_problem(spec: ProblemSpec) -> LatentProblem:
    """A fresh problem from ``spec`` (see :func:`_build`).

    An emulated precision (bf16 on a CPU without bf16 instructions) is not warned about here,
    in every process that builds the problem: :func:`emulated_precisions` lets the bench say it
    once per run, in its own words.

    Raises:
        SuiteError: ``spec`` was read from a suite file and a step failed: the message names the
            file, line and key of that step (``generator``, ``scorer``, ``target``, ``originals``,
            ``kind``, ``options``, ...); an unknown name raises the ``UnknownNameError`` kind of it.
        Exception: ``spec`` has no location (stored with a run, or made in Python): the failing
            step's own error, e.g. ``UntrustedImportError`` or ``UnknownNameError``.
    """
    with emulation_reported():
        return _build(spec)


def rebuild_problem(spec: dict[str, Any]) -> LatentProblem:
    """The problem of a stored run, rebuilt from its stored spec (for image grids, realism and the seeds' tables).

    Memoised like :func:`cached_problem`: the reports of one leaderboard rebuild each problem once.
    """
    return cached_problem(ProblemSpec.from_dict(spec))


def emulated_precisions(problems: Sequence[LatentProblem]) -> list[str]:
    """The reduced precisions that ``problems``' models compute in, emulated on their devices."""
    found: set[str] = set()
    for problem in problems:
        for part in (problem.generator, *problem.scorers):
            p = precision_of(part)
            device = getattr(part, "device", "cpu")
            if p != "fp32" and emulated(p, device):
                found.add(p)
    return sorted(found)


def _build(spec: ProblemSpec) -> LatentProblem:
    """A fresh problem from ``spec``, one step per suite key.

    Generators and scorers are looked up by registry name. A name of the form
    ``"package.module:factory"`` is imported only inside :func:`trusted_imports` for that
    module (the command line's ``--allow-import``); a suite file or a stored spec alone
    never imports anything.

    Raises:
        UntrustedImportError: an import path that was not allowed.
        UnknownNameError: an unknown registry name.
    """
    with _step(spec, "generator"):
        gen = _load("generator", spec.generator, spec.generator_options)
    if is_qd_spec(spec):  # objective and measures instead of a scorer
        with _step(spec, None):
            problem: LatentProblem = build_qd_problem(spec, gen)
        return problem
    with _step(spec, "scorer"):
        scorer = _load("scorer", spec.scorer, spec.scorer_options)
    kwargs = dict(spec.options)
    if spec.target is not None:
        with _step(spec, "target"):
            target = load_target(spec.target, gen)
        # a stack of images (N, C, H, W) means N targets (one objective each unless aggregated)
        kwargs["target"] = list(target) if target.ndim == len(gen.image_shape) + 1 else target
        if "generated" in spec.target:  # its pixels' last bits depend on the CPU: identify it by its recipe
            kwargs["target_recipe"] = {"generated": {"seed": int(spec.target["generated"]["seed"])}}
    if spec.originals is not None:
        with _step(spec, "originals"):
            kwargs["originals"] = load_originals(spec.originals)
    with _step(spec, None):
        return load_problem(spec.kind, gen, scorer, **kwargs)


#: Keys of a ``[[problems]]`` entry that become the problem's own arguments, in the order an error names them.
_PROBLEM_ARGUMENT_KEYS = ("options", "k", "batch_size", "aggregate", "objective", "measures", "grid")


@contextmanager
def _step(spec: ProblemSpec, key: str | None) -> Iterator[None]:
    """Re-raise a failing build step of a spec read from a suite file as a :class:`SuiteError` at ``key``.

    ``key=None`` is the problem's own step: an unknown kind is located at ``kind``, any other
    error at the first of :data:`_PROBLEM_ARGUMENT_KEYS` the entry sets (else at ``kind``).
    A spec without a location (``spec.where`` empty) raises the step's own error unchanged.
    """
    try:
        yield
    except SuiteError:
        raise
    except Exception as exc:
        where = spec.where
        if not where.table:
            raise
        if key is None:
            given = [k for k in _PROBLEM_ARGUMENT_KEYS if k in dict(where.keys)]
            key = given[0] if given and not isinstance(exc, UnknownNameError) else "kind"
        raise located(where, key, exc) from None


def cached_problem(spec: ProblemSpec) -> LatentProblem:
    """:func:`build_problem`, memoised per process (models are loaded once per worker)."""
    key = f"{spec.cache_key()}|{_TRUSTED}"  # an import path built while trusted is not reused untrusted
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    problem = build_problem(spec)
    with _CACHE_LOCK:
        _CACHE[key] = problem
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return problem


def target_images(problem: LatentProblem) -> torch.Tensor | None:
    """What a solution is compared with, for image grids: targets, or the originals' mean image."""
    targets = getattr(problem, "targets", None)
    if isinstance(targets, torch.Tensor):
        return targets.detach().cpu().float()
    orig_sum = getattr(problem, "_orig_sum", None)
    n = getattr(problem, "n_originals", None)
    if isinstance(orig_sum, torch.Tensor) and isinstance(n, int) and n > 0:
        return (orig_sum.detach().cpu() / n).float().unsqueeze(0)
    return None
