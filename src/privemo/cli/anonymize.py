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
    from privemo.anonymize import create_anonymizer
    from privemo.anonymize.batch import anonymize_files, audio_files, folder_manifest

    with friendly_errors():
        anonymizer = create_anonymizer(_spec(method, param))
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


@app.command("face")
def face_cmd(src: Path = typer.Argument(..., help="an image file or a folder (searched recursively)"),
             out: Path = typer.Argument(..., help="the output file (for a file) or folder (layout and names kept)"),
             method: str = typer.Option("face_pixelate", "--method", "-m",
                                        help="face_blur, face_pixelate, face_autoencoder or vgan (= face_vgan: "
                                        "PPRL-VGAN identity replacement; needs --model)"),
             param: list[str] = typer.Option([], "--param", "-p", help="a method option as key=value, e.g. "
                                             "-p sigma=6 or -p block=12 or -p epochs=100"),
             fit_on: Path | None = typer.Option(None, help="face_autoencoder: learn from the faces in this folder "
                                                "(default: the input's faces)"),
             model: Path | None = typer.Option(None, help="face_autoencoder: load this trained model (written by "
                                               "--save-model) instead of fitting; vgan: the model.pt written by "
                                               "`privemo vgan train`"),
             save_model: Path | None = typer.Option(None, help="face_autoencoder: write the fitted model here"),
             no_face: str = typer.Option("whole", help="an image with no detected face: 'whole' (anonymize the "
                                         "whole image), 'keep' (copy it unchanged) or 'skip' (write nothing)"),
             margin: float = typer.Option(0.25, help="each face box is enlarged by this fraction on every side"),
             stop_on_error: bool = typer.Option(False, help="stop at the first bad file")) -> None:
    """Anonymize every face in images: found by dlib, anonymized, pasted back with a soft edge. Resumes."""
    import torch

    from privemo.anonymize.face import FaceAnonymizer, FaceAutoencoder
    from privemo.anonymize.face_batch import anonymize_face_files, fit_faces, image_files
    from privemo.anonymize.face_vgan import FaceVgan
    from privemo.errors import ConfigError
    from privemo.experiments.face.runner import create_face_anonymizer

    with friendly_errors():
        method = "face_vgan" if method == "vgan" else method
        spec = _spec(method, param)
        if method == "face_vgan" and model is not None:
            spec["model"] = str(model)
        anonymizer: FaceAnonymizer = create_face_anonymizer(spec)
        if isinstance(anonymizer, FaceVgan):
            anonymizer.fit([])  # loads the model: a missing or foreign file is named before any work
        elif isinstance(anonymizer, FaceAutoencoder):
            if model is not None:
                try:
                    state = torch.load(model, map_location="cpu", weights_only=True)
                    anonymizer = FaceAutoencoder(**{k: v for k, v in state["config"].items() if k != "type"})
                    anonymizer.load_state(state)
                except Exception as exc:  # any unreadable or foreign file  # noqa: BLE001
                    raise ConfigError(f"{model}: not a face_autoencoder model written by --save-model ({exc})") from exc
            else:
                files, _ = image_files(fit_on or src)
                with progress_bar() as prog:
                    fit_faces(anonymizer, files, anonymizer.size, lambda i, n: prog("finding faces to fit on", i, n))
                console.print(f"fitted on faces from {fit_on or src}: final loss {anonymizer.losses_[-1]:.4f}")
                if save_model is not None:
                    save_model.parent.mkdir(parents=True, exist_ok=True)
                    torch.save(anonymizer.state_dict(), save_model)
        with progress_bar() as prog:
            result = anonymize_face_files(anonymizer, src, out, no_face, margin, skip_bad=not stop_on_error,
                                          progress=lambda i, n: prog(method, i, n))
        for path in result.no_face:
            console.print(f"[yellow]no face found[/] {path} ({'whole image anonymized' if no_face == 'whole' else no_face})")
        for path, why in result.failed:
            console.print(f"[yellow]skipped[/] {why if why.startswith(path) else f'{path}: {why}'}")
        console.print(json.dumps(result.as_dict()))
        if result.failed:
            raise typer.Exit(1)


def _spec(method: str, params: list[str]) -> dict:
    import yaml

    from privemo.errors import ConfigError

    spec: dict = {"type": method}
    for p in params:
        if "=" not in p:
            raise ConfigError(f"--param {p!r}: expected key=value")
        k, v = p.split("=", 1)
        spec[k.strip()] = yaml.safe_load(v)
    return spec
