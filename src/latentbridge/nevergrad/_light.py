"""The nevergrad driver's shortcuts (``fast=True`` of :func:`latentbridge.nevergrad.minimize`), gated in one place.

Every shortcut here mirrors private nevergrad code, so all of them are applied only
on the nevergrad versions they were checked against (:data:`SUPPORTED`, the range
``pyproject.toml`` pins): :func:`shortcuts_apply` is the one gate, and on any other
version the driver runs stock nevergrad. Each shortcut leaves every candidate, loss
and recommendation bit for bit unchanged; ``tests/test_ng_light.py`` compares stock
and lean trees attribute by attribute and runs a seeded sample of the registry both
ways, and ``benchmarks/optimizer_compat.py --compare`` runs the whole registry both
ways at realistic budgets. None of them changes process-wide state or the class of
an object that already exists.

nevergrad's optimizers handle one ``Parameter`` object per candidate. For the
parametrization latentbridge builds (an ``ng.p.Array`` whose only sub-parameter is a
``Dict`` holding the ``Constant`` mutation sigma) every candidate is copied, frozen,
checked and converted to and from standardized data several times, through generic
machinery: attribute scans to find sub-parameters, ``copy.copy``, ``uuid.uuid4``, layer
dispatch, a recursion into the inert ``Dict`` of constants for every operation. With a
model as cheap as the embedded MNIST pair (about 0.5 ms per image on two CPU cores) that
bookkeeping took two thirds of a CMA run (``benchmarks/README.md``).

* :class:`FixedSubobjects` remembers which attributes hold sub-parameters instead of
  rescanning about 30 attributes per operation, and does the four recursions into an
  inert ``Dict`` of ``Constant`` s (freeze, parenthood, constraints, frozen check) in one
  step. Each step checks its preconditions (an added sub-parameter, a constraint, a
  tabu list, a layer it does not know) and otherwise takes nevergrad's own path.
* :class:`LeanArray` (the class of the root array :func:`lean_array` builds; copies
  inherit it) copies its tree in one pass (what ``Data.copy`` → ``Parameter.copy`` →
  ``Layered.copy`` do, without ``copy.copy``'s reduce protocol and with a uuid4 made
  from the same 16 random bytes in one call), and reads and writes standardized data,
  its value, its frozen state and its (absent) constraints directly.
* :func:`unwrap` drives the sub-optimizer that a competence-map wrapper (``CMA``,
  ``NGOpt8``...) selects, only when the wrapper does nothing but forward to it (not
  ``NGOpt``, whose ``recommend`` differs).
* :class:`SamplerWatch` gives the Halton and Hammersley samplers of nevergrad's
  one-shot ``SamplingSearch`` family (``MetaTuneRecentering``, which ``NGOpt`` selects at
  StyleGAN2's w+ size, ``ScrHammersleySearch``...) a vectorised radical inverse with the
  scrambling permutations drawn once (:class:`FastRadicalInverse`). nevergrad redraws
  all of them for every point: at d = 9,216 that is 4 × 10⁸ shuffled integers, about 8 s
  per candidate.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from nevergrad.parametrization import _layering as ngl
from nevergrad.parametrization import core as ngpcore
from nevergrad.parametrization import data as ngdata
from nevergrad.parametrization import utils as ngputils
from nevergrad.parametrization.container import Dict as NgDict

__all__ = [
    "SUPPORTED",
    "FastRadicalInverse",
    "FixedSubobjects",
    "LeanArray",
    "SamplerWatch",
    "lean_array",
    "shortcuts_apply",
    "unwrap",
]

_Constant = ngpcore.Constant
_Layered = ngl.Layered


class FixedSubobjects(ngputils.Subobjects):  # type: ignore[misc]  # nevergrad ships no type information
    """nevergrad's ``Subobjects`` with the keys of the sub-parameters recorded once.

    nevergrad finds the sub-parameters of a parameter by scanning *all* its attributes
    with ``isinstance`` (about 30 for an ``Array``, and again for its ``parameters``
    dict and ``sigma`` constant), every time it copies, freezes, checks constraints of
    or sets the parenthood of a candidate: about 7 µs per scan and dozens of scans per
    candidate. This version remembers which keys hold sub-parameters; it rescans like
    nevergrad whenever the number of attributes changed (an attribute was added or
    removed), so it yields exactly what the stock scan would. Copies inherit it
    through ``new``.
    """

    def __init__(self, obj: Any, base: Any, attribute: str, keys: tuple[Any, ...], n_attrs: int) -> None:
        super().__init__(obj, base=base, attribute=attribute)
        self._keys = keys
        self._n_attrs = n_attrs

    def new(self, obj: Any) -> FixedSubobjects:
        return FixedSubobjects(obj, self.cls, self.attribute, self._keys, self._n_attrs)

    def items(self) -> Any:
        container = getattr(self.obj, self.attribute)
        if len(container) != self._n_attrs:
            return list(super().items())
        cls = self.cls
        return [(k, v) for k in self._keys if isinstance(v := container[k], cls)]

    def apply(self, method: str, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        outputs: dict[Any, Any] = {}
        shortcut = None if kwargs else _INERT_SHORTCUTS.get(method)
        for key, sub in self.items():
            subargs = [self._get_subobject(a, key) for a in args]
            if shortcut is not None and is_inert(sub):
                done, out = shortcut(sub, *subargs)
                if done:
                    outputs[key] = out
                    continue
            subkwargs = {k: self._get_subobject(v, key) for k, v in kwargs.items()}
            outputs[key] = getattr(sub, method)(*subargs, **subkwargs)
        return outputs


# An ``ng.p.Array``'s only sub-parameter is ``parameters``, an ``ng.p.Dict`` of ``ng.p.Constant``
# (``sigma``...). nevergrad recurses into that inert tree for every candidate; the shortcuts below
# do what the recursion does (same attributes set, same result) in one step, and report
# ``done=False`` (run nevergrad's method) whenever a precondition does not hold.
def is_inert(node: Any) -> bool:
    """``node`` is an ``ng.p.Dict`` of plain ``ng.p.Constant`` s, none with constraints or sub-parameters."""
    if type(node) is not NgDict or node._constraint_checkers or node.tabu_length:
        return False
    for c in node._content.values():
        if type(c) is not _Constant or c._constraint_checkers or c.tabu_length:
            return False
        sub = c._subobjects
        if type(sub) is not FixedSubobjects or sub._keys or len(c.__dict__) != sub._n_attrs:
            return False
    return True


def _freeze_inert(node: Any) -> tuple[bool, Any]:
    node._frozen = True
    for c in node._content.values():
        c._frozen = True
    return True, None


def _parenthood_inert(node: Any, parent: Any) -> tuple[bool, Any]:
    if type(parent) is not NgDict or parent._content.keys() != node._content.keys():
        return False, None
    node._generation = parent._generation + 1
    node.parents_uids = [parent.uid]
    for key, c in node._content.items():
        pc = parent._content[key]
        c._generation = pc._generation + 1
        c.parents_uids = [pc.uid]
    return True, None


def _satisfies_inert(node: Any) -> tuple[bool, Any]:
    return True, True  # no constraint checkers and no tabu anywhere in the tree (checked by is_inert)


def _check_frozen_inert(node: Any) -> tuple[bool, Any]:
    if node._frozen or node._random_state is None:
        return False, None  # raise, or initialise the random state: nevergrad's own path
    if any(c._random_state is None for c in node._content.values()):
        return False, None
    return True, None  # constants may be frozen; nothing to initialise


_INERT_SHORTCUTS: dict[str, Any] = {
    "freeze": _freeze_inert,
    "_set_parenthood": _parenthood_inert,
    "satisfies_constraints": _satisfies_inert,
    "_check_frozen": _check_frozen_inert,
}


# -- one-pass copies -----------------------------------------------------------------------------
def _uuid4_hex() -> str:
    """``uuid.uuid4().hex``: the same 16 random bytes with the same version and variant bits, 3× cheaper."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return b.hex()


