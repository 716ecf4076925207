"""``privemo run``, ``privemo report`` and ``privemo demo``."""

from __future__ import annotations

from pathlib import Path

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


def run(config: Path = typer.Argument(..., help="any privemo config YAML: an experiment, or a voice, face, "
                                     "audio-visual, PPRL-VGAN or federated evaluation"),
        out: Path | None = typer.Option(None, help="run folder (default runs/<name>)"),
        data_root: Path | None = typer.Option(None, "--data-root", help="corpus roots are relative to this "
                                              "(default $PRIVEMO_DATA, else ../shared/data)"),
        only: list[str] = typer.Option([], "--only", help="run only these units, by name (repeatable): methods "
                                       "(voice, video, face anonymizers), parts (face: narula, anonymizers) or variants "
                                       "(experiment)"),
        executor: str | None = typer.Option(None, help="local or ray (overrides the config's; every job but "
                                            "a federated run has one)"),
        ray_address: str | None = typer.Option(None, help="with ray: a running cluster (auto, ray://host:port, "
                                               "host:port; default: a local Ray)"),
        force: bool = typer.Option(False, "--force", help="redo the finished units whose configuration "
                                   "changed (without it, such a resume is refused)")) -> None:
    """Run any config: an experiment (folds x seeds x variants), or the evaluation its keys name (voice,
    face, audio-visual, PPRL-VGAN, federated: the same as `privemo evaluate ...`, `vgan evaluate`,
    `federated run`); a re-run resumes where it stopped (a unit whose configuration changed is
    refused, naming the key, or redone with --force).

    Example: privemo run configs/ravdess_jaiswal_table.yaml   (RAVDESS under ../shared/data, or --data-root DIR)
    """
    from privemo.experiments.config import read_yaml
    from privemo.experiments.jobs import config_job

    with friendly_errors():
        data, _ = read_yaml(config)
        run_job(config_job(data).name, config, out, data_root, only, force, executor, ray_address)


def run_job(name: str, config: Path, out: Path | None, data_root: Path | None, only: list[str], force: bool,
            executor: str | None = None, ray_address: str | None = None, verbose: bool = False) -> None:
    """Run the job ``name`` on a config file and show its report: what every run command calls."""
    from privemo.errors import ConfigError
    from privemo.experiments.config import data_root as default_root
    from privemo.experiments.jobs import job

    j = job(name)
    if (executor or ray_address) and not j.executor:
        raise ConfigError(f"--executor: a {j.name} run has no executor setting (its clients run on Flower's "
                          "simulation, or on SuperNodes with `privemo federated deploy`)")
    cfg = j.load(config)
    if executor or ray_address:
        from privemo.cli.evaluate import with_executor

        cfg = with_executor(cfg, executor, ray_address)
    run_dir = out or Path("runs") / cfg.name
    with progress_bar() as prog:
        runner = j.attr("runner")(cfg, run_dir, default_root(data_root), progress=prog,
                                  log=lambda m: console.print(m, markup=False, highlight=False))
        if verbose:
            runner.verbose = True
        runner.run(only, force)
    show_report(j.name, runner.run_dir)


def show_report(name: str, run_dir: Path) -> None:
    """Draw the report of a run folder of the job ``name`` and show it."""
    from privemo.experiments.jobs import job

    result = job(name).attr("report")(run_dir)
    if name == "representation":
        _print_summary(result)
        return
    text = result["markdown"] if "markdown" in result else Path(result["report"]).read_text()
    console.print(text, markup=False, highlight=False)
    html = result.get("html") or Path(result["report"]).with_suffix(".html")
    console.print(f"report: {html}", markup=False, highlight=False)


def report(run_dir: Path = typer.Argument(..., help="a run folder with results.jsonl (any job)")) -> None:
    """Re-draw a run's report (report.html, report.md) from its results only, whichever job wrote it.

    Example: privemo report runs/demo
    """
    from privemo.experiments.compare import job_of

    with friendly_errors():
        show_report(job_of(run_dir), Path(run_dir))


def compare(run_dirs: list[Path] = typer.Argument(..., help="run folders of any job (privemo run, evaluate voice|face|"
                                                  "video, vgan evaluate, federated run)"),
            out: Path = typer.Option(..., "--out", help="where the comparison page goes")) -> None:
    """Every protection of several runs on the same axes: one privacy-utility figure per corpus (emotion
    kept against the strongest attacker of each threat, chance marked), from the runs' results alone.

    Example: privemo compare runs/ravdess_voice runs/ravdess_jaiswal_table runs/ravdess_jaiswal_dp --out runs/ravdess_compared
    """
    from privemo.experiments.compare import write_comparison

    with friendly_errors():
        res = write_comparison(list(run_dirs), out)
        console.print(f"{res['points']} points from {', '.join(safe_text(r) for r in res['runs'])}")
        console.print(f"report: {Path(res['report']).with_suffix('.html')}")


