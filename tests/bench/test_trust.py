"""Hostile or careless input to the bench: names never import, plans fail before any work, stores stay honest.

Payload files are built here, in tmp_path; none is shipped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import latentbridge as lb
from latentbridge.bench import Store, load_suite, plan, run_suite
from latentbridge.bench import problems as bench_problems
from latentbridge.bench.runner import rebuild_problem
from latentbridge.bench.suite import ProblemSpec, SuiteError
from latentbridge.cli import app
from latentbridge.errors import StoreError, StoreLockedError, UnknownNameError, UntrustedImportError

from .conftest import TINY_GEN

pytestmark = pytest.mark.usefixtures("prior_optimizer")


@pytest.fixture
def untrusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop the session-wide trust in latentbridge.testing: only registered names resolve."""
    monkeypatch.setattr(bench_problems, "_TRUSTED", ())
    bench_problems._CACHE.clear()


@pytest.fixture
def payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """An importable module whose import and whose factory each leave a marker file: proof that code ran."""
    marker = tmp_path / "PWNED"
    pkg = tmp_path / "payload_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            Path({str(marker)!r}).write_text("imported")
            def evil(**options):
                Path({str(marker)!r}).write_text("called")
                raise SystemExit(3)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "payload_pkg:evil", marker
    sys.modules.pop("payload_pkg", None)


def _suite_text(generator: str, target: str, optimizers: str = '[[optimizers]]\nname = "prior"\n') -> str:
    return (
        textwrap.dedent(
            f"""\
        [suite]
        name = "t"
        budget = 50
        seeds = 1

        [[problems]]
        id = "p"
        kind = "target-similarity"
        generator = "{generator}"
        scorer = "rmse"
        target = {{ npy = "{target}" }}

        """
        )
        + optimizers
    )


# -- code execution through names ----------------------------------------------------------------
def test_suite_import_path_never_runs_without_opt_in(
    tmp_path: Path, target_npy: Path, untrusted: None, payload: tuple[str, Path]
) -> None:
    name, marker = payload
    path = tmp_path / "evil.toml"
    path.write_text(_suite_text(name, str(target_npy)))
    with pytest.raises(SuiteError, match=r"evil\.toml:9: problems\[0\]\.generator: .*import path.*--allow-import"):
        plan(load_suite(path))
    assert not marker.exists()
    res = CliRunner().invoke(app, ["bench", "--suite", str(path), "--out", str(tmp_path / "o"), "--no-progress"])
    assert res.exit_code == 2
    assert "--allow-import payload_pkg" in " ".join(res.output.split())
    assert not marker.exists()
    assert not (tmp_path / "o" / "bench.sqlite").exists()  # an error leaves no store behind


def test_stored_spec_never_imports(tmp_path: Path, untrusted: None, payload: tuple[str, Path]) -> None:
    name, marker = payload
    spec = ProblemSpec("p", "set-diversity", name, "ncc", options={"k": 2}).to_dict()
    with pytest.raises(UntrustedImportError, match="import path"):
        rebuild_problem(spec)
    assert not marker.exists()


def test_leaderboard_of_a_hostile_store_runs_nothing(
    tmp_path: Path, write_suite: Callable[..., Path], payload: tuple[str, Path]
) -> None:
    name, marker = payload
    db = tmp_path / "o" / "bench.sqlite"
    with Store(db) as store:
        run_suite(load_suite(write_suite(budget=30, seeds=1)), store, progress=False)
    with sqlite3.connect(db) as conn:  # what an attacker sends: a store whose specs name their payload
        for rid, spec in conn.execute("SELECT id, problem_spec FROM runs").fetchall():
            data = json.loads(spec)
            data["generator"] = name
            conn.execute("UPDATE runs SET problem_spec = ? WHERE id = ?", (json.dumps(data), rid))
    bench_problems._CACHE.clear()
    with bench_problems.trusted_imports(()):
        original, bench_problems._TRUSTED = bench_problems._TRUSTED, ()
        try:
            res = CliRunner().invoke(app, ["leaderboard", str(db), "--html", str(tmp_path / "r.html")])
        finally:
            bench_problems._TRUSTED = original
    assert res.exit_code == 0, res.output
    assert not marker.exists()
    assert "image grid unavailable" in (tmp_path / "r.html").read_text()


def test_allow_import_is_the_explicit_opt_in(tmp_path: Path, target_npy: Path, untrusted: None) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(_suite_text(TINY_GEN, str(target_npy)))
    with pytest.raises(SuiteError, match=r"--allow-import latentbridge\.testing"):
        plan(load_suite(path))
    tasks = plan(load_suite(path), allow_imports=["latentbridge.testing"])
    assert tasks
    assert all(t.allow_imports == ("latentbridge.testing",) for t in tasks)
    with pytest.raises(lb.errors.InputError, match="dotted module name"):
        plan(load_suite(path), allow_imports=["latentbridge.testing:tiny_generator"])