_PLAIN_LAYERS: dict[Any, bool] = {}


def _plain_layer(cls: Any) -> bool:
    """A layer class whose copy, value cache and attachment are ``Layered``'s own (``ArrayCasting``, ``Bound``...)."""
    plain = _PLAIN_LAYERS.get(cls)
    if plain is None:
        plain = _PLAIN_LAYERS[cls] = (
            issubclass(cls, _Layered)
            and not issubclass(cls, ngpcore.Parameter)
            and cls.copy is _Layered.copy
            and cls._layered_del_value is _Layered._layered_del_value
            and cls._on_layer_added is _Layered._on_layer_added
            and "__copy__" not in dir(cls)
            and "__slots__" not in dir(cls)
        )
    return plain


class _NotClonable(Exception):
    """A node of the tree is not one :func:`_clone` mirrors: use nevergrad's own copy."""


def _clone(node: Any) -> Any:
    """``node.copy()`` in one pass for a tree of :class:`LeanArray`, ``Dict`` and ``Constant`` nodes.

    Mirrors nevergrad 1.0's ``Layered.copy`` (shallow copy, sublayers copied and
    re-attached in order), ``Parameter.copy`` (new uid, unfrozen, fresh meta, copied
    parenthood lists, cleared losses, copied sub-parameters, value caches cleared: a
    no-op for plain layers) and, for arrays, ``Data.copy`` (copied ``_value``). Raises
    :class:`_NotClonable` (before anything is shared with the source) when a node is of
    another type, has a layer that is not plain, or has nevergrad's own ``Subobjects``.
    """
    cls: Any = type(node)
    if cls is not LeanArray and cls is not NgDict and cls is not _Constant:
        raise _NotClonable
    sub = node._subobjects
    layers_in = node._layers
    if type(sub) is not FixedSubobjects or layers_in[0] is not node or node._layer_index:
        raise _NotClonable
    child = cls.__new__(cls)
    state = node.__dict__.copy()  # what copy.copy does, without the reduce protocol
    layers = [child]
    for layer in layers_in[1:]:
        lcls: Any = type(layer)
        if not _plain_layer(lcls):
            raise _NotClonable
        lcopy = lcls.__new__(lcls)
        lstate = layer.__dict__.copy()
        lstate["_layer_index"] = len(layers)
        lstate["_layers"] = layers
        lcopy.__dict__ = lstate
        layers.append(lcopy)
    state["_layers"] = layers
    state["_layer_index"] = 0
    state["uid"] = _uuid4_hex()
    state["_frozen"] = False
    state["_subobjects"] = sub.new(child)
    state["_meta"] = {}
    state["parents_uids"] = list(node.parents_uids)
    state["heritage"] = dict(node.heritage)
    state["loss"] = None
    state["_losses"] = None
    state["_constraint_checkers"] = list(node._constraint_checkers)
    attribute = sub.attribute
    if attribute == "__dict__":
        container = state
    else:
        container = dict(getattr(node, attribute))
        state[attribute] = container
    for key, value in sub.items():
        container[key] = _clone(value)
    if cls is LeanArray:
        state["_value"] = np.array(node._value, copy=True)
    child.__dict__ = state
    return child


