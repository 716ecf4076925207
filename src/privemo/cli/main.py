"""The ``privemo`` entry point."""

from __future__ import annotations

import typer

from privemo.cli import anonymize, data, evaluate, features, federated, vgan
from privemo.cli.run import check, demo, report, run

app = typer.Typer(help="privemo: privacy-preserving emotion recognition, measured with real attackers.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command()(demo)
app.command()(run)
app.command()(report)
app.command()(check)
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(federated.app, name="federated")
app.add_typer(anonymize.app, name="anonymize")
app.add_typer(evaluate.app, name="evaluate")
app.add_typer(vgan.app, name="vgan")

if __name__ == "__main__":  # pragma: no cover
    app()
