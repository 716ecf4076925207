"""``privemo data inspect``: what a corpus folder holds, and what is wrong with it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from privemo.cli._common import console, friendly_errors, safe_text

app = typer.Typer(help="Corpora: inspect a folder.", no_args_is_help=True)


@app.command()
def inspect(corpus: str = typer.Argument(..., help="corpus type: ravdess, crema_d, emodb, iemocap, msp_improv, "
                                         "msp_podcast, muse, urdu, yale, jaffe, ckplus, ferg, mug, synthetic"),
            root: Path | None = typer.Argument(None, help="the corpus folder (synthetic: optional)"),
            check_files: bool = typer.Option(False, "--check-files", help="open every file; list unreadable ones"),
            as_json: bool = typer.Option(False, "--json", help="print the summary as JSON")) -> None:
    """Counts per speaker, gender and emotion, and the problems found.

    Example: privemo data inspect ravdess ../shared/data/ravdess --check-files
    """
    from privemo.corpora import load

    with friendly_errors():
        manifest = load(corpus, root, skip_bad=check_files) if corpus != "synthetic" else load(corpus, root)
        s = manifest.summary()
        problems = manifest.skipped
        if as_json:
            print(json.dumps({**s, "problems": problems}, indent=1))
            return
        console.print(f"[bold]{safe_text(corpus)}[/] at {safe_text(root)}: {s['items']} items, {s['speakers']} speakers "
                      f"({s['speakers_by_gender']['m']} m / {s['speakers_by_gender']['f']} f / "
                      f"{s['speakers_by_gender']['unknown']} unknown), media {s['media']}")
        t = Table(title="emotions")
        t.add_column("emotion")
        t.add_column("items", justify="right")
        for k, v in s["emotions"].items():
            t.add_row(k, str(v))
        console.print(t)
        per = s["items_per_speaker"]
        console.print(f"items per speaker: min {min(per.values())}, max {max(per.values())} "
                      f"over {len(per)} speakers")
        if problems:
            console.print(f"[yellow]{len(problems)} problems:[/]")
            for path, why in problems[:50]:
                console.print(f"  {safe_text(path)}: {safe_text(why)}")
        else:
            console.print("no problems found" + ("" if check_files else " (names only; --check-files opens every file)"))
