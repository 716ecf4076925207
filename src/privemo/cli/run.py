"""``privemo run``, ``privemo report`` and ``privemo demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from privemo.cli._common import console, friendly_errors, progress_bar, safe_text

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _print_summary(result: dict) -> None:
    table = Table(title="mean ± std over folds x seeds", show_lines=False)
    for col in ("variant", "evaluator", "UAR", "UAR (m)", "UAR (f)", "privacy P", "chance"):
        table.add_column(col)

    def fmt(e: dict, k: str) -> str:
        v = e.get(k)
        return f"{v['mean']:.3f} ± {v['std']:.3f}" if v else "-"

    for e in result["summary"]:
        key = "accuracy" if e.get("evaluator_type") == "speaker_id" else "uar"
        table.add_row(e["variant"], e["evaluator"] + (" (acc)" if key == "accuracy" else ""), fmt(e, key),
                      fmt(e, "uar_m"), fmt(e, "uar_f"), fmt(e, "privacy"),
                      f"{e['chance']:.3f}" if e.get("chance") else "-")
    console.print(table)
    console.print(f"report: {result['html']}")


def run(config: Path = typer.Argument(..., help="experiment YAML"),
        out: Path | None = typer.Option(None, help="run folder (default runs/<name>)"),
        data_root: Path | None = typer.Option(None, "--data-root", help="corpus roots are relative to this "
                                              "(default $PRIVEMO_DATA, else ../shared/data)"),
        executor: str | None = typer.Option(None, help="local or ray (overrides the config)")) -> None:
    """Run an experiment (folds x seeds x variants); a re-run resumes where it stopped."""
    from privemo.experiments import Runner, load_config, write_report

    with friendly_errors():
        cfg = load_config(config)
        if executor:
            cfg = cfg.model_copy(update={"executor": executor})
        with progress_bar() as prog:
            runner = Runner(cfg, out, data_root, progress=prog, log=lambda m: console.print(f"[yellow]{safe_text(m)}"))
            runner.run()
        _print_summary(write_report(runner.run_dir))


def report(run_dir: Path = typer.Argument(..., help="a run folder with results.jsonl")) -> None:
    """Re-draw a run's report (report.html, report.md, summary.json) from its results only."""
    from privemo.experiments import write_report

    with friendly_errors():
        _print_summary(write_report(run_dir))


def demo(out: Path = typer.Option(Path("runs/demo"), help="run folder"),
         config: Path | None = typer.Option(None, help="another demo config (default: the built-in one)"),
         video: bool = typer.Option(True, help="also run the audio-visual pipeline on a few talking-face clips "
                                    "(<out>/video)")) -> None:
    """The main job on the built-in synthetic corpus: emotion utility and gender / identity leakage of
    speech representations; then the audio-visual pipeline on a few clips (faces and voices anonymized,
    emotion from face, voice and late fusion, face and speaker attackers)."""
    from privemo.corpora.synthetic import default_root, generate

    with friendly_errors():
        cfg_path = config or CONFIGS / "demo.yaml"
        console.print(f"[bold]privemo demo[/]: generating the synthetic corpus in {default_root()} (once)")
        with progress_bar() as prog:
            generate(progress=lambda i, n: prog("synthetic speakers", i, n))
        run(cfg_path, out, None, None)
        if video:
            from privemo.experiments.video.config import load_video_config
            from privemo.experiments.video.runner import VideoEvaluation

            console.print("[bold]privemo demo[/]: the audio-visual pipeline on the demo talking faces "
                          "(configs/video/demo.yaml)")
            vcfg = load_video_config(CONFIGS / "video" / "demo.yaml")
            with progress_bar() as prog:
                result = VideoEvaluation(vcfg, out / "video", Path("."), progress=prog,
                                         log=lambda m: console.print(m, markup=False, highlight=False)).run()
            console.print(Path(result["report"]).read_text(), markup=False, highlight=False)
            console.print(f"reports: {out / 'report.html'} (speech representations) and "
                          f"{Path(result['report']).with_suffix('.html')} (audio-visual)")


KINDS = ("experiment", "voice", "face", "video", "vgan", "federated")


def config_kind(data: object) -> str:
    """Which command a parsed config is for, from its keys."""
    if not isinstance(data, dict):
        return "experiment"
    if "evaluators" in data:
        return "experiment"
    if "rounds" in data or "loso" in data or "strategy" in data or "attack" in data:
        return "federated"
    if "narula" in data or "anonymizers" in data:
        return "face"
    if "attacks" in data or "left_out" in data or "test_fraction" in data or "model" in data:
        return "vgan"
    methods = data.get("methods")
    if isinstance(methods, list) and any(isinstance(m, dict) and ("face" in m or "voice" in m) for m in methods):
        return "video"
    return "voice" if "methods" in data else "experiment"


def check(config: Path = typer.Argument(..., help="any privemo config YAML"),
          kind: str = typer.Option("auto", help="auto (from its keys), " + ", ".join(KINDS))) -> None:
    """Validate a config without running it: every key, range and component parameter, in a second.

    Example: privemo check configs/voice/ravdess.yaml
    """
    from privemo.errors import ConfigError
    from privemo.experiments.config import parse_config, read_yaml

    with friendly_errors():
        if kind != "auto" and kind not in KINDS:
            raise ConfigError(f"--kind: {kind!r} is not one of auto, {', '.join(KINDS)}")
        data, source = read_yaml(config)
        kind = config_kind(data) if kind == "auto" else kind
        cfg: Any
        if kind == "experiment":
            cfg = parse_config(data, source)
        else:
            from privemo.experiments.face.config import load_face_config
            from privemo.experiments.federated.config import load_federated_config
            from privemo.experiments.vgan.config import load_vgan_config
            from privemo.experiments.video.config import load_video_config
            from privemo.experiments.voice.config import load_voice_config

            loaders = {"voice": load_voice_config, "face": load_face_config, "video": load_video_config,
                       "vgan": load_vgan_config, "federated": load_federated_config}
            cfg = loaders[kind](config)
        console.print(f"{config}: a valid {kind} config ({cfg.name})", markup=False, highlight=False)