# -- identity ------------------------------------------------------------------------------------
def _torch_gen(seed: int) -> lb.TorchGenerator:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 8, 8)))
    return lb.TorchGenerator(net, lb.LatentSpace((8,)), (1, 8, 8), name="same-name")


def test_problem_identity_includes_weights_registry_name_and_options() -> None:
    a = lb.SetDiversity(_torch_gen(0), lb.RMSEScorer(), k=2)
    b = lb.SetDiversity(_torch_gen(1), lb.RMSEScorer(), k=2)
    assert a.config_hash() != b.config_hash()  # same class, name, shapes: only the weights differ
    assert a.config_hash() == lb.SetDiversity(_torch_gen(0), lb.RMSEScorer(), k=2).config_hash()
    assert "state_sha256" in a.config()["generator"]

    with (
        lb.testing.registered("generator", "gen-a", lambda **o: _torch_gen(0)),
        lb.testing.registered("generator", "gen-b", lambda **o: _torch_gen(0)),
    ):
        ga, gb = lb.load_generator("gen-a"), lb.load_generator("gen-b")
    hashes = {lb.SetDiversity(g, lb.RMSEScorer(), k=2).config_hash() for g in (ga, gb)}
    assert len(hashes) == 2  # same weights, different registry names
    ncc1 = lb.load_scorer("ncc", eps=1e-8)
    ncc2 = lb.load_scorer("ncc", eps=1e-6)
    assert lb.SetDiversity(ga, ncc1, k=2).config_hash() != lb.SetDiversity(ga, ncc2, k=2).config_hash()


# -- the writer lock -----------------------------------------------------------------------------
def test_second_writer_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    db = tmp_path / "o" / "bench.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import time; from latentbridge.bench import Store; s = Store({str(db)!r}); print('ready', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError, match=rf"in use by another bench \(pid {holder.pid}"):
            Store(db)
        res = CliRunner().invoke(app, ["bench", "--suite", "quick", "--out", str(db.parent), "--budget", "1"])
        assert res.exit_code == 2
    finally:
        holder.kill()  # SIGKILL: the lock must die with the process
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with Store(db) as store:  # free again, no stale lock
        assert store.count() == 0
    with Store(db) as store, pytest.raises(StoreLockedError):
        Store(db)


# -- failed runs are not "stored" -----------------------------------------------------------------
def test_failed_runs_do_not_ask_for_resume(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = load_suite(write_suite('[[optimizers]]\nname = "broken"\n', budget=20, seeds=1))
    with Store(tmp_path / "bench.sqlite") as store:
        first = run_suite(suite, store, progress=False)
        assert first.failed == first.planned
        assert first.finished == 0
        again = run_suite(suite, store, progress=False)  # no --resume needed: nothing finished
        assert again.failed == again.planned


# -- validation before any work -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("optimizers", "match"),
    [
        ('[[optimizers]]\nname = "ng:CMAA"\n', r":\d+: optimizers\[0\]\.name: .*'CMAA'.*did you mean 'CMA'"),
        ('[[optimizers]]\nname = "pymoo:DEE"\n', r":\d+: optimizers\[0\]\.name: .*'DEE'.*Did you mean: .*DE"),
        ('[[optimizers]]\nname = "paper-ga"\nparams = { pop_size = -4 }\n', r"optimizers\[0\]\.params: .*pop_size"),
        ('[[optimizers]]\nname = "random"\nparams = { bach = 5 }\n', r"params: .*'bach'.*did you mean 'batch'"),
        ('[[optimizers]]\nname = "pymoo:DE"\nparams = { popsize = 5 }\n', r"optimizers\[0\]\.params: "),
    ],
)
def test_bad_optimizers_fail_before_any_run(
    tmp_path: Path, write_suite: Callable[..., Path], optimizers: str, match: str
) -> None:
    pytest.importorskip("nevergrad")
    path = write_suite(optimizers, budget=40)
    with pytest.raises(SuiteError, match=match):
        plan(load_suite(path))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["bench", "--suite", str(path), "--out", str(out), "--no-progress"])
    assert res.exit_code == 2, res.output
    assert path.name in "".join(res.output.split())
    assert "optimizers[0]." in res.output  # bracketed text survives the console
    assert not out.exists()  # nothing created


def _bomb_png(path: Path) -> Path:
    from PIL import Image

    Image.new("1", (10_000, 10_000)).save(path)  # 10^8 pixels in a few kB
    assert path.stat().st_size < 100_000
    return path


