"""``augment.sqlite`` as the code before the campaign kernel wrote it: plain sqlite3 and ``np.save``."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np

#: The schema of ``augment.sqlite`` as the pre-kernel code wrote it (schema_version 1).
AUGMENT_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generators (
    class INTEGER PRIMARY KEY, kind TEXT NOT NULL, path TEXT, sha256 TEXT, wall_s REAL NOT NULL,
    info TEXT NOT NULL, created REAL NOT NULL, cpu_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sets (
    arm TEXT NOT NULL, seed INTEGER NOT NULL, class INTEGER NOT NULL, run_seed INTEGER NOT NULL,
    images BLOB NOT NULL, latents BLOB, fitness REAL, first_images BLOB, first_fitness REAL,
    agreement REAL, n_evals INTEGER NOT NULL, trace TEXT NOT NULL, wall_s REAL NOT NULL, created REAL NOT NULL,
    cpu_s REAL NOT NULL, PRIMARY KEY (arm, seed, class));
CREATE TABLE IF NOT EXISTS results (
    arm TEXT NOT NULL, seed INTEGER NOT NULL, fold INTEGER NOT NULL, run_seed INTEGER NOT NULL,
    accuracy REAL NOT NULL, precision REAL NOT NULL, recall REAL NOT NULL, f1 REAL NOT NULL,
    val_accuracy REAL NOT NULL, n_train INTEGER NOT NULL, wall_s REAL NOT NULL, created REAL NOT NULL,
    cpu_s REAL NOT NULL, PRIMARY KEY (arm, seed, fold));
"""


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def write_old_augment_store(path: Path) -> Path:
    """``augment.sqlite`` written with plain sqlite3 and numpy exactly as the pre-kernel code wrote it."""
    rng = np.random.default_rng(7)
    arms = ["none", "random", "supervisor"]
    classes = ["square", "cro|ss", "<diag>"]
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(AUGMENT_SCHEMA_V1)
        meta = {
            "schema_version": 1,
            "config": {"arms": arms, "seeds": 2, "folds": 2, "classifier": "logreg", "data": "shapes"},
            "data": {
                "name": "shapes",
                "classes": classes,
                "image_shape": [1, 8, 8],
                "train_per_class": [6, 6, 6],
                "test_per_class": [4, 4, 4],
            },
            "versions": {"latentbridge": "0.0+golden"},
        }
        for k, v in meta.items():
            conn.execute("INSERT INTO meta VALUES (?, ?)", (k, json.dumps(v, sort_keys=True)))
        conn.execute(
            "INSERT INTO generators VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (0, "dcgan", "generators/class0.pt", "ab" * 32, 1.25, json.dumps({"steps": 8}), 1.7e9, 1.0),
        )
        for arm in arms[1:]:
            for s in range(2):
                for c in range(3):
                    images = rng.uniform(-1, 1, (6, 1, 8, 8)).astype(np.float32)
                    latents = rng.standard_normal((6, 100)) if arm == "supervisor" else None
                    conn.execute(
                        "INSERT INTO sets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            arm,
                            s,
                            c,
                            100 * s + c,
                            _npy(images),
                            None if latents is None else _npy(latents),
                            0.5 if arm == "supervisor" else None,
                            _npy(images[::-1].copy()) if arm == "supervisor" else None,
                            0.7 if arm == "supervisor" else None,
                            0.9,
                            20,
                            json.dumps([[10, 0.7], [20, 0.5]]),
                            0.5,
                            1.7e9,
                            0.25,
                        ),
                    )
        for arm in arms:
            for s in range(2):
                for f in range(2):
                    acc = float(0.6 + 0.1 * arms.index(arm) + 0.01 * (2 * s + f))
                    conn.execute(
                        "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (arm, s, f, 7 * s + f, acc, acc - 0.01, acc + 0.01, acc, 0.5, 12, 0.125, 1.7e9, 0.0625),
                    )
    conn.close()
    return path
