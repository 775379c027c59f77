"""Reports: console, Markdown, CSV and a self-contained HTML page with every plot and image grid."""

from __future__ import annotations

import base64
import csv
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from latentbridge.bench import Store, build_leaderboard, figures, load_suite, print_leaderboard, run_suite
from latentbridge.bench import report as rep
from latentbridge.bench.leaderboard import Leaderboard
from latentbridge.campaign.render import html_text

pytest.importorskip("latentbridge.pymoo")
pytest.importorskip("latentbridge.baselines")
pytest.importorskip("matplotlib")

OPTIMIZERS = """
[[optimizers]]
name = "random"
params = { batch = 20 }
[[optimizers]]
name = "prior"
[[optimizers]]
name = "prior"
label = "prior-small"
params = { batch = 5 }
[[optimizers]]
name = "pymoo:NSGA2"
label = "nsga2-10"
params = { pop_size = 10 }
[[optimizers]]
name = "pymoo:NSGA2"
label = "nsga2-20"
params = { pop_size = 20 }
"""

MO_PROBLEM = """
[[problems]]
id = "two-targets"
kind = "target-similarity"
generator = "latentbridge.testing:tiny_generator"
scorer = "rmse"
target = {{ npy = "{npy}" }}
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, target_npy: Path) -> Leaderboard:
    from latentbridge.testing import registered

    from .conftest import PriorSampler

    tmp = tmp_path_factory.mktemp("report")
    two = np.concatenate([np.load(target_npy)[None], -np.load(target_npy)[None]])
    np.save(tmp / "two.npy", two)
    text = f"""
