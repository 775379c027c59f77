"""Suite files: parsing, built-ins, overrides, seeds, and errors that name the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentbridge.bench import SuiteError, load_suite, parse_suite, run_seed
from latentbridge.bench.suite import OptimizerSpec, ProblemSpec

GOOD = """\
[suite]
name = "s"
budget = 100
seeds = 3

[[problems]]
id = "t3"
kind = "target-similarity"
generator = "mnist-dcgan"
scorer = { name = "mnist-embed", metric = "cosine" }
target = { heldout_digit = 3, index = 1 }

[[problems]]
id = "img"
kind = "target-similarity"
generator = "mnist-dcgan"
scorer = "rmse"
target = { path = "digits/x.png" }
success = 0.1

[[optimizers]]
name = "paper-ga"
params = { pop_size = 50 }

[[optimizers]]
name = "paper-ga"
label = "paper-ga-small"
params = { pop_size = 10 }
problems = ["t3"]
"""


def test_parse_good(tmp_path: Path) -> None:
    suite = parse_suite(GOOD, origin="x.toml", base_dir=tmp_path)
    assert (suite.name, suite.budget, suite.seeds, suite.seed) == ("s", 100, 3, 0)
    t3, img = suite.problems
    assert t3.scorer == "mnist-embed"
    assert t3.scorer_options == {"metric": "cosine"}
    assert t3.target == {"heldout_digit": 3, "index": 1}
    assert img.target == {"path": str(tmp_path / "digits" / "x.png")}  # resolved against the file
    assert img.success == 0.1
    assert [o.label for o in suite.optimizers] == ["paper-ga", "paper-ga-small"]
    assert suite.optimizers[1].problems == ("t3",)
    assert ProblemSpec.from_dict(t3.to_dict()) == t3
    assert OptimizerSpec.from_dict(suite.optimizers[1].to_dict()) == suite.optimizers[1]


def test_builtin_quick() -> None:
    quick = load_suite("quick")
    assert quick.name == "quick"
    assert quick.seeds >= 5
    assert len(quick.optimizers) >= 5
    kinds = {p.kind for p in quick.problems}
    assert kinds == {"target-similarity", "set-diversity", "centroid-diversity"}
    assert {p.scorer for p in quick.problems if p.kind == "set-diversity"} == {"rmse", "ncc"}


def test_builtin_suites_are_the_packaged_toml_files() -> None:
    from importlib import resources

    from latentbridge.bench.suite import BUILTIN_SUITES

    folder = resources.files("latentbridge.bench").joinpath("suites")
    files = [n.removesuffix(".toml") for n in sorted(e.name for e in folder.iterdir()) if n.endswith(".toml")]
    assert list(BUILTIN_SUITES) == files
    assert "quick" in files
    assert BUILTIN_SUITES["quick"] == folder.joinpath("quick.toml").read_text(encoding="utf-8")
    assert load_suite("quick").source == "builtin:quick"


def test_overrides() -> None:
    quick = load_suite("quick")
    s = quick.with_overrides(optimizers=["paper-ga", "ng:NGOpt"], budget=50, seeds=2)
    assert [o.label for o in s.optimizers] == ["paper-ga", "ng:NGOpt"]
    assert s.optimizers[0].params == quick.optimizers[0].params  # a suite entry keeps its parameters
    assert (s.budget, s.seeds) == (50, 2)
    with pytest.raises(SuiteError, match="--budget"):
        quick.with_overrides(budget=0)


def _error(text: str) -> str:
    with pytest.raises(SuiteError) as info:
        parse_suite(text, origin="bad.toml")
    return str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("seeds = 3", "seeds = 0", "bad.toml:4: suite.seeds: expected an integer >= 1, got 0"),
        ("budget = 100", 'budget = "many"', "bad.toml:3: suite.budget: expected an integer >= 1"),
        ('scorer = "rmse"', 'scorer = "rmse"\nfoo = 1', "bad.toml:18: problems[1].foo: unknown key"),
        ("index = 1 }", "index = -1 }", "bad.toml:11: problems[0].target: target.index must be a non-negative"),
        ("params = { pop_size = 10 }", "params = 10", "bad.toml:28: optimizers[1].params: expected a table"),
        ('problems = ["t3"]', 'problems = ["t4"]', "bad.toml:29: optimizers[1].problems: unknown problem ids ['t4']"),
        (
            'label = "paper-ga-small"\n',
            "",
            "bad.toml:25: optimizers[1].label: optimizer label 'paper-ga' is used twice",
        ),
        ('id = "img"', 'id = "t3"', "bad.toml:14: problems[1].id: problem id 't3' is used twice"),
        (
            'kind = "target-similarity"\ngenerator = "mnist-dcgan"\nscorer = "rmse"',
            'generator = "mnist-dcgan"\nscorer = "rmse"',
            "bad.toml:13: problems[1]: missing required key 'kind'",
        ),
    ],
)
def test_errors_name_key_and_line(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    message = _error(GOOD.replace(old, new, 1))
    assert message.startswith(expected), message


def test_unknown_key_suggests() -> None:
    message = _error(GOOD.replace("success = 0.1", "sucess = 0.1"))
    assert "bad.toml:19: problems[1].sucess: unknown key (did you mean 'success'?)" in message


def test_syntax_error_has_line() -> None:
    message = _error(GOOD.replace('name = "s"', 'name = "s'))
    assert message.startswith("bad.toml: invalid TOML:")
    assert "line 2" in message


def test_missing_sections_and_files(tmp_path: Path) -> None:
    assert "missing [suite]" in _error('[[problems]]\nid = "x"\n')
    assert "at least one [[optimizers]]" in _error(GOOD.split("[[optimizers]]")[0])
    with pytest.raises(SuiteError, match="neither a built-in suite") as info:
        load_suite(tmp_path / "nope.toml")
    assert f"(looked for {tmp_path / 'nope.toml'})" in str(info.value)
    target_missing = GOOD.replace("target = { heldout_digit = 3, index = 1 }\n", "")
    assert "bad.toml:6: problems[0]: kind 'target-similarity' needs a 'target' table" in _error(target_missing)


def test_run_seed_is_stable_and_distinct() -> None:
    a = run_seed(0, "target-3", "paper-ga", 0)
    assert a == run_seed(0, "target-3", "paper-ga", 0)
    assert 0 <= a < 2**31
    others = {
        run_seed(1, "target-3", "paper-ga", 0),
        run_seed(0, "target-5", "paper-ga", 0),
        run_seed(0, "target-3", "ng:CMA", 0),
        run_seed(0, "target-3", "paper-ga", 1),
    }
    assert a not in others
    assert len(others) == 4


def test_a_relative_suite_path_says_where_it_was_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SuiteError) as info:
        load_suite("examples/first-suite.toml")
    message = str(info.value)
    assert f"looked for {tmp_path / 'examples' / 'first-suite.toml'}" in message
    assert f"a relative path is taken from the working directory {tmp_path}" in message
