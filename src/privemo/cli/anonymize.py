"""``privemo anonymize voice``: anonymize a file or a folder of audio with a registered method."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from privemo.cli._common import console, friendly_errors, progress_bar

app = typer.Typer(help="Anonymize media: keep the emotion, remove who it is.", no_args_is_help=True)


@app.command("voice")
def voice_cmd(src: Path = typer.Argument(..., help="an audio file or a folder (searched recursively)"),
              out: Path = typer.Argument(..., help="the output file (for a file) or folder (layout and names kept)"),
              method: str = typer.Option("pseudo_speaker", "--method", "-m",
                                         help="original, mcadams, voice_vq, noise or pseudo_speaker"),
              param: list[str] = typer.Option([], "--param", "-p", help="a method option as key=value (YAML "
                                              "value), e.g. -p k=64 or -p alpha_range=[0.75,0.9]"),
              speaker_from: str = typer.Option("none", help="'parent': a file's folder names its speaker (methods "
                                               "with per-speaker statistics use it); 'none': every clip alone"),
              fit_on: Path | None = typer.Option(None, help="fit the method on this folder instead of the input"),
              sr: int | None = typer.Option(None, help="output sample rate (default: the input's)"),
              workers: int = typer.Option(1, help="processes"),
              stop_on_error: bool = typer.Option(False, help="stop at the first bad file (default: report it, "
                                                 "go on)")) -> None:
    """Anonymize voices. Re-running resumes: outputs already written are kept."""
    import yaml

    from privemo.anonymize import create_anonymizer
    from privemo.anonymize.batch import anonymize_files, audio_files, folder_manifest
    from privemo.errors import ConfigError

    with friendly_errors():
        spec: dict = {"type": method}
        for p in param:
            if "=" not in p:
                raise ConfigError(f"--param {p!r}: expected key=value")
            k, v = p.split("=", 1)
            spec[k.strip()] = yaml.safe_load(v)
        anonymizer = create_anonymizer(spec)
        fit_manifest = None
        if fit_on is not None:
            files, root = audio_files(fit_on)
            fit_manifest = folder_manifest(files, root, speaker_from)
        fit_speakers = (fit_manifest if fit_manifest is not None else
                        folder_manifest(*audio_files(src), speaker_from)).df["speaker"].nunique()
        if method == "pseudo_speaker" and (speaker_from == "none" or fit_speakers < 4):
            console.print("[yellow]note:[/] pseudo_speaker learns its target voice from the speakers it is "
                          f"fitted on ({fit_speakers} here); fit it on a folder of many speakers with "
                          "--fit-on DIR --speaker-from parent for a voice that is nobody's own")
        with progress_bar() as prog:
            result = anonymize_files(anonymizer, src, out, sr, speaker_from, fit_manifest, workers,
                                     skip_bad=not stop_on_error,
                                     progress=lambda i, n: prog(f"{method}", i, n))
        for path, why in result.failed:
            console.print(f"[yellow]skipped[/] {why if why.startswith(path) else f'{path}: {why}'}")
        console.print(json.dumps(result.as_dict()))
        if result.failed:
            raise typer.Exit(1)
