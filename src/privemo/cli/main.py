"""The ``privemo`` entry point."""

from __future__ import annotations

import typer

from privemo.cli import data, features, federated
from privemo.cli.run import demo, report, run

app = typer.Typer(help="privemo: privacy-preserving emotion recognition, measured with real attackers.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command()(demo)
app.command()(run)
app.command()(report)
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(federated.app, name="federated")

if __name__ == "__main__":  # pragma: no cover
    app()
