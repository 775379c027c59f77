"""Seeds of a campaign's units: derived from the campaign seed and a unit's coordinates, never from order.

A unit's seed depends only on the campaign seed and the unit's identity, so a resumed, reordered or
distributed campaign draws the same seeds as an uninterrupted serial one, on any platform and in any process.
The two derivations below are frozen: stored results (bench runs, augmentation units) carry seeds made by
them, and a changed derivation would silently give a resumed campaign other numbers than its stored part.

- :func:`run_seed` — a bench run's seed, from (suite seed, problem id, optimizer label, replicate);
- :func:`derive_seed` — an augmentation unit's seed, from the run seed and any labels of the unit.
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np

__all__ = ["derive_seed", "run_seed", "stable_words"]


def stable_words(text: str) -> list[int]:
    """Four 32-bit words of ``text``'s sha256 (little-endian): entropy that is the same in every process."""
    digest = hashlib.sha256(text.encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def run_seed(suite_seed: int, problem_id: str, optimizer_label: str, replicate: int) -> int:
    """The seed of one bench run: a ``SeedSequence`` over a stable hash of its coordinates.

    Independent of the order runs are scheduled in, of the executor and of the process,
    so a resumed or distributed suite draws the same seeds as an uninterrupted serial one.

    Returns:
        An int in ``[0, 2**31)``.
    """
    entropy = [int(suite_seed) & 0xFFFFFFFF, *stable_words(problem_id), *stable_words(optimizer_label), replicate]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0] >> 1)


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from a run seed and a unit's identity (stable across runs, platforms and order).

    Each part counts by its ``str()`` (CRC-32 of its UTF-8 text), so ``derive_seed(0, "gan", 3)`` is the seed
    of class 3's generator in the run with seed 0.

    Returns:
        An int in ``[0, 2**31)``.
    """
    words = [zlib.crc32(str(p).encode()) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0] & 0x7FFFFFFF)
