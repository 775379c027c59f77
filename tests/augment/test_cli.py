from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from latentbridge.cli import app

from .conftest import make_folder

runner = CliRunner()


def test_cli_runs_and_reports(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["augment", str(shapes), "--out", str(out), "--arms", "none,affine", "--seeds", "1", "--folds", "2",
            "--train-per-class", "6", "--classifier", "logreg", "--executor", "serial", "--no-progress"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "4 results" in res.output
    assert "CPU:" in res.output
    assert (out / "report.html").is_file()
    assert (out / "results.csv").is_file()
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert "--resume" in res.output.replace("\n", "")
    assert runner.invoke(app, [*args, "--resume"]).exit_code == 0


def test_cli_bad_data_is_one_error_and_no_output_folder(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "d", n=8)
    (data / "diag" / "05.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    res = runner.invoke(app, ["augment", str(data), "--out", str(out), "--no-progress"])
    text = res.output.replace("\n", "")  # rich wraps long paths
    assert res.exit_code == 2
    assert "05.png cannot be read" in text
    assert "Traceback" not in text
    assert not out.exists()
    res = runner.invoke(app, ["augment", str(tmp_path / "missing"), "--out", str(out), "--no-progress"])
    assert res.exit_code == 2
    assert "does not exist" in res.output.replace("\n", "")