def _object_npy(path: Path) -> Path:
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return path


def _forge_shape(raw: bytes, old: bytes, new: bytes) -> bytes:
    """An .npy image whose header claims another shape; the header keeps its length (padding absorbs it)."""
    end = raw.index(b"\n") + 1
    header = raw[:end].replace(old, new)
    grow = len(header) - end
    assert header[-1 - grow : -1] == b" " * grow
    return header[: -1 - grow] + b"\n" + raw[end:]


def _forged_npy(path: Path) -> Path:
    np.save(path, np.zeros((1, 8, 8), dtype=np.float32))
    path.write_bytes(_forge_shape(path.read_bytes(), b"(1, 8, 8)", b"(99999999999, 8, 8)"))
    return path


@pytest.mark.parametrize(
    ("make", "key", "match"),
    [
        (lambda p: p / "missing.npy", "target", "not found"),
        (lambda p: _object_npy(p / "obj.npy"), "target", "no objects"),
        (lambda p: _forged_npy(p / "forged.npy"), "target", "truncated or forged"),
        (lambda p: _bomb_png(p / "bomb.png"), "target", "decompression bomb"),
    ],
)
def test_bad_target_files_fail_before_any_run(
    tmp_path: Path, untrusted: None, make: Callable[[Path], Path], key: str, match: str
) -> None:
    target = make(tmp_path)
    suite = tmp_path / "s.toml"
    source = "npy" if target.suffix == ".npy" else "path"
    suite.write_text(_suite_text("mnist-dcgan", str(target)).replace("npy =", f"{source} ="))
    with pytest.raises(SuiteError, match=rf"s\.toml:11: problems\[0\]\.{key}: .*{match}"):
        plan(load_suite(suite))


def test_missing_device_and_unknown_options_name_the_key(tmp_path: Path, target_npy: Path, untrusted: None) -> None:
    suite = tmp_path / "s.toml"
    text = _suite_text("mnist-dcgan", str(target_npy)).replace(
        'generator = "mnist-dcgan"', 'generator = { name = "mnist-dcgan", device = "cuda:7" }'
    )
    suite.write_text(text)
    with pytest.raises(SuiteError, match=r"s\.toml:9: problems\[0\]\.generator: device 'cuda:7' does not exist"):
        plan(load_suite(suite))
    suite.write_text(text.replace('device = "cuda:7"', "foo = 1"))
    with pytest.raises(SuiteError, match=r"problems\[0\]\.generator: .*unknown option\(s\) 'foo'"):
        plan(load_suite(suite))
    suite.write_text(_suite_text("mnist-dcgan", str(target_npy)).replace('kind = "target-similarity"', 'kind = "t-s"'))
    with pytest.raises(UnknownNameError, match=r"problems\[0\]\.kind: unknown problem 't-s'"):
        plan(load_suite(suite))


# -- run timeout ---------------------------------------------------------------------------------
class Sleeper:
    """Evaluates once, then sleeps in optimizer code (no evaluations) far past any limit."""

    def solve(self, problem: lb.LatentProblem, budget: int, seed: int) -> lb.OptimizeResult:
        problem.evaluate(problem.sample(2, seed))
        time.sleep(30)
        raise AssertionError("unreachable under a run timeout")


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_run_timeout_stores_a_failed_run(tmp_path: Path, write_suite: Callable[..., Path], executor: str) -> None:
    # paper-ga on a budget that takes far longer than the limit: stopped between evaluations
    suite = load_suite(write_suite('[[optimizers]]\nname = "paper-ga"\nparams = { pop_size = 10 }\n', budget=10**7))
    suite = suite.with_overrides(seeds=1, run_timeout=1.0)
    start = time.perf_counter()
    with Store(tmp_path / "bench.sqlite") as store:
        summary = run_suite(suite, store, progress=False, executor=executor, workers=2)  # type: ignore[arg-type]
        runs = store.runs(status="failed")
    assert time.perf_counter() - start < 60
    assert summary.failed == summary.planned == len(runs) > 0
    assert all("exceeded run_timeout = 1 s" in (r.error or "") for r in runs)


