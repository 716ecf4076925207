"""``privemo anonymize [voice|face|video] SRC OUT``: anonymize a file or a folder with a registered
method; without the kind, it is guessed from the input's files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
import typer
import typer.core

from privemo.cli._common import console, friendly_errors, progress_bar, safe_text
from privemo.media.video import X264_PRESETS
from privemo.registry import names

KINDS = ("voice", "face", "video")


def guess_media(src: Path) -> str:
    """'voice', 'face' or 'video' from a file's suffix (a .webm by its streams), or, for a folder, the
    kind most of its media files are; a ConfigError naming the path where nothing fits."""
    from privemo.anonymize.batch import AUDIO_SUFFIXES
    from privemo.anonymize.face_batch import IMAGE_SUFFIXES
    from privemo.errors import ConfigError
    from privemo.media.video import VIDEO_SUFFIXES

    def kind(p: Path) -> str | None:
        suffix = p.suffix.lower()
        if suffix in VIDEO_SUFFIXES and suffix in AUDIO_SUFFIXES:
            try:
                import av

                with av.open(str(p)) as c:
                    return "video" if c.streams.video else "voice"
            except Exception:  # noqa: BLE001 (unreadable: the chosen command names the problem)
                return "video"
        return ("video" if suffix in VIDEO_SUFFIXES else "voice" if suffix in AUDIO_SUFFIXES
                else "face" if suffix in IMAGE_SUFFIXES else None)

    if src.is_file():
        found = kind(src)
        if found is None:
            raise ConfigError(f"{src}: cannot tell the media from its name (not an audio, image or video suffix); "
                              "say which: privemo anonymize voice|face|video")
        return found
    if not src.is_dir():
        raise ConfigError(f"{src}: no such file or folder")
    counts = dict.fromkeys(KINDS, 0)
    for i, p in enumerate(q for q in src.rglob("*") if q.is_file()):
        if i >= 5000:
            break
        k = kind(p)
        if k:
            counts[k] += 1
    best = max(counts, key=lambda k: counts[k])
    if counts[best] == 0:
        raise ConfigError(f"{src}: no audio, image or video files in this folder")
    return best


class _GuessingGroup(typer.core.TyperGroup):
    """``privemo anonymize SRC OUT ...``: where the first argument is not a kind, the kind is
    guessed from SRC and put in front."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            from privemo.errors import PrivemoError

            try:
                found = guess_media(Path(args[0]))
            except PrivemoError as exc:
                console.print(f"[bold red]error:[/] {safe_text(exc)}")
                raise typer.Exit(2) from None
            console.print(f"anonymize: {safe_text(args[0])} is {found} (guessed from its files; "
                          f"`privemo anonymize {found} ...` says so)", highlight=False)
            args = [found, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_GuessingGroup, no_args_is_help=True, help="""Anonymize media: keep the emotion, remove who it is.

The kind (voice, face or video) is guessed from the input when not given.

Examples:

  privemo anonymize talk.wav talk_anon.wav

  privemo anonymize photos/ photos_anon/ --method face_blur

  privemo anonymize video clips/ clips_anon/ --face face_pixelate --voice mcadams --detect-every 5
""")


@app.command("methods")
def methods_cmd() -> None:
    """List every registered anonymizer (voice and face, yours included once registered) with its parameters.

    Example: privemo anonymize methods
    """
    import inspect

    from privemo.registry import lookup, names

    for media, title in (("audio", "voice (privemo anonymize voice --method NAME)"),
                         ("image", "face (privemo anonymize face --method NAME; video --face NAME)")):
        console.print(f"[bold]{title}[/]", highlight=False)
        for name in names("anonymizer"):
            cls = lookup("anonymizer", name)
            if getattr(cls, "media", "") != media:
                continue
            doc = (inspect.getdoc(cls) or "").split("\n")[0]
            if doc.startswith(f"{cls.__name__}("):  # a dataclass's generated signature, no description
                doc = (inspect.getdoc(inspect.getmodule(cls)) or "").split("\n")[0]
            params = [p for p in inspect.signature(cls).parameters if p != "seed"]
            console.print(f"  {name}: {doc}" + (f" (parameters: {', '.join(params)}, seed)" if params else ""),
                          markup=False, highlight=False)


