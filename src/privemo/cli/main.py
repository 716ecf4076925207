"""The ``privemo`` entry point."""

from __future__ import annotations

import click
import typer
import typer.core

from privemo.cli import anonymize, data, evaluate, features, federated, vgan
from privemo.cli.run import check, compare, demo, report, run


class _InOrder(typer.core.TyperGroup):
    """``privemo --help`` lists the jobs in the order a user meets them, not alphabetically."""

    ORDER = ("demo", "anonymize", "evaluate", "run", "report", "compare", "check", "data", "features", "vgan", "federated")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands, key=lambda c: self.ORDER.index(c) if c in self.ORDER else len(self.ORDER))


app = typer.Typer(cls=_InOrder, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode="markdown",
                  help="""privemo: privacy-preserving emotion recognition, measured with real attackers.

Start with `privemo demo` (under 5 minutes on 2 cores, then open runs/demo/report.html), anonymize your own
files with `privemo anonymize`, and measure a protection on a corpus with `privemo evaluate` or
`privemo run`.

Example: privemo anonymize talk.wav talk_anon.wav""")
app.command()(demo)
app.add_typer(anonymize.app, name="anonymize")
app.add_typer(evaluate.app, name="evaluate")
app.command()(run)
app.command()(report)
app.command()(compare)
app.command()(check)
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(vgan.app, name="vgan")
app.add_typer(federated.app, name="federated")

if __name__ == "__main__":  # pragma: no cover
    app()
