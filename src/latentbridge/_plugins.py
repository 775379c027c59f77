"""Plugin discovery (pluggy + entry points) and the typed registries fed by it."""

from __future__ import annotations

import contextlib
import difflib
import importlib.metadata as md
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import pluggy

from . import hookspecs
from ._signature import check_call
from .errors import InputError, PluginError, RegistryConflictError, UnknownNameError

if TYPE_CHECKING:
    from ._problems import LatentProblem
    from ._protocols import LatentGenerator, Scorer
    from .measures import Measure

__all__ = [
    "BLOCK_ENV",
    "DISABLE_AUTOLOAD_ENV",
    "Entry",
    "PluginInfo",
    "Registry",
    "get_plugin_manager",
    "list_plugins",
    "load_generator",
    "load_measure",
    "load_problem",
    "load_scorer",
    "registry",
    "reset_plugins",
]

ENTRY_POINT_GROUP = "latentbridge"
DISABLE_AUTOLOAD_ENV = "LATENTBRIDGE_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_ENV = "LATENTBRIDGE_BLOCK_PLUGINS"
BUILTIN = "latentbridge (built-in)"

Kind = Literal["generator", "scorer", "problem", "optimizer", "measure", "arm"]
KINDS: tuple[Kind, ...] = ("generator", "scorer", "problem", "optimizer", "measure", "arm")
_HOOKS: dict[Kind, str] = {
    "generator": "latentbridge_register_generators",
    "scorer": "latentbridge_register_scorers",
    "problem": "latentbridge_register_problems",
    "optimizer": "latentbridge_register_optimizers",
    "measure": "latentbridge_register_measures",
    "arm": "latentbridge_register_arms",
}

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered factory and where it came from."""

    name: str
    factory: Callable[..., T]
    kind: Kind
    plugin: str
    distribution: str
    version: str
    description: str = ""


@dataclass
class Registry(Generic[T]):
    """Name -> factory map for one kind of thing; raises on collisions and unknown names."""

    kind: Kind
    _entries: dict[str, Entry[T]] = field(default_factory=dict)

    def add(self, entry: Entry[T]) -> None:
        """Add ``entry``; a second entry under the same name is an error naming both sources."""
        if not isinstance(entry.name, str) or not entry.name.strip():
            raise InputError(f"{self.kind} names must be non-empty strings, got {entry.name!r} from {entry.plugin}")
        if not callable(entry.factory):
            raise InputError(f"{self.kind} {entry.name!r} from {entry.plugin}: factory must be callable")
        old = self._entries.get(entry.name)
        if old is not None:
            raise RegistryConflictError(
                f"{self.kind} {entry.name!r} is registered twice: by {old.distribution} "
                f"(plugin {old.plugin!r}) and by {entry.distribution} (plugin {entry.plugin!r}); "
                f"block one with {BLOCK_ENV}=<plugin name>"
            )
        self._entries[entry.name] = entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def get(self, name: str) -> Entry[T]:
        """The entry for ``name``; unknown names raise with the known ones and close matches."""
        try:
            return self._entries[name]
        except KeyError:
            pass
        close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        failed = _state().failures
        broken = f" (plugins that failed to load: {', '.join(f.distribution for f in failed)})" if failed else ""
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(self.names()) or 'none'}{broken}. "
            f"Run `latentbridge plugins` to see what is installed."
        )

    def create(self, name: str, /, *args: Any, **options: Any) -> T:
        """Build ``name`` by calling its factory."""
        return self.get(name).factory(*args, **options)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or whose hook raised."""

    plugin: str
    distribution: str
    error: str


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: name, distribution, version and what it registered."""

    name: str
    distribution: str
    version: str
    registered: dict[str, list[str]]


@dataclass
class _State:
    pm: pluggy.PluginManager
    registries: dict[Kind, Registry[Any]]
    plugins: dict[str, tuple[str, str]]  # plugin name -> (distribution, version)
    failures: list[PluginFailure]


_LOCK = threading.RLock()
_STATE: _State | None = None


def _version() -> str:
    try:
        return md.version("latentbridge")
    except md.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _norm_dist(name: str) -> str:
    """A distribution name normalised as in PEP 503 (``Latentbridge_StyleGAN2`` → ``latentbridge-stylegan2``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _blocked() -> set[str]:
    """Entry-point names and (normalised) distribution names listed in ``LATENTBRIDGE_BLOCK_PLUGINS``."""
    raw = {s.strip() for s in os.environ.get(BLOCK_ENV, "").split(",") if s.strip()}
    return raw | {_norm_dist(s) for s in raw}


# Raised while a plugin imports or registers, these are the plugin's failure, not the user's wish to stop.
_PLUGIN_FAILURES = (Exception, SystemExit, KeyboardInterrupt, GeneratorExit)


def _record(failures: list[PluginFailure], plugin: str, dist: str, what: str, exc: BaseException) -> None:
    failures.append(PluginFailure(plugin, dist, f"{type(exc).__name__}: {exc}"))
    warnings.warn(
        f"latentbridge plugin {plugin!r} {what} ({type(exc).__name__}: {exc}) and was skipped; "
        f"the other plugins are still available. Fix or reinstall it, or skip it with {BLOCK_ENV}={plugin}",
        RuntimeWarning,
        stacklevel=4,
    )


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built-ins plus entry-point plugins), built on first use.

    Set ``LATENTBRIDGE_DISABLE_PLUGIN_AUTOLOAD=1`` to load built-ins only, or
    ``LATENTBRIDGE_BLOCK_PLUGINS=name1,name2`` to skip particular entry points.
    """
    return _state().pm


def _state() -> _State:
    global _STATE
    with _LOCK:
        if _STATE is None:
            _STATE = _build_state()
        return _STATE


def reset_plugins() -> None:
    """Forget discovered plugins so the next lookup rediscovers them (for tests and notebooks)."""
    global _STATE
    with _LOCK:
        _STATE = None


def _build_state() -> _State:
    from . import _builtins

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins: dict[str, tuple[str, str]] = {}
    failures: list[PluginFailure] = []

    pm.register(_builtins, name="latentbridge")
    plugins["latentbridge"] = (BUILTIN, _version())

    if os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip() not in ("1", "true", "yes"):
        blocked = _blocked()
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
            ver = ep.dist.version if ep.dist is not None else "?"
            if ep.name in blocked or _norm_dist(dist) in blocked:
                continue
            if ep.name in plugins or pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                _record(
                    failures,
                    ep.name,
                    dist,
                    f"from distribution {dist} {ver} failed to load",
                    PluginError(f"plugin name {ep.name!r} is taken"),
                )
                continue
            try:
                obj = ep.load()
                pm.register(obj, name=ep.name)
            except _PLUGIN_FAILURES as exc:  # a broken plugin must not break the others (nor exit the program)
                _record(failures, ep.name, dist, f"from distribution {dist} {ver} failed to load", exc)
                with contextlib.suppress(Exception):
                    pm.unregister(name=ep.name)
                continue
            plugins[ep.name] = (dist, ver)

    registries: dict[Kind, Registry[Any]] = {k: Registry(k) for k in KINDS}
    for kind in KINDS:
        hook = getattr(pm.hook, _HOOKS[kind])
        # built-ins register first, so a plugin can never take (or break) a built-in name
        impls = sorted(hook.get_hookimpls(), key=lambda i: i.plugin_name != "latentbridge")
        for impl in impls:
            dist, ver = plugins.get(impl.plugin_name, ("<unknown distribution>", "?"))
            skipped: list[str] = []

            def register(
                name: str,
                factory: Any,
                *,
                description: str = "",
                _kind: Kind = kind,
                _plugin: str = impl.plugin_name,
                _dist: str = dist,
                _ver: str = ver,
                _skipped: list[str] = skipped,
            ) -> None:
                try:
                    registries[_kind].add(Entry(name, factory, _kind, _plugin, _dist, _ver, description))
                except RegistryConflictError as exc:
                    if _plugin == "latentbridge":
                        raise
                    _skipped.append(str(exc))

            try:
                impl.function(register=register)
            except _PLUGIN_FAILURES as exc:
                _record(failures, impl.plugin_name, dist, f"({dist}) failed in {_HOOKS[kind]}", exc)
            for text in skipped:
                _record(
                    failures,
                    impl.plugin_name,
                    dist,
                    f"({dist}) failed to register a {kind}",
                    RegistryConflictError(f"{text}; the first registration is kept"),
                )
    return _State(pm, registries, plugins, failures)


def registry(kind: Kind) -> Registry[Any]:
    """The registry of ``kind``: one of :data:`KINDS` (``"generator"``, ``"scorer"``, ..., ``"arm"``)."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    return _state().registries[kind]


