"""The bench and leaderboard commands through typer's runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from latentbridge.cli import app

pytestmark = pytest.mark.usefixtures("prior_optimizer")


def test_bench_then_leaderboard(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = write_suite()
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["bench", "--suite", str(suite), "--out", str(out), "--seeds", "2", "--no-progress", "--executor", "serial"],
    )
    assert res.exit_code == 0, res.output
    assert "bench machinery" in res.output
    for name in ("bench.sqlite", "report.html", "report.md", "leaderboard.csv"):
        assert (out / name).is_file()
    wrote = [line.removeprefix("wrote ") for line in res.output.splitlines() if line.startswith("wrote ")]
    names = (
        "bench.sqlite",
        "report.html",
        "report.md",
        "leaderboard.csv",
        "report-images/",
        "leaderboard.seed-tables.csv",
    )
    assert wrote == [str((out / n).resolve()) + ("/" if n.endswith("/") else "") for n in names]
    assert (out / "report-images").is_dir()
    again = runner.invoke(app, ["bench", "--suite", str(suite), "--out", str(out), "--no-progress"])
    assert again.exit_code == 2
    assert "--resume" in again.output
    resumed = runner.invoke(
        app, ["bench", "--suite", str(suite), "--out", str(out), "--resume", "--no-report", "--executor", "serial"]
    )
    assert resumed.exit_code == 0, resumed.output
    assert "0 runs finished (0 failed), 4 already stored" in resumed.output

    shown = runner.invoke(app, ["leaderboard", str(out / "bench.sqlite")])
    assert shown.exit_code == 0, shown.output
    assert "prior" in shown.output
    files = [tmp_path / "lb.html", tmp_path / "lb.md", tmp_path / "lb.csv"]
    written = runner.invoke(
        app,
        [
            "leaderboard",
            str(out / "bench.sqlite"),
            "--html",
            str(files[0]),
            "--md",
            str(files[1]),
            "--csv",
            str(files[2]),
        ],
    )
    assert written.exit_code == 0, written.output
    assert all(f.is_file() for f in files)
    other = runner.invoke(app, ["leaderboard", str(out / "bench.sqlite"), "--suite", "tinny"])
    assert other.exit_code == 2
    assert "no runs of suite 'tinny'" in other.output
    assert "Did you mean 'tiny'?" in other.output


def test_bad_suite_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[suite]\nname = "x"\nbudget = -5\n')
    res = CliRunner().invoke(app, ["bench", "--suite", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    # rich wraps long tmp paths inside its error box: compare without box borders and whitespace
    flat = "".join(ch for ch in res.output if ch not in "│╭╮╰╯─ \n")
    assert "bad.toml:3:suite.budget:expectedaninteger>=1,got-5" in flat


def test_leaderboard_missing_db(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "nope.sqlite")])
    assert res.exit_code != 0


def test_an_emulated_precision_is_said_once_in_the_bench_s_words(
    tmp_path: Path, write_suite: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import latentbridge.precision as lbp

    monkeypatch.setattr(lbp, "_cpu_native", lambda precision: False)  # a CPU without bf16 instructions
    suite = write_suite(budget=20, seeds=1)
    res = CliRunner().invoke(  # pytest turns any raw PrecisionWarning into an error
        app,
        [
            "bench",
            "--suite",
            str(suite),
            "--out",
            str(tmp_path),
            "--precision",
            "bf16",
            "--executor",
            "serial",
            "--no-progress",
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    notes = [line for line in res.output.splitlines() if "is emulated" in line]
    assert len(notes) == 1, res.output
    assert notes[0].startswith("note: bf16 is emulated on this CPU (")
    assert "--precision fp32 runs faster here" in res.output
    monkeypatch.setattr(lbp, "_cpu_native", lambda precision: True)
    again = CliRunner().invoke(
        app,
        [
            "bench",
            "--suite",
            str(suite),
            "--out",
            str(tmp_path / "native"),
            "--precision",
            "bf16",
            "--executor",
            "serial",
            "--no-progress",
            "--no-report",
        ],
    )
    assert again.exit_code == 0, again.output
    assert "is emulated" not in again.output


def test_leaderboard_takes_the_out_folder_and_says_when_a_store_is_incomplete(
    tmp_path: Path, write_suite: Callable[..., Path]
) -> None:
    from latentbridge.bench import Store

    suite = write_suite(seeds=2)
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(
        app, ["bench", "--suite", str(suite), "--out", str(out), "--no-progress", "--no-report", "--executor", "serial"]
    )
    assert res.exit_code == 0, res.output
    whole = runner.invoke(app, ["leaderboard", str(out)])  # the folder, as typed after `bench --out`
    assert whole.exit_code == 0, whole.output
    assert "incomplete" not in whole.output
    header = next(line for line in whole.output.splitlines() if "optimizer" in line and "median" in line)
    assert "runs" in header  # the console table has a runs column
    with Store(out / "bench.sqlite") as store:  # as if the bench were still running: one run not yet stored
        key = sorted(store.finished_keys("tiny"))[0]
        store.conn.execute("DELETE FROM runs WHERE run_key = ?", (key,))
        store.conn.commit()
    part = runner.invoke(app, ["leaderboard", str(out)])
    assert part.exit_code == 0, part.output
    assert "warning: suite 'tiny' is incomplete: 3 of 4 planned runs finished" in part.output
    assert "--resume finishes it" in part.output
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = runner.invoke(app, ["leaderboard", str(empty)])
    assert missing.exit_code == 2
    assert "a folder without bench.sqlite" in " ".join(missing.output.replace("│", " ").split())


def test_console_tables_are_not_wrapped_when_written_to_a_file(
    tmp_path: Path, write_suite: Callable[..., Path]
) -> None:
    suite = write_suite(seeds=2)
    res = CliRunner().invoke(  # CliRunner's output is not a terminal, like a log file or a pipe
        app,
        [
            "bench",
            "--suite",
            str(suite),
            "--out",
            str(tmp_path),
            "--no-progress",
            "--no-report",
            "--executor",
            "serial",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [line for line in res.output.splitlines() if "prior" in line and "±" in line]
    assert rows
    assert all(line.count("±") == 1 for line in rows)  # `mean ± std` whole on the optimizer's line
    assert max(len(line) for line in res.output.splitlines()) > 80


@pytest.mark.parametrize(
    ("optimizer", "need"),
    [
        ('name = "paper-ga"\nparams = { pop_size = 40 }', 40),
        ('name = "ng:LatentPaperGA"\nparams = { pop_size = 30 }', 30),
        ('name = "pymoo:DE"\nparams = { pop_size = 25 }', 25),
    ],
)
def test_a_budget_below_one_population_is_refused_before_any_run(
    tmp_path: Path, write_suite: Callable[..., Path], optimizer: str, need: int
) -> None:
    suite = write_suite(f"[[optimizers]]\n{optimizer}\n", budget=10, seeds=1)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["bench", "--suite", str(suite), "--out", str(out), "--no-progress"])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "budget=10 is smaller than one population of" in text
    assert f"({need} evaluations): raise the suite's budget (or --budget) to at least {need}" in text
    assert f"{suite}:23: optimizers[0].params" in res.output  # the suite file and line, never broken
    assert not (out / "bench.sqlite").exists()  # nothing started, nothing stored
