"""Root conftest (core and plugin suites): each test process compiles into its own inductor cache.

torch.compile keeps compiled graphs in a cache shared by every process of the user
(``/tmp/torchinductor_<user>``); a graph another program left there can be loaded for ours.
Tests must not depend on what ran before them on the machine, so each test process gets a fresh,
private cache unless ``TORCHINDUCTOR_CACHE_DIR`` is set already. This runs before torch is imported.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="latentbridge-inductor-")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