def demo(out: Path = typer.Option(Path("runs/demo"), help="run folder"),
         config: Path | None = typer.Option(None, help="another demo config (default: the built-in one)"),
         video: bool = typer.Option(True, help="also run the audio-visual pipeline on a few talking-face clips "
                                    "(<out>/video)")) -> None:
    """The main job on the built-in synthetic corpus, in under 5 minutes on 2 cores: speech, faces and video, one protection per modality against its attackers, and the fused emotion.

    Stage 1 generates the invented people (once). Stage 2 measures speech representations: features, jaiswal-2020's Gen and Priv (a gender adversary behind gradient reversal), against fresh gender and identity attackers (configs/demo.yaml). Stage 3 anonymizes the faces (pixelated) and voices (McAdams) of talking-face clips and measures face, voice and fused emotion against face and speaker attackers (configs/video/demo.yaml). A sample of each medium is left in <out>/samples for `privemo anonymize`.

    Example: privemo demo --out runs/demo   (then open runs/demo/report.html)
    """
    import time

    from privemo.corpora.synthetic import default_root, generate

    start = time.perf_counter()
    stages = 3 if video else 2

    def stage(k: int, what: str) -> None:
        console.print(f"[bold]privemo demo[/] stage {k}/{stages} ({time.perf_counter() - start:.0f} s so far): {what}",
                      highlight=False)

    with friendly_errors():
        cfg_path = config or CONFIGS / "demo.yaml"
        stage(1, f"generating the synthetic corpus in {default_root()} (once)")
        with progress_bar() as prog:
            root = generate(n_speakers=12, items=6, videos=2,
                            progress=lambda i, n: prog("synthetic speakers", i, n))
        _samples(root, out / "samples")
        stage(2, f"speech representations against gender and identity attackers ({cfg_path.name})")
        run_job("representation", cfg_path, out, None, [], False)
        if video:
            stage(3, "faces and voices of talking-face clips anonymized, attacked, emotion fused "
                     "(configs/video/demo.yaml)")
            run_job("video", CONFIGS / "video" / "demo.yaml", out / "video", Path("."), [], False)
            from privemo.experiments.compare import write_comparison

            write_comparison([out, out / "video"], out / "compared")  # every protection of both on one figure
        console.print(f"[bold]privemo demo[/] done in {time.perf_counter() - start:.0f} s. Reports: "
                      f"{out / 'report.html'} (speech representations)"
                      + (f", {out / 'video' / 'report.html'} (audio-visual) and {out / 'compared' / 'report.html'} "
                         "(every protection of both on the same axes)" if video else "")
                      + f"; samples to anonymize: {out / 'samples'}", highlight=False)


def _samples(root: Path, folder: Path) -> None:
    """One clip, one face and one talking-face video of the demo corpus, for `privemo anonymize`."""
    from privemo._files import atomic_write

    picks = {"speech.wav": root / "audio" / "spk00" / "spk00_happy_00.wav",
             "face.png": root / "faces" / "spk01" / "spk01_happy_00.png",
             "talking.mp4": root / "video" / "spk00" / "spk00_happy_00.mp4"}
    for name, src in picks.items():
        if src.is_file() and not (folder / name).is_file():
            atomic_write(folder / name, src.read_bytes())


def check(config: Path = typer.Argument(..., help="any privemo config YAML"),
          kind: str = typer.Option("auto", help="auto (from its keys), or a job's name (privemo check --kind ? "
                                                   "lists them)")) -> None:
    """Validate a config without running it: every key, range and component parameter, in a second.

    Example: privemo check configs/voice/ravdess.yaml
    """
    from privemo.errors import ConfigError
    from privemo.experiments.config import read_yaml
    from privemo.experiments.jobs import config_job, job

    with friendly_errors():
        data, source = read_yaml(config)
        try:
            j = config_job(data) if kind == "auto" else job(kind)
        except ConfigError as exc:
            raise ConfigError(f"--kind: {exc} (or auto)") from None
        cfg = j.attr("parse")(data, source)
        console.print(f"{config}: a valid {j.name} config ({cfg.name})", markup=False, highlight=False)