# -- the lean root array -------------------------------------------------------------------------
def _sigma(param: Any) -> Any:
    """``param.sigma.value`` when it is a plain, seeded ``Constant`` (else ``None``: take nevergrad's path)."""
    params = param.__dict__.get("parameters")
    if type(params) is not NgDict:
        return None
    s = params._content.get("sigma")
    if type(s) is not _Constant or s._random_state is None or len(s._layers) != 1:
        return None
    return s._value


def _simple(param: Any) -> bool:
    """Only an ``ArrayCasting`` layer and a seeded random state: value access is ``param._value``."""
    layers = param._layers
    return len(layers) == 2 and type(layers[1]) is ngl.ArrayCasting and param._random_state is not None


def _inert_params(param: Any) -> Any:
    """``param.parameters`` if it is the only sub-parameter and it is inert (see :func:`is_inert`), else ``None``."""
    sub = param._subobjects
    if type(sub) is not FixedSubobjects or sub._keys != ("parameters",) or len(param.__dict__) != sub._n_attrs:
        return None
    params = param.__dict__["parameters"]
    return params if is_inert(params) else None


class _LeanValue(ngl.ValueProperty):  # type: ignore[misc]  # nevergrad ships no type information
    """``Parameter.value`` that reads ``_value`` directly when the only layer is ``ArrayCasting``."""

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is not None and _simple(obj):
            return obj._value
        return super().__get__(obj, objtype)