[suite]
name = "rep"
budget = 100
seeds = 3
[[problems]]
id = "target"
kind = "target-similarity"
generator = "latentbridge.testing:tiny_generator"
scorer = "rmse"
target = {{ npy = "{target_npy}" }}
success = 0.2
[[problems]]
id = "set"
kind = "set-diversity"
generator = "latentbridge.testing:tiny_generator"
scorer = "ncc"
k = 3
{MO_PROBLEM.format(npy=tmp / "two.npy")}
{OPTIMIZERS}
"""
    (tmp / "rep.toml").write_text(text)
    with registered("optimizer", "prior", PriorSampler), Store(tmp / "b.sqlite") as store:
        run_suite(load_suite(tmp / "rep.toml"), store, progress=False)
        return build_leaderboard(store.runs())


def test_leaderboard_contents(board: Leaderboard) -> None:
    assert [i.label for i in board.instances] == ["set", "target", "two-targets"]
    mo = board.instance("two-targets")
    assert mo.n_obj == 2
    assert mo.higher_is_better
    assert sorted(mo.runs) == ["nsga2-10", "nsga2-20", "random"]  # only multi-objective optimizers run on it
    assert all(row.summary.median > 0 for row in mo.rows)  # hypervolume
    target = board.instance("target")
    assert target.success_source == "suite"
    assert target.success_display == 0.2
    for row in target.rows:
        scores = target.scores(row.optimizer)
        assert row.summary.success_rate == pytest.approx(np.mean(scores <= 0.2))
        assert row.summary.median == pytest.approx(np.median(scores))
    names = [g.name for g in board.groups]
    assert names == ["all single-objective instances", "all multi-objective instances"]


def test_console(board: Leaderboard) -> None:
    buf = io.StringIO()
    print_leaderboard(board, Console(file=buf, width=120))
    text = buf.getvalue()
    for label in ("target", "set", "two-targets", "prior-small", "nsga2-20", "Friedman", "hypervolume"):
        assert label in text


def test_markdown_and_csv(board: Leaderboard, tmp_path: Path) -> None:
    md = rep.to_markdown(board)
    assert md.startswith("# Leaderboard")
    sections = [line for line in md.splitlines() if line.startswith("## ") and not line.startswith("## Seed ")]
    assert len(sections) == len(board.instances) + len(board.groups)  # plus the seed tables (bench.tables)
    assert all(s.startswith("## Across instances") for s in sections[: len(board.groups)])  # the summary first
    assert "![" not in md  # no path: no image files to link
    text = rep.to_csv(board, tmp_path / "lb.csv")
    assert (tmp_path / "lb.csv").read_text() == text
    rows = list(csv.DictReader(io.StringIO(text)))
    inst_rows = [r for r in rows if r["level"] == "instance"]
    assert len(inst_rows) == sum(len(i.rows) for i in board.instances)
    assert set(rows[0]) == set(rep.CSV_COLUMNS)


def _csv_group_ranks(text: str) -> dict[tuple[str, str], float]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["level"] for r in rows} == {"instance", "group"}
    return {(r["group"], r["optimizer"]): float(r["group_mean_rank"]) for r in rows if r["level"] == "group"}


def test_csv_holds_every_groups_mean_rank(board: Leaderboard) -> None:
    # prior-small ran on "set" only: it is ranked in a second single-objective group, not in the first
    runs = [r for r in board.runs if not (r.optimizer == "prior-small" and r.problem_id == "target")]
    partial = build_leaderboard(runs)
    names = [g.name for g in partial.groups]
    assert names == ["all single-objective instances", "single-objective: set", "all multi-objective instances"]
    text = rep.to_csv(partial)
    got = _csv_group_ranks(text)
    want = {(g.name, o): r for g in partial.groups for o, r in g.ranking()}
    assert got == pytest.approx(want)
    assert ("single-objective: set", "prior-small") in got
    # every instance row has a group mean rank, from the first group holding its instance and optimizer
    for row in csv.DictReader(io.StringIO(text)):
        if row["level"] != "instance":
            continue
        assert row["group_mean_rank"] != "", row
        assert got[(row["group"], row["optimizer"])] == pytest.approx(float(row["group_mean_rank"]))
        assert row["instance"] in row["group_instances"].split(";")
    small = [r for r in csv.DictReader(io.StringIO(text)) if r["optimizer"] == "prior-small"]
    assert [(r["level"], r["instance"], r["group"]) for r in small] == [
        ("instance", "set", "single-objective: set"),
        ("group", "", "single-objective: set"),
    ]


def test_html_has_every_plot_and_grid(board: Leaderboard, tmp_path: Path) -> None:
    html = rep.to_html(board, tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == html
    ids = set(re.findall(r"<figure id='([^']+)'><img alt='[^']*' src='data:image/png;base64,[A-Za-z0-9+/=]+'>", html))
    expected = {"ecdf"} | {f"{kind}-{i.label}" for i in board.instances for kind in ("convergence", "grid")}
    expected |= {"runs-target", "heatmap-target"}  # seed 000's Fig. 5 and Fig. 7 (latentbridge.bench.tables)
    assert ids == expected
    assert "http" not in html.split("<body>")[1]  # self-contained: nothing to fetch
    assert "missing" not in html
    names = sorted({n for i in board.instances for n in i.runs})
    for name, color in figures.optimizer_colors(names).items():  # the tables show each optimizer's plot colour
        assert f"<span class='sw' style='color:{color}'>■</span> {name}</td>" in html


def test_html_without_generator_still_renders(board: Leaderboard) -> None:
    def rebuild(spec: dict[str, object]) -> object:
        raise RuntimeError("no weights here")

    html = rep.to_html(board, rebuild=rebuild)
    assert "image grid unavailable: RuntimeError: no weights here" in html
    assert "id='convergence-target'" in html


def test_anytime_helpers(board: Leaderboard) -> None:
    run = board.instance("target").runs["prior"][0]
    grid = np.array([0.0, float(run.trace_evals[0]), 100.0])
    curve = rep.best_so_far(run, grid)
    assert np.isnan(curve[0])
    assert curve[1] == run.trace_best[0]
    assert curve[2] == run.best
    frac, curves = rep.ecdf_curves(board)
    assert frac[-1] == 1.0
    for y in curves.values():
        assert np.all(np.diff(y) >= 0)
        assert 0 <= y[0] <= y[-1] <= 1


def test_markdown_with_path_writes_figures_beside_it(board: Leaderboard, tmp_path: Path) -> None:
    from PIL import Image

    md = rep.to_markdown(board, tmp_path / "out" / "report.md")
    assert (tmp_path / "out" / "report.md").read_text(encoding="utf-8") == md
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", md)
    expected = {"ecdf"} | {f"{kind}-{i.label}" for i in board.instances for kind in ("convergence", "grid")}
    assert {Path(link).stem for link in links} == expected
    for link in links:
        assert link.startswith("report-images/")
        with Image.open(tmp_path / "out" / link) as im:
            assert im.format == "PNG"
            assert min(im.size) > 50
    lines = md.splitlines()
    first_instance = next(i for i, line in enumerate(lines) if line.startswith(f"## {board.instances[0].label} "))
    first_group = next(i for i, line in enumerate(lines) if line.startswith("## Across instances"))
    assert first_group < first_instance


class _HTMLFigures(HTMLParser):
    """Every <figure>: its <img> sources and caption text; every <img> outside a figure."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, Any]] = []
        self.loose_imgs = 0
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "figure":
            self.figures.append({"id": a.get("id"), "imgs": [], "caption": ""})
        elif tag == "img":
            if self.figures and self.figures[-1].get("open", True):
                self.figures[-1]["imgs"].append(a.get("src") or "")
            else:
                self.loose_imgs += 1
        elif tag == "figcaption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._in_caption = False
        elif tag == "figure" and self.figures:
            self.figures[-1]["open"] = False

    def handle_data(self, data: str) -> None:
        if self._in_caption and self.figures:
            self.figures[-1]["caption"] += data