def test_run_timeout_interrupts_optimizer_code(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    with lb.testing.registered("optimizer", "sleeper", Sleeper):
        suite = load_suite(write_suite('[[optimizers]]\nname = "sleeper"\n', budget=50, seeds=1))
        start = time.perf_counter()
        with Store(tmp_path / "bench.sqlite") as store:
            summary = run_suite(suite, store, progress=False, run_timeout=0.5)
            runs = store.runs(status="failed")
    assert time.perf_counter() - start < 20
    assert summary.failed == 2
    assert all("RunTimeoutError" in (r.error or "") for r in runs)


def test_run_timeout_in_suites_and_cli_is_validated(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    path = write_suite()
    path.write_text(path.read_text().replace("seeds = 2", "seeds = 2\nrun_timeout = -1"))
    with pytest.raises(SuiteError, match=r"tiny\.toml:\d+: suite\.run_timeout: expected a positive number"):
        load_suite(path)
    path.write_text(path.read_text().replace("run_timeout = -1", "run_timeout = 2.5"))
    assert load_suite(path).run_timeout == 2.5
    res = CliRunner().invoke(app, ["bench", "--suite", str(path), "--out", str(tmp_path / "o"), "--run-timeout", "0"])
    assert res.exit_code == 2
    assert "--run-timeout must be a positive number" in res.output


# -- broken stores -------------------------------------------------------------------------------
def _finished_store(tmp_path: Path, write_suite: Callable[..., Path]) -> Path:
    db = tmp_path / "o" / "bench.sqlite"
    with Store(db) as store:
        run_suite(load_suite(write_suite(budget=30, seeds=1)), store, progress=False)
    return db


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not-a-store"])
def test_broken_store_gives_one_clear_error(tmp_path: Path, write_suite: Callable[..., Path], damage: str) -> None:
    db = tmp_path / "bad.sqlite"
    if damage == "garbage":
        db.write_bytes(os.urandom(4096))
    elif damage == "truncated":
        good = _finished_store(tmp_path, write_suite)
        db.write_bytes(good.read_bytes()[:1500])
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE other (x)")
    for readonly in (True, False):
        with pytest.raises(StoreError, match=rf"bench store {db}"), Store(db, readonly=readonly) as store:
            store.runs()
    res = CliRunner().invoke(app, ["leaderboard", str(db)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "bench store" in res.output


def test_forged_array_blob_is_refused(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    db = _finished_store(tmp_path, write_suite)
    with sqlite3.connect(db) as conn:
        blob = conn.execute("SELECT best_x FROM runs LIMIT 1").fetchone()[0]
        forged = _forge_shape(blob, b"(8,)", b"(99999999999,)")
        assert forged != blob
        conn.execute("UPDATE runs SET best_x = ?", (forged,))
    with Store(db, readonly=True) as store, pytest.raises(StoreError, match="do not match its bytes"):
        store.runs()


def test_readonly_store_falls_back_to_immutable(
    tmp_path: Path, write_suite: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _finished_store(tmp_path, write_suite)
    real = sqlite3.connect
    seen: list[str] = []

    def connect(database: str, *args: object, **kwargs: object) -> sqlite3.Connection:
        seen.append(str(database))
        if "immutable" not in str(database):  # what sqlite says in a read-only folder (no -shm can be made)
            raise sqlite3.OperationalError("unable to open database file")
        return real(database, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", connect)
    with Store(db, readonly=True) as store:
        assert len(store.runs()) == 2
    assert seen[-1].endswith("immutable=1")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_leaderboard_reads_a_store_in_a_readonly_folder(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    db = _finished_store(tmp_path, write_suite)
    db.parent.chmod(0o555)
    try:
        res = CliRunner().invoke(app, ["leaderboard", str(db)])
        assert res.exit_code == 0, res.output
        with pytest.raises(StoreError, match="read-only"):
            Store(db)
    finally:
        db.parent.chmod(0o755)


# -- output escaping -----------------------------------------------------------------------------
def test_hostile_names_are_printed_and_written_as_text(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    label = "[red]x[/red] <script>alert(1)</script> <img src=x onerror=alert(1)>"
    opts = (
        f'[[optimizers]]\nname = "prior"\nlabel = "{label}"\n[[optimizers]]\nname = "random"\nlabel = "=HYPERLINK(1)"\n'
    )
    path = write_suite(opts, budget=30, seeds=2)
    path.write_text(path.read_text().replace('id = "set"', 'id = "[bold]set[/"'))
    out = tmp_path / "o"
    cmd = ["bench", "--suite", str(path), "--out", str(out), "--no-progress", "--executor", "serial"]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    flat = "".join(res.output.split())
    assert "[red]x[/red]" in flat
    assert "[bold]set[/" in flat
    md = (out / "report.md").read_text()
    assert "<script>" not in md
    assert "<img" not in md
    assert "&lt;script&gt;" in md
    assert "<script>" not in (out / "report.html").read_text()
    csv_text = (out / "leaderboard.csv").read_text()
    assert ",'=HYPERLINK(1)," in csv_text
    assert ",=HYPERLINK" not in csv_text
