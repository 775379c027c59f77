"""Reading weights files a user did not write on this machine: nothing in them runs, nothing grows without bound.

Every weights file latentbridge and its plugins open goes through this package:

* ``torch.save`` files, zip (``.pt`` since torch 1.6) or legacy format, are read by
  :func:`load_torch_file` / :func:`read_state_dict` *instead of* ``torch.load``;
* ``.npz`` arrays are read by :func:`read_npz` (headers checked before data, never pickles);
* NVIDIA snapshots are read by the StyleGAN2 plugin's unpickler, a subclass of
  :class:`RestrictedUnpickler`, whose embedded storages go through :func:`read_legacy_storage`.

What is guaranteed (see the README, "Security and reliability"):

* no code runs: pickles may name only allow-listed globals, may mutate only plain containers
  (``list``, ``dict``, ``set``) not yet placed inside another object, and may set state only where the
  allow-list says so;
* every declared length (pickle strings and frames, storage element counts, zip records) is checked
  against the bytes really present *before* anything is allocated; text lines and binary integers are
  capped before they are converted;
* nesting is checked as each container is built, for every container kind and for dict keys as for
  values, so nothing can make the interpreter recurse deeper than :attr:`Limits.max_depth`;
* what a file builds (storages and every object of the unpickler) is counted in bytes against
  :attr:`Limits.memory_ratio` × its size + :attr:`Limits.memory_slack`;
* every tensor's extent ``offset + sum((size - 1) * stride) + 1`` is checked against its storage's real
  size before the tensor is created (torch would otherwise grow the storage with uninitialised memory),
  and all tensors together, built or referenced, may hold at most :attr:`Limits.view_ratio` times the
  elements read;
* opcodes, memo entries and the size of the result read as a tree (shared references counted each
  time: "billion laughs") are capped by :class:`Limits`;
* malformed input, an encrypted, corrupt or unsupported zip entry included, ends in a
  :class:`~latentbridge.errors.UnsafeFileError` naming the file (never a raw ``KeyError``,
  ``zlib.error``, ``RuntimeError``, ... from deep inside the pickle or zip machinery).
"""

from __future__ import annotations

from ._archive import NPZ_MAX_RATIO, archive_errors, check_member, open_zip, read_npz
from ._graph import check_graph
from ._limits import DEFAULT_LIMITS, Budget, Limits, brief
from ._pickle import RestrictedUnpickler, ordered_dict
from ._tensors import STORAGE_TYPES, rebuild_parameter, rebuild_tensor
from ._torch_file import load_torch_file, read_legacy_storage, read_state_dict

__all__ = [
    "DEFAULT_LIMITS",
    "NPZ_MAX_RATIO",
    "STORAGE_TYPES",
    "Budget",
    "Limits",
    "RestrictedUnpickler",
    "archive_errors",
    "brief",
    "check_graph",
    "check_member",
    "load_torch_file",
    "open_zip",
    "ordered_dict",
    "read_legacy_storage",
    "read_npz",
    "read_state_dict",
    "rebuild_parameter",
    "rebuild_tensor",
]