def test_html_dom_has_no_empty_image_cells(board: Leaderboard, tmp_path: Path) -> None:
    from PIL import Image

    parser = _HTMLFigures()
    parser.feed(rep.to_html(board))
    assert parser.figures
    assert parser.loose_imgs == 0
    for fig in parser.figures:
        assert len(fig["imgs"]) == 1, fig["id"]
        src = fig["imgs"][0]
        assert src.startswith("data:image/png;base64,"), fig["id"]
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            arr = np.asarray(im.convert("L"))
        assert min(arr.shape) > 50, fig["id"]
        assert arr.std() > 5, fig["id"]  # something is drawn
        assert fig["caption"].strip().endswith("."), fig["id"]  # a sentence, not a repeated title


def test_plots_fill_the_page_with_plain_ticks_and_no_titles(board: Leaderboard) -> None:
    inst = board.instance("target")
    colors = figures.optimizer_colors(sorted({n for i in board.instances for n in i.runs}))
    for fig in (rep.convergence_figure(inst, colors), rep.ecdf_figure(board, colors)):
        assert fig.get_size_inches()[0] * fig.dpi >= 1000  # the page is 1100 px wide
        ax = fig.axes[0]
        assert ax.get_title() == ""
        assert fig._suptitle is None  # the caption says what the plot is
        fig.canvas.draw()  # type: ignore[no-untyped-call]
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert labels
        assert not any("times" in t or "^" in t or "10^" in t for t in labels), labels
        assert all(re.fullmatch(r"[0-9.,]+", t) for t in labels), labels


def test_optimizer_colours_are_fixed_by_name() -> None:
    a = figures.optimizer_colors(["random", "ng:CMA", "mine"])
    b = figures.optimizer_colors(["mine", "paper-ga", "set-ga", "map-elites", "random"])
    assert a["random"] == b["random"] == rep.optimizer_color("random")
    assert a["mine"] == b["mine"] == rep.optimizer_color("mine")
    many = [f"opt{i}" for i in range(12)] + ["random", "paper-ga"]
    assert len(set(figures.optimizer_colors(many).values())) == len(many)  # distinct within a report


