"""``privemo features extract``: compute (and cache) features of a corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from privemo.cli._common import console, friendly_errors, progress_bar, safe_text

app = typer.Typer(help="Features: extract and cache.", no_args_is_help=True)


@app.command()
def extract(corpus: str = typer.Argument(..., help="corpus type"),
            root: Path | None = typer.Argument(None, help="the corpus folder"),
            feature: str = typer.Option("egemaps", "--feature", "-f",
                                        help="mfb, mfcc, egemaps, egemaps_lld, compare, compare_lld, glove, face_crop"),
            out: Path | None = typer.Option(None, help="also save all features to this .npz"),
            skip_bad: bool = typer.Option(False, "--skip-bad", help="go on past unreadable files")) -> None:
    """Extract a feature for every item (cached by content hash; a re-run reads the cache).

    Example: privemo features extract ravdess ../shared/data/ravdess -f egemaps
    """
    from privemo.corpora import load
    from privemo.features import FeatureCache
    from privemo.features import extract as run_extract

    with friendly_errors():
        manifest = load(corpus, root)
        cache = FeatureCache()
        with progress_bar() as prog:
            feats = run_extract(manifest, {"type": feature}, cache, skip_bad=skip_bad,
                                progress=lambda i, n: prog(f"{feature}", i, n))
        console.print(f"{len(manifest)} items; cache {cache.root}: {cache.hits} hits, {cache.misses} computed; "
                      f"{len(feats.failed)} failed")
        for path, why in feats.failed[:20]:
            console.print(f"[yellow]  {safe_text(path)}: {safe_text(why)}")
        if out:
            keep = [i for i, v in enumerate(feats.values) if v is not None]
            arrays: dict[str, np.ndarray] = {f"{i:06d}": np.asarray(feats.values[i]) for i in keep}
            arrays["item_id"] = manifest.df["item_id"].to_numpy(dtype=str)[keep]
            from privemo._files import atomic_path

            with atomic_path(out) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
            console.print(f"saved {out}")