class LeanArray(ngdata.Array):  # type: ignore[misc]  # nevergrad ships no type information
    """An ``ng.p.Array`` whose per-candidate operations take the short path (same results).

    Only :func:`lean_array` creates it; its copies and children are ``LeanArray`` s too.
    Each override checks its preconditions and otherwise calls ``ng.p.Array``'s method.
    """

    value = _LeanValue()

    def _get_name(self) -> str:
        name = str(super()._get_name())
        return "Array" + name[len(type(self).__name__) :]

    @property
    def dimension(self) -> int:
        return int(self._value.size)  # == int(np.prod(shape)), 6 µs cheaper

    def copy(self) -> Any:
        try:
            return _clone(self)
        except _NotClonable:
            return super().copy()

    def spawn_child(self, new_value: Any = None) -> Any:
        if self._random_state is None:  # nevergrad initialises it from numpy's global state first
            return super().spawn_child(new_value)
        child = self.copy()
        child._set_parenthood(self)
        if new_value is not None:
            child.value = new_value
        return child

    def _set_parenthood(self, parent: Any) -> None:
        if parent is not None:
            params = _inert_params(self)
            if params is not None and _parenthood_inert(params, parent.__dict__.get("parameters"))[0]:
                self._generation = parent.generation + 1
                self.parents_uids = [parent.uid]
                return
        super()._set_parenthood(parent)

    def freeze(self) -> None:
        params = _inert_params(self)
        if params is None:
            super().freeze()
            return
        self._frozen = True
        _freeze_inert(params)

    def _check_frozen(self) -> None:
        if not self._frozen and self._random_state is not None:
            params = _inert_params(self)
            if params is not None and _check_frozen_inert(params)[0]:
                return
        super()._check_frozen()

    def satisfies_constraints(self, ref: Any = None, no_tabu: bool = False) -> bool:
        if (
            not self._constraint_checkers
            and (no_tabu or ref is None or ref.tabu_length <= 0 or self.tabu_fails >= 30)
            and _simple(self)
            and _inert_params(self) is not None
        ):
            return True  # nevergrad reads the value (no side effect here) and finds nothing to check
        return bool(super().satisfies_constraints(ref, no_tabu))

    def set_standardized_data(self, data: Any, *, reference: Any = None) -> Any:
        ref = self if reference is None else reference
        if type(ref) is LeanArray and _simple(self):
            sigma = _sigma(ref)
            if sigma is not None:
                self._check_frozen()
                # nevergrad then clears value caches (none with these layers) and sets the data:
                shape = ref._value.shape  # type: ignore[has-type]  # nevergrad ships no type information
                self._value = sigma * (np.asarray(data) + ref._to_reduced_space()).reshape(shape)
                return self
        return super().set_standardized_data(data, reference=reference)

    def _to_reduced_space(self, value: Any = None) -> Any:
        sigma = _sigma(self)
        if sigma is None:
            return super()._to_reduced_space(value)
        if value is None:
            value = self._value
        return (value / sigma).ravel()