SPEAKER_FROM = click.Choice(["none", "parent"])
NO_FACE_IMAGE = click.Choice(["whole", "keep", "skip"])
NO_FACE_FRAME = click.Choice(["whole", "keep"])
DETECTOR = click.Choice(names("face_detector"))
EXECUTOR = click.Choice(["local", "ray"])
X264_PRESET = click.Choice(["ffmpeg", *X264_PRESETS])
EXECUTOR_HELP = ("local: --workers processes on this machine; ray: tasks on a Ray cluster (--ray-address, or a "
                 "local Ray with --workers CPUs); the media travel as bytes, outputs are written here")
RAY_ADDRESS_HELP = "with --executor ray: a running cluster, 'auto', 'ray://host:port' or 'host:port'"


def _executor(kind: str, workers: int, address: str | None):  # noqa: ANN202
    from privemo.executors import make_executor

    return make_executor(kind, workers, address, where="--executor")
DETECTOR_HELP = ("the face front-end: dlib (HOG detector) or mediapipe (BlazeFace, several times faster on "
                 "video frames)")


@app.command("voice")
def voice_cmd(src: Path = typer.Argument(..., help="an audio file or a folder (searched recursively)"),
              out: Path = typer.Argument(..., help="the output file (for a file) or folder (layout and names kept)"),
              method: str = typer.Option("pseudo_speaker", "--method", "-m",
                                         help="a registered voice anonymizer (`privemo anonymize methods` lists them)"),
              param: list[str] = typer.Option([], "--param", "-p", help="a method option as key=value (YAML "
                                              "value), e.g. -p k=64 or -p alpha_range=[0.75,0.9]"),
              speaker_from: str = typer.Option("none", click_type=SPEAKER_FROM, help="'parent': a file's folder names its speaker "
                                                       "(methods with per-speaker statistics use it); 'none': every "
                                                       "clip alone"),
              fit_on: Path | None = typer.Option(None, help="fit the method on this folder instead of the input"),
              sr: int | None = typer.Option(None, min=4000, max=384000, help="output sample rate (default: the "
                                            "input's)"),
              workers: int = typer.Option(1, min=1, max=256, help="processes (local) or CPUs of a local Ray"),
              executor: str = typer.Option("local", click_type=EXECUTOR, help=EXECUTOR_HELP),
              ray_address: str | None = typer.Option(None, help=RAY_ADDRESS_HELP),
              stop_on_error: bool = typer.Option(False, help="stop at the first bad file (default: report it, "
                                                 "go on)")) -> None:
    """Anonymize voices. Re-running resumes: outputs already written are kept.

    Examples:

      privemo anonymize voice talk.wav talk_anon.wav --method mcadams -p alpha=0.8

      privemo anonymize voice corpus/ corpus_anon/ --speaker-from parent --workers 2
    """
    from privemo.anonymize import create_anonymizer
    from privemo.anonymize.batch import anonymize_files, audio_files, folder_manifest

    with friendly_errors():
        runner = _executor(executor, workers, ray_address)
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
                                     progress=lambda i, n: prog(f"{method}", i, n), executor=runner)
        for path, why in result.failed:
            console.print(f"[yellow]skipped[/] {safe_text(why if why.startswith(path) else f'{path}: {why}')}")
        console.print(json.dumps(result.as_dict()))
        if result.failed:
            raise typer.Exit(1)


FIT_ON_HELP = ("face_autoencoder: learn from the faces in this folder (default: the input's faces); pseudo_face "
               "(required): faces of OTHER people, its pool of pseudo-identities, one subfolder per person")
FIT_CORPUS_HELP = "pseudo_face: read --fit-on with this corpus loader (e.g. ckplus, yale), whose speakers name the people"
FIT_CROPS_HELP = "the --fit-on images are face crops already (e.g. CK+48): used whole, no detection"


