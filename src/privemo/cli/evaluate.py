"""``privemo evaluate voice CONFIG``: every voice anonymizer of a config, judged side by side."""

from __future__ import annotations

from pathlib import Path

import typer

from privemo.cli._common import friendly_errors

app = typer.Typer(help="Evaluate anonymizers and private models with attackers and utility models.",
                  no_args_is_help=True)


def with_executor(cfg, executor: str | None, ray_address: str | None):  # noqa: ANN001, ANN201
    """``cfg`` with the command line's executor settings, validated like the config's."""
    if executor is None and ray_address is None:
        return cfg
    data = cfg.model_dump(mode="json")
    data.update({k: v for k, v in (("executor", executor), ("ray_address", ray_address)) if v is not None})
    from privemo.experiments.config import validate_mapping

    return validate_mapping(type(cfg), data, "the command line")


@app.command("voice")
def voice_cmd(config: Path = typer.Argument(..., help="voice evaluation YAML (e.g. configs/voice/ravdess.yaml); with "
                                           "--report, a run folder"),
              out: Path | None = typer.Option(None, help="run folder (default runs/<name>)"),
              data_root: Path | None = typer.Option(None, "--data-root", help="corpus roots are relative to this "
                                                    "(default $PRIVEMO_DATA, else ../shared/data)"),
              method: list[str] = typer.Option([], "--method", help="evaluate only these methods (repeatable)"),
              report_only: bool = typer.Option(False, "--report", help="only re-draw the report of a run"),
              force: bool = typer.Option(False, "--force", help="redo the finished methods whose configuration "
                                         "changed (without it, such a resume is refused)"),
              executor: str | None = typer.Option(None, help="local or ray: where the anonymization runs "
                                                  "(overrides the config's)"),
              ray_address: str | None = typer.Option(None, help="with ray: a running cluster (auto, "
                                                     "ray://host:port, host:port)")) -> None:
    """Anonymize the corpus with every method, attack it, measure emotion; resumes when re-run (a method
    whose parameters changed under the same name is refused, or redone with --force).

    Example: privemo evaluate voice configs/voice/ravdess.yaml   (RAVDESS under ../shared/data, or --data-root DIR)
    """
    from privemo.cli.run import run_job, show_report

    with friendly_errors():
        if report_only:
            show_report("voice", config)
        else:
            run_job("voice", config, out, data_root, method, force, executor, ray_address)


@app.command("face")
def face_cmd(config: Path = typer.Argument(..., help="face evaluation YAML (e.g. configs/face/yale.yaml); with "
                                          "--report, a run folder"),
             out: Path | None = typer.Option(None, help="run folder (default runs/<name>)"),
             data_root: Path | None = typer.Option(None, "--data-root", help="corpus roots are relative to this "
                                                   "(default $PRIVEMO_DATA, else ../shared/data)"),
             part: list[str] = typer.Option([], "--part", help="only this part: narula or anonymizers (repeatable)"),
             method: list[str] = typer.Option([], "--method", help="only these anonymizer methods (and the "
                                              "original they are judged against; repeatable)"),
             report_only: bool = typer.Option(False, "--report", help="only re-draw the report of a run"),
             force: bool = typer.Option(False, "--force", help="redo the finished units whose configuration "
                                        "changed (without it, such a resume is refused)"),
             executor: str | None = typer.Option(None, help="local or ray: where the anonymizers transform the "
                                                 "faces (overrides the config's)"),
             ray_address: str | None = typer.Option(None, help="with ray: a running cluster (auto, "
                                                    "ray://host:port, host:port)")) -> None:
    """narula-2020's adversarial face model and the face anonymizers, judged by the same attackers;
    resumes when re-run (a unit whose configuration changed is refused, or redone with --force).

    Example: privemo evaluate face configs/face/yale.yaml   (Yale under ../shared/data, or --data-root DIR)
    """
    from privemo.cli.run import run_job, show_report
    from privemo.errors import ConfigError

    with friendly_errors():
        bad = set(part) - {"narula", "anonymizers"}
        if bad:  # before the config is read
            raise ConfigError(f"--part: unknown {sorted(bad)}; choose narula or anonymizers")
        if report_only:
            show_report("face", config)
        else:
            run_job("face", config, out, data_root, [*part, *method], force, executor, ray_address)


@app.command("video")
def video_cmd(config: Path = typer.Argument(..., help="audio-visual evaluation YAML (e.g. configs/video/demo.yaml); "
                                           "with --report, a run folder"),
              out: Path | None = typer.Option(None, help="run folder (default runs/<name>)"),
              data_root: Path | None = typer.Option(None, "--data-root", help="corpus roots are relative to this "
                                                    "(default $PRIVEMO_DATA, else ../shared/data)"),
              method: list[str] = typer.Option([], "--method", help="evaluate only these methods (repeatable)"),
              report_only: bool = typer.Option(False, "--report", help="only re-draw the report of a run"),
              force: bool = typer.Option(False, "--force", help="redo the finished methods whose configuration "
                                         "changed (without it, such a resume is refused)"),
              executor: str | None = typer.Option(None, help="local or ray: where the clips are anonymized "
                                                  "(overrides the config's)"),
              ray_address: str | None = typer.Option(None, help="with ray: a running cluster (auto, "
                                                     "ray://host:port, host:port)")) -> None:
    """ranade's audio-visual pipeline: anonymize faces and voices of video clips, emotion from face, voice
    and late fusion, face and speaker attackers; resumes when re-run (a method whose configuration
    changed is refused, or redone with --force).

    Example: privemo evaluate video configs/video/demo.yaml
    """
    from privemo.cli.run import run_job, show_report

    with friendly_errors():
        if report_only:
            show_report("video", config)
        else:
            run_job("video", config, out, data_root, method, force, executor, ray_address)