def lean_array(init: Any) -> Any:
    """A new :class:`LeanArray` with initial value ``init`` (``ng.p.Array(init=init)``'s lean twin).

    Built as a ``LeanArray`` from the start (no object changes class). Call
    :func:`fix_subobjects` once its sub-parameters are all set (mutation sigma,
    bounds...); until then every operation takes nevergrad's own path. Use only when
    :func:`shortcuts_apply` is true.
    """
    return LeanArray(init=init)


def fix_subobjects(param: Any) -> Any:
    """Give ``param`` and its sub-parameters a :class:`FixedSubobjects` (an attribute, not a class, changes).

    Returns ``param``. Parameters of other types keep their class (only the
    sub-parameter bookkeeping changes).
    """
    sub = param._subobjects
    if type(sub) is ngputils.Subobjects:
        container = getattr(param, sub.attribute)
        keys = tuple(k for k, v in sub.items())
        param._subobjects = FixedSubobjects(param, sub.cls, sub.attribute, keys, len(container))
    for _, child in param._subobjects.items():
        if isinstance(child, ngpcore.Parameter):
            fix_subobjects(child)
    return param


# -- sub-optimizer selection ---------------------------------------------------------------------
#: Methods through which a wrapper could behave differently from the optimizer it selected.
_FORWARDING = (
    "ask",
    "tell",
    "recommend",
    "provide_recommendation",
    "_internal_ask_candidate",
    "_internal_tell_candidate",
    "_internal_tell_not_asked",
    "_internal_provide_recommendation",
)


def unwrap(opt: Any) -> Any:
    """The optimizer to drive instead of ``opt``: the one a pure forwarding wrapper selected, else ``opt``.

    ``NGOptBase`` / ``ChoiceBase`` forward ``ask`` / ``tell`` to the optimizer they select
    at the first ask. When a wrapper forwards *everything* (each method of
    :data:`_FORWARDING` is its base's own), driving the selected one directly yields
    the same candidates and recommendation and halves the per-candidate bookkeeping.
    Any override stops the unwrapping: ``NGOpt10`` and its descendants (``NGOpt``
    included) override ``recommend`` to return the best point told rather than the
    selected optimizer's recommendation, so they are driven as they are.
    """
    from nevergrad.optimization import optimizerlib as nglib

    wrappers = (nglib.NGOptBase, nglib.ChoiceBase)
    while isinstance(opt, wrappers) and opt.num_ask == 0:
        base = next(w for w in wrappers if isinstance(opt, w))
        cls = type(opt)
        if any(getattr(cls, m) is not getattr(base, m) for m in _FORWARDING):
            break
        opt = opt.optim
    return opt