def plugin_failures() -> list[PluginFailure]:
    """Plugins that failed to import or register in this process."""
    return list(_state().failures)


def list_plugins() -> list[PluginInfo]:
    """Every loaded plugin with its distribution, version and registered names."""
    st = _state()
    out = []
    for name, (dist, ver) in st.plugins.items():
        reg = {kind: [e.name for e in st.registries[kind] if e.plugin == name] for kind in KINDS}
        out.append(PluginInfo(name, dist, ver, {k: v for k, v in reg.items() if v}))
    return out


def _entry(kind: Kind, name: Any) -> Entry[Any]:
    if not isinstance(name, str) or not name.strip():
        raise InputError(
            f"name must be a non-empty string naming a registered {kind} (see `latentbridge plugins`), got {name!r}"
        )
    return registry(kind).get(name)


def _check_options(entry: Entry[Any], args: tuple[Any, ...], options: dict[str, Any]) -> None:
    """Refuse options the factory does not take, before calling it (no TypeError from deep inside)."""
    check_call(entry.factory, f"{entry.kind} {entry.name!r} ({entry.distribution})", options, args=args, noun="option")


def load_generator(name: str, /, **options: Any) -> LatentGenerator:
    """Build the generator registered as ``name`` (e.g. ``"mnist-dcgan"``) with ``options``.

    The result remembers ``name`` and ``options``: they are part of its identity in
    problem configs (``config_hash``), together with a hash of its weights.

    Raises:
        InputError: ``name`` is not a string, or an option the factory does not accept.
        UnknownNameError: no generator of that name.
    """
    from ._protocols import set_origin

    entry = _entry("generator", name)
    _check_options(entry, (), options)
    out: LatentGenerator = set_origin(entry.factory(**options), name, options)
    return out


