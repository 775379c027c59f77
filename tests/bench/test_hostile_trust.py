"""``--allow-import MODULE`` trusts only what MODULE defines (issue 26 item 8).

A suite may name a generator ``"trusted:attr"`` once ``trusted`` is allowed; the attribute path must not reach
into another module (``trusted:subprocess.run``), name something merely imported into it, or run code while it
is looked up (a module ``__getattr__``, a property of a metaclass). Every payload leaves a marker file if it ran.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from latentbridge.bench import load_suite, plan
from latentbridge.bench import problems as bench_problems
from latentbridge.bench.problems import _import_path, trusted_imports
from latentbridge.bench.suite import SuiteError
from latentbridge.cli import app
from latentbridge.errors import UntrustedImportError


@pytest.fixture
def trusted_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """``trusted_pkg`` (defines ``make`` and ``Factory``) imports ``helper_mod`` whose functions leave a marker."""
    marker = tmp_path / "PWNED"
    (tmp_path / "helper_mod.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            def evil(**options):
                Path({str(marker)!r}).write_text("called")
            class Meta(type):
                @property
                def gadget(cls):
                    Path({str(marker)!r}).write_text("property ran")
                    return evil
            """
        )
    )
    (tmp_path / "trusted_pkg.py").write_text(
        textwrap.dedent(
            f"""
            import subprocess
            import helper_mod
            from helper_mod import evil as alias
            from pathlib import Path
            from latentbridge.testing import tiny_generator

            def make(**options):
                return tiny_generator(8, (1, 8, 8), seed=0)

            class Factory(metaclass=helper_mod.Meta):
                @staticmethod
                def build(**options):
                    return tiny_generator(8, (1, 8, 8), seed=0)

            def __getattr__(name):
                Path({str(marker)!r}).write_text("module getattr ran")
                return helper_mod.evil
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(bench_problems, "_TRUSTED", ())
    bench_problems._CACHE.clear()
    yield tmp_path, marker
    for mod in ("trusted_pkg", "helper_mod"):
        sys.modules.pop(mod, None)


@pytest.mark.parametrize(
    ("attr", "match"),
    [
        ("helper_mod.evil", "is module 'helper_mod'"),
        ("subprocess.run", "is module 'subprocess'"),
        ("alias", "is a function defined in 'helper_mod'"),
        ("tiny_generator", "defined in 'latentbridge.testing'"),
        ("Path", "defined in 'pathlib'"),
        ("Factory.gadget", "is a property"),
        ("not_there", "defines no 'not_there'"),
        ("make.__globals__", "is not a class"),
    ],
)
def test_paths_reaching_beyond_the_trusted_module_run_nothing(
    trusted_pkg: tuple[Path, Path], attr: str, match: str
) -> None:
    _, marker = trusted_pkg
    with trusted_imports(["trusted_pkg"]), pytest.raises((UntrustedImportError, ValueError), match=match):
        _import_path("generator", f"trusted_pkg:{attr}")
    assert not marker.exists()


def test_what_the_trusted_module_defines_resolves(trusted_pkg: tuple[Path, Path]) -> None:
    _, marker = trusted_pkg
    with trusted_imports(["trusted_pkg"]):
        assert _import_path("generator", "trusted_pkg:make").__name__ == "make"
        assert _import_path("generator", "trusted_pkg:Factory.build").__name__ == "build"
    assert not marker.exists()


def test_a_suite_naming_another_modules_callable_runs_no_command(
    trusted_pkg: tuple[Path, Path], target_npy: Path
) -> None:
    tmp, marker = trusted_pkg
    suite = tmp / "evil.toml"
    suite.write_text(
        textwrap.dedent(
            f"""
            [suite]
            name = "evil"
            budget = 10
            seeds = 1

            [[problems]]
            id = "p"
            kind = "target-similarity"
            generator = {{ name = "trusted_pkg:subprocess.run", args = ["touch", "{marker}"] }}
            scorer = "rmse"
            target = {{ npy = "{target_npy}" }}

            [[optimizers]]
            name = "random"
            """
        )
    )
    with pytest.raises(SuiteError, match=r"is module 'subprocess'"):
        plan(load_suite(suite), allow_imports=["trusted_pkg"])
    cmd = ["bench", "--suite", str(suite), "--out", str(tmp / "o"), "--no-progress", "--allow-import", "trusted_pkg"]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "defined in the trusted module 'trusted_pkg'" in " ".join(res.output.split())
    assert not marker.exists()