def _fit_face(anonymizer, method: str, src: Path, fit_on: Path | None, fit_corpus: str | None, fit_crops: bool,  # noqa: ANN001
              model: Path | None, save_model: Path | None, overrides: dict | None = None):  # noqa: ANN202
    """A learning face anonymizer loaded from ``model`` or fitted (on --fit-on, else the input's faces;
    pseudo_face only on other people's), saved to ``save_model`` if asked."""
    import torch

    from privemo.anonymize.face_batch import fit_faces, image_files, load_face_model, pool_files
    from privemo.errors import ConfigError

    if model is not None:
        return load_face_model(model, overrides, anonymizer.name)
    if anonymizer.fits_on_others and fit_on is None:
        raise ConfigError(f"{method} makes its pseudo-identities from other people's faces: give --fit-on a folder "
                          "of them (one subfolder per person, or --fit-corpus TYPE), or --model a fitted one")
    if anonymizer.fits_on_others:
        files, subjects = pool_files(fit_on, fit_corpus)  # type: ignore[arg-type]
    else:
        files, _ = image_files(fit_on or src)
        subjects = None
    size = int(getattr(anonymizer, "size", 64))
    with progress_bar() as prog:
        fit_faces(anonymizer, files, size, lambda i, n: prog("finding faces to fit on", i, n), subjects, fit_crops)
    losses = getattr(anonymizer, "losses_", None)
    console.print(f"fitted on faces from {safe_text(str(fit_on or src))}"
                  + (f": final loss {losses[-1]:.4f}" if losses else ""))
    if save_model is not None:
        from privemo._files import atomic_path

        with atomic_path(save_model) as tmp:
            torch.save(anonymizer.state_dict(), tmp)
    return anonymizer


@app.command("face")
def face_cmd(src: Path = typer.Argument(..., help="an image file or a folder (searched recursively)"),
             out: Path = typer.Argument(..., help="the output file (for a file) or folder (layout and names kept)"),
             method: str = typer.Option("face_pixelate", "--method", "-m",
                                        help="a registered face anonymizer (`privemo anonymize methods` lists them; "
                                        "vgan = face_vgan, PPRL-VGAN identity replacement, needs --model)"),
             param: list[str] = typer.Option([], "--param", "-p", help="a method option as key=value, e.g. "
                                             "-p sigma=6 or -p block=12 or -p epochs=100"),
             fit_on: Path | None = typer.Option(None, help=FIT_ON_HELP),
             fit_corpus: str | None = typer.Option(None, help=FIT_CORPUS_HELP),
             fit_crops: bool = typer.Option(False, help=FIT_CROPS_HELP),
             model: Path | None = typer.Option(None, help="face_autoencoder, pseudo_face: load this fitted model "
                                               "(written by --save-model) instead of fitting; vgan: the model.pt "
                                               "written by `privemo vgan train`"),
             save_model: Path | None = typer.Option(None, help="face_autoencoder, pseudo_face: write the fitted "
                                                    "model here"),
             no_face: str = typer.Option("whole", click_type=NO_FACE_IMAGE, help="an image with no detected face: 'whole' (anonymize "
                                                 "the whole image), 'keep' (copy it unchanged) or 'skip' (write "
                                                 "nothing)"),
             detector: str = typer.Option("dlib", click_type=DETECTOR, help=DETECTOR_HELP),
             margin: float = typer.Option(0.25, min=0.0, max=2.0, help="each face box is enlarged by this fraction "
                                          "on every side"),
             workers: int = typer.Option(1, min=1, max=256, help="processes (local) or CPUs of a local Ray"),
             executor: str = typer.Option("local", click_type=EXECUTOR, help=EXECUTOR_HELP),
             ray_address: str | None = typer.Option(None, help=RAY_ADDRESS_HELP),
             stop_on_error: bool = typer.Option(False, help="stop at the first bad file")) -> None:
    """Anonymize every face in images: found by dlib, anonymized, pasted back with a soft edge. Resumes.

    Examples:

      privemo anonymize face photo.jpg photo_anon.jpg --method face_blur -p sigma=8

      privemo anonymize face faces/ faces_anon/ --method face_autoencoder --save-model ae.pt

      privemo anonymize face faces/ faces_anon/ --method pseudo_face --fit-on others/ --fit-corpus ckplus --fit-crops
    """
    from privemo.anonymize.face import FaceAnonymizer, create_face_anonymizer
    from privemo.anonymize.face_batch import anonymize_face_files
    from privemo.anonymize.face_vgan import FaceVgan

    with friendly_errors():
        _finite(margin=margin)
        runner = _executor(executor, workers, ray_address)
        method = "face_vgan" if method == "vgan" else method
        spec = _spec(method, param)
        if method == "face_vgan" and model is not None:
            spec["model"] = str(model)
        anonymizer: FaceAnonymizer = create_face_anonymizer(spec)
        if isinstance(anonymizer, FaceVgan):
            anonymizer.fit([])  # loads the model: a missing or foreign file is named before any work
        elif model is not None or anonymizer.learns:
            anonymizer = _fit_face(anonymizer, method, src, fit_on, fit_corpus, fit_crops, model, save_model,
                                   {k: v for k, v in spec.items() if k != "type"})
        with progress_bar() as prog:
            result = anonymize_face_files(anonymizer, src, out, no_face, margin, skip_bad=not stop_on_error,
                                          progress=lambda i, n: prog(method, i, n), detector=detector,
                                          executor=runner)
        for path in result.no_face:
            console.print(f"[yellow]no face found[/] {safe_text(path)} ({'whole image anonymized' if no_face == 'whole' else no_face})")
        for path, why in result.failed:
            console.print(f"[yellow]skipped[/] {safe_text(why if why.startswith(path) else f'{path}: {why}')}")
        console.print(json.dumps(result.as_dict()))
        if result.failed:
            raise typer.Exit(1)