def test_grid_rows_follow_the_ranking_and_the_target_row_has_no_empty_box(board: Leaderboard) -> None:
    import torch

    from latentbridge.bench.runner import rebuild_problem

    inst = board.instance("set")  # k = 3 images per solution: one mosaic row per optimizer

    class WithTarget:  # the set problem plus one reference image, as a centroid problem shows
        def __init__(self, spec: dict[str, Any]) -> None:
            self.p = rebuild_problem(spec)
            self.targets = torch.zeros((1, *self.p.generator.image_shape))

        def render(self, x: Any) -> Any:
            return self.p.render(x)

    fig = rep.grid_figure(inst, WithTarget)
    axes = fig.axes
    assert len(axes) == 1 + len(inst.rows)
    titles = [ax.get_title(loc="left") for ax in axes]
    assert titles[0] == "target"
    for title, row in zip(titles[1:], inst.rows, strict=True):
        assert title.startswith(f"{rep._fmt(row.rank, 3)}. {row.optimizer}: best ")
        assert f"(median {rep._fmt(row.summary.median)})" in title
    assert all(not ax.axison for ax in axes)  # no frame drawn around a half-empty row
    assert all(ax.get_xlim() == axes[1].get_xlim() for ax in axes)  # the target keeps the images' scale
    assert "median over seeds" in rep.GRID_CAPTION


_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_renders_in_headless_chromium(board: Leaderboard, tmp_path: Path) -> None:
    """A real browser decodes every image of the report (naturalWidth > 0) and draws the page."""
    from PIL import Image

    assert _CHROMIUM is not None
    page = rep.to_html(board, tmp_path / "r.html")
    probe = (
        "<script>window.addEventListener('load',()=>{const bad=[...document.images]"
        ".filter(i=>!i.complete||i.naturalWidth===0).length;document.body.setAttribute('data-broken',bad);"
        "document.body.setAttribute('data-images',document.images.length);});</script></body>"
    )
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe), encoding="utf-8")
    flags = [_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
    dom = subprocess.run(
        [*flags, "--dump-dom", (tmp_path / "probe.html").as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    n_imgs = page.count("<img ")
    assert 'data-broken="0"' in dom, dom[:300]
    assert f'data-images="{n_imgs}"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1280,3000", (tmp_path / "r.html").as_uri()],
        capture_output=True,
        timeout=120,
    )
    with Image.open(shot) as im:
        arr = np.asarray(im.convert("L"))
    assert arr.shape == (3000, 1280)
    assert (arr < 128).mean() > 0.01  # text, tables and plots drawn, not a blank page


def test_one_instance_says_the_across_instance_tests_need_two() -> None:
    from types import SimpleNamespace

    from latentbridge.bench.report import _group_lines

    friedman = SimpleNamespace(n_instances=1, n_optimizers=3, statistic=float("nan"), pvalue=float("nan"), note="")
    lines = _group_lines(SimpleNamespace(friedman=friedman, pairwise=[]))  # type: ignore[arg-type]
    assert len(lines) == 1
    assert "need at least two instances" in lines[0]
    assert "χ²" not in lines[0]
    assert "no pairwise difference" not in lines[0]


def test_every_report_says_what_the_fitness_measures(board: Leaderboard, tmp_path: Path) -> None:
    from latentbridge.bench.explain import what_fitness_measures

    sets = next(i for i in board.instances if i.kind == "set-diversity")
    said = what_fitness_measures(sets)
    assert "rewards pixel difference only" in said
    assert "distinct classes" in said
    target = next(i for i in board.instances if i.kind == "target-similarity" and i.n_obj == 1)
    assert "does not measure realism" in what_fitness_measures(target)
    multi = next(i for i in board.instances if i.n_obj > 1)
    assert "hypervolume" in what_fitness_measures(multi)
    buf = io.StringIO()
    print_leaderboard(board, Console(file=buf, width=400))
    assert said in buf.getvalue()
    assert rep._md(said) in rep.to_markdown(board, images=False)
    assert f"<p class='measures'>{html_text(said)}</p>" in rep.to_html(board, images=False)


def test_plot_legends_read_in_the_tables_rank_order(board: Leaderboard) -> None:
    ranked_rows = [[r.optimizer for r in inst.rows] for inst in board.instances]
    assert any(names != sorted(names) for names in ranked_rows)  # else alphabetical legends would pass too
    colors = figures.optimizer_colors(sorted({n for inst in board.instances for n in inst.runs}))
    for inst in board.instances:
        fig = rep.convergence_figure(inst, colors)
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert legend == [row.optimizer for row in inst.rows if row.optimizer in legend]
    fig = rep.ecdf_figure(board, colors)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ranked = [n for n, _ in board.groups[0].ranking()]
    assert [n for n in legend if n in ranked] == [n for n in ranked if n in legend]