# -- quasi-random samplers -------------------------------------------------------------------------
class FastRadicalInverse:
    """A nevergrad ``HaltonSampler`` / ``HammersleySampler``'s ``_internal_sampler``, vectorised, same numbers.

    Point ``n`` of a Halton sequence has coordinate ``i`` equal to the radical inverse
    of ``n + 1`` in the ``i``-th prime base ``p``: its base-``p`` digits ``r``, each
    replaced by ``perm_i[r]``, read after the radix point. nevergrad's scrambled
    version draws every permutation ``perm_i`` again for each point, from a generator
    reseeded with the same seed (so they are the same permutations every time): one
    shuffle of ``p - 1`` integers per prime, about 4 × 10⁸ of them at d = 9,216. Here
    they are drawn once, through nevergrad's own generator, keeping only the entries
    a point of this sampler's budget can index (digits of ``n + 1 <= budget``), and the
    radical inverse runs over all coordinates at once with the same float operations
    in the same order (``vdc += float(r) / float(p**k)``), so every coordinate is
    bit for bit nevergrad's.

    Args:
        sampler: A ``HaltonSampler`` or ``HammersleySampler`` (exact class) with a budget.
    """

    def __init__(self, sampler: Any) -> None:
        from nevergrad.optimization import sequences

        self._sampler = sampler
        self._hammersley = type(sampler) is sequences.HammersleySampler
        budget = int(sampler.budget)
        self._primes = np.asarray(sampler.permgen.primes, dtype=np.int64)
        width = int(min(int(self._primes.max()), budget + 1))
        table = np.zeros((len(self._primes), width), dtype=np.int64)
        for i, perm in enumerate(sampler.permgen.get_permutations_generator()):
            m = min(len(perm), width)
            table[i, :m] = np.asarray(perm[:m], dtype=np.int64)
        self._table = table
        self._rows = np.arange(len(self._primes))
        self._limit = budget  # n + 1 <= budget: every digit is in the table

    @staticmethod
    def applies(sampler: Any) -> bool:
        """``sampler`` is exactly one of the two classes this mirrors, with a budget and at least one prime."""
        from nevergrad.optimization import sequences

        return (
            type(sampler) in (sequences.HaltonSampler, sequences.HammersleySampler)
            and type(sampler.permgen) is sequences.HaltonPermutationGenerator
            and sampler.budget is not None
            and int(sampler.budget) >= 1
            and len(sampler.permgen.primes) >= 1
        )

    def halton(self, index: int) -> list[float]:
        """Coordinates of Halton point ``index`` (``HaltonSampler._internal_sampler`` at that index)."""
        m = np.full(len(self._primes), index + 1, dtype=np.int64)
        vdc = np.zeros(len(self._primes), dtype=np.float64)
        denom = np.ones(len(self._primes), dtype=np.int64)
        active = self._rows
        while active.size:
            p = self._primes[active]
            denom[active] *= p
            q, r = np.divmod(m[active], p)
            m[active] = q
            vdc[active] += self._table[active, r].astype(np.float64) / denom[active].astype(np.float64)
            active = active[q > 0]
        out: list[float] = vdc.tolist()
        return out

    def __call__(self) -> Any:
        sampler = self._sampler
        index = int(sampler.index)
        if index + 1 > self._limit:  # beyond what the table holds (nevergrad's own assert forbids it): stock path
            return type(sampler)._internal_sampler(sampler)
        if self._hammersley:
            return np.concatenate(([(index + 0.5) / float(sampler.budget)], self.halton(index)))
        return self.halton(index)


class SamplerWatch:
    """Gives :class:`FastRadicalInverse` to the Halton/Hammersley samplers of the ``SamplingSearch`` es in ``opts``.

    nevergrad builds a sampling search's sampler at its first ``ask``; :meth:`after_ask`
    (called by the driver after each ask) gives it the fast radical inverse as soon as
    it exists, as an attribute of that sampler instance (no class changes), so only
    the first point is computed nevergrad's way. A sampler with ``rescaled=True``
    consumed its whole budget when it was built and is left as it is.
    """

    def __init__(self, opts: list[Any]) -> None:
        from nevergrad.optimization import oneshot

        self._pending = [
            o
            for o in opts
            if isinstance(o, oneshot._SamplingSearch) and o._sampler in ("Halton", "Hammersley") and not o.rescaled
        ]

    def after_ask(self) -> None:
        """Give the fast radical inverse to every sampler built since the last call."""
        if not self._pending:
            return
        still = []
        for o in self._pending:
            sampler = o._sampler_instance
            if sampler is None:
                still.append(o)
            elif FastRadicalInverse.applies(sampler) and "_internal_sampler" not in vars(sampler):
                sampler._internal_sampler = FastRadicalInverse(sampler)
        self._pending = still


# -- the one gate ----------------------------------------------------------------------------------
#: The nevergrad versions whose private code the shortcuts mirror (``pyproject.toml`` pins the same).
SUPPORTED = ("1.0.",)


def _nevergrad_version() -> str:
    import nevergrad

    return str(getattr(nevergrad, "__version__", ""))


def shortcuts_apply() -> bool:
    """Whether the installed nevergrad is one the shortcuts were checked against (else run stock nevergrad)."""
    return _nevergrad_version().startswith(SUPPORTED)