@app.command("video")
def video_cmd(src: Path = typer.Argument(..., help="a video file (mp4, flv, avi, mkv, mov, webm, ...) or a folder "
                                         "(searched recursively)"),
              out: Path = typer.Argument(..., help="the output file (for a file) or folder (layout and names kept; "
                                         "containers privemo cannot write become .mp4)"),
              face: str = typer.Option("face_pixelate", "--face", help="a registered face anonymizer (`privemo "
                                       "anonymize methods`; vgan = face_vgan, needs --model)"),
              voice: str = typer.Option("mcadams", "--voice", help="a registered voice anonymizer (`privemo "
                                        "anonymize methods`)"),
              face_param: list[str] = typer.Option([], "--face-param", "-P", help="a face method option, key=value "
                                                   "(e.g. -P block=12)"),
              voice_param: list[str] = typer.Option([], "--voice-param", "-p", help="a voice method option, "
                                                    "key=value (e.g. -p alpha=0.8)"),
              model: Path | None = typer.Option(None, help="vgan: the model.pt of `privemo vgan train`; pseudo_face: "
                                                "a model written by `privemo anonymize face --save-model`"),
              fit_on: Path | None = typer.Option(None, help="pseudo_face: faces of OTHER people (its pool), one "
                                                 "subfolder per person"),
              fit_corpus: str | None = typer.Option(None, help=FIT_CORPUS_HELP),
              fit_crops: bool = typer.Option(False, help=FIT_CROPS_HELP),
              fps: float | None = typer.Option(None, min=1.0, max=240.0, help="output frame rate (default: the "
                                               "source's)"),
              detect_every: int = typer.Option(1, min=1, max=1000, help="run the face detector on every k-th frame "
                                               "and track in between (faster; k <= 5 keeps up with head motion)"),
              detect_width: int = typer.Option(320, min=32, max=8192, help="frames are scaled to this width for "
                                               "detection"),
              upsample: int = typer.Option(1, min=0, max=3, help="dlib's detector upsampling: 1 finds faces down to "
                                           "about 1/8 of --detect-width; 0 is about 5x faster and finds faces of 1/4 "
                                           "and up (talking heads)"),
              detector: str = typer.Option("dlib", click_type=DETECTOR, help=DETECTOR_HELP),
              no_face: str = typer.Option("whole", click_type=NO_FACE_FRAME, help="a frame with no tracked face: 'whole' (anonymize "
                                                  "the whole frame) or 'keep' (leave it)"),
              margin: float = typer.Option(0.25, min=0.0, max=2.0, help="each face box is enlarged by this fraction "
                                           "on every side"),
              speaker_from: str = typer.Option("none", click_type=SPEAKER_FROM, help="'parent': a file's folder names its speaker"),
              workers: int = typer.Option(1, min=1, max=256, help="processes (local) or CPUs of a local Ray"),
              executor: str = typer.Option("local", click_type=EXECUTOR, help=EXECUTOR_HELP),
              ray_address: str | None = typer.Option(None, help=RAY_ADDRESS_HELP),
              preset: str = typer.Option("ultrafast", click_type=X264_PRESET, help="x264's speed / size trade-off "
                                         "for mp4, mkv and mov outputs (ultrafast, with OpenCV's colour conversions: "
                                         "the fast path; 'ffmpeg': FFmpeg's and x264's defaults, slower: "
                                         "bench/bench_video.py)"),
              stop_on_error: bool = typer.Option(False, help="stop at the first bad file")) -> None:
    """Anonymize the faces (found, tracked, pasted back softly) and the voice of videos; same timing, frame
    size and audio length. Re-running resumes: outputs already written are kept.

    Examples:

      privemo anonymize video interview.mp4 interview_anon.mp4

      privemo anonymize video clips/ clips_anon/ --face face_blur --voice pseudo_speaker --detect-every 5
    """
    from privemo.anonymize import create_anonymizer
    from privemo.anonymize.face import create_face_anonymizer
    from privemo.anonymize.video import TrackerConfig, anonymize_video_files, fit_on_videos, video_files

    with friendly_errors():
        _finite(margin=margin, fps=fps)
        runner = _executor(executor, workers, ray_address)
        face = "face_vgan" if face == "vgan" else face
        fspec = _spec(face, face_param)
        if face == "face_vgan" and model is not None:
            fspec["model"] = str(model)
        face_anon = create_face_anonymizer(fspec)
        if face_anon.fits_on_others:
            face_anon = _fit_face(face_anon, face, src, fit_on, fit_corpus, fit_crops, model, None,
                                  {k: v for k, v in fspec.items() if k not in ("type", "model")})
        voice_anon = create_anonymizer(_spec(voice, voice_param))
        tracker = TrackerConfig(detect_every=detect_every, detect_width=detect_width, upsample=upsample,
                                detector=detector)
        files, _ = video_files(src)
        with progress_bar() as prog:
            fit_on_videos(face_anon, voice_anon, files, speaker_from=speaker_from,
                          progress=lambda i, n: prog("fitting on the clips", i, n),
                          fit_face=not face_anon.fits_on_others)
            result = anonymize_video_files(face_anon, voice_anon, src, out, fps, tracker, margin, no_face,
                                           speaker_from, skip_bad=not stop_on_error,
                                           progress=lambda i, n, d="": prog(f"{face} + {voice}", i, n, d),
                                           executor=runner, preset=None if preset == "ffmpeg" else preset)
        for path, why in result.failed:
            console.print(f"[yellow]skipped[/] {safe_text(why if why.startswith(path) else f'{path}: {why}')}")
        console.print(json.dumps(result.totals()))
        if result.failed:
            raise typer.Exit(1)


def _finite(**values: float | None) -> None:
    """NaN passes typer's ranges (every comparison is false): refuse it by name."""
    from privemo.errors import ConfigError

    for name, v in values.items():
        if v is not None and not math.isfinite(v):
            raise ConfigError(f"--{name.replace('_', '-')}: must be a finite number, got {v}")


def _spec(method: str, params: list[str]) -> dict:
    import yaml

    from privemo.errors import ConfigError

    spec: dict = {"type": method}
    for p in params:
        if "=" not in p:
            raise ConfigError(f"--param {p!r}: expected key=value")
        k, v = p.split("=", 1)
        if not k.strip():
            raise ConfigError(f"--param {p!r}: expected key=value (the key is empty)")
        try:
            spec[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--param {p!r}: the value is not valid YAML ({exc})") from None
    return spec