def load_scorer(name: str, /, **options: Any) -> Scorer:
    """Build the scorer registered as ``name`` (e.g. ``"mnist-embed"``, ``"ncc"``) with ``options``.

    Raises:
        InputError: ``name`` is not a string, or an option the factory does not accept.
        UnknownNameError: no scorer of that name.
    """
    from ._protocols import set_origin

    entry = _entry("scorer", name)
    _check_options(entry, (), options)
    out: Scorer = set_origin(entry.factory(**options), name, options)
    return out


def load_problem(name: str, /, *args: Any, **options: Any) -> LatentProblem:
    """Build the problem registered as ``name`` (e.g. ``"target-similarity"``).

    Raises:
        InputError: ``name`` is not a string, or an option the problem class does not accept.
        UnknownNameError: no problem of that name.
    """
    entry = _entry("problem", name)
    _check_options(entry, args, options)
    out: LatentProblem = entry.factory(*args, **options)
    return out


def load_measure(name: str, /, **options: Any) -> Measure:
    """Build the measure registered as ``name`` (e.g. ``"boldness"``, ``"class-probability"``) with ``options``.

    Raises:
        InputError: ``name`` is not a string, or an option the factory does not accept.
        UnknownNameError: no measure of that name.
    """
    from ._protocols import set_origin

    entry = _entry("measure", name)
    _check_options(entry, (), options)
    built = dict(options)
    if isinstance(built.get("scorer"), str):  # a measure of a scorer's output: the scorer by its registry name
        built["scorer"] = load_scorer(built["scorer"])
    out: Measure = set_origin(entry.factory(**built), name, options)
    return out
