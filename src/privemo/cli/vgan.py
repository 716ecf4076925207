"""``privemo vgan train|evaluate|figures CONFIG``: PPRL-VGAN (chen-2018)."""

from __future__ import annotations

from pathlib import Path

import typer

from privemo.cli._common import console, friendly_errors, progress_bar

app = typer.Typer(help="PPRL-VGAN (chen-2018): identity-invariant face representations and "
                  "expression-preserving identity replacement.", no_args_is_help=True)

CONFIG = typer.Argument(..., help="PPRL-VGAN YAML (e.g. configs/vgan/demo.yaml)")
OUT = typer.Option(None, help="run folder (default runs/<name>)")
DATA_ROOT = typer.Option(None, "--data-root", help="corpus roots are relative to this (default $PRIVEMO_DATA, "
                         "else ../shared/data)")


EXECUTOR = typer.Option(None, help="local or ray: where training and the attack scenarios run (overrides the "
                        "config's)")
RAY_ADDRESS = typer.Option(None, help="with ray: a running cluster (auto, ray://host:port, host:port)")


def _experiment(config: Path, out: Path | None, data_root: Path | None, prog, iterations: int | None = None,  # type: ignore[no-untyped-def]
                executor: str | None = None, ray_address: str | None = None):
    from privemo.cli.evaluate import with_executor
    from privemo.experiments.config import data_root as default_root
    from privemo.experiments.vgan.config import load_vgan_config
    from privemo.experiments.vgan.runner import VganExperiment

    cfg = with_executor(load_vgan_config(config), executor, ray_address)
    if iterations is not None:
        cfg.model.iterations = iterations
    return VganExperiment(cfg, out or Path("runs") / cfg.name, default_root(data_root), progress=prog,
                          log=lambda m: console.print(m, markup=False, highlight=False))


@app.command("train")
def train_cmd(config: Path = CONFIG, out: Path | None = OUT, data_root: Path | None = DATA_ROOT,
              iterations: int | None = typer.Option(None, min=1, max=10_000_000, help="train this many iterations (overrides the config; "
                                                    "a finished run can be continued for longer)"),
              executor: str | None = EXECUTOR, ray_address: str | None = RAY_ADDRESS) -> None:
    """Train the model (resumes from the run folder's checkpoint); writes <run>/model.pt.

    Example: privemo vgan train configs/vgan/demo.yaml
    """
    with friendly_errors(), progress_bar() as prog:
        exp = _experiment(config, out, data_root, prog, iterations, executor, ray_address)
        model = exp.train()
        console.print(f"model: {exp.model_path} ({model.iteration_} iterations, {model.seconds_ / 60:.1f} min of training; "
                      f"identities {', '.join(model.identities_)})")


@app.command("evaluate")
def evaluate_cmd(config: Path = CONFIG, out: Path | None = OUT, data_root: Path | None = DATA_ROOT,
                 force: bool = typer.Option(False, "--force", help="redo the finished units whose configuration "
                                            "changed (without it, such a resume is refused)"),
                 executor: str | None = EXECUTOR, ray_address: str | None = RAY_ADDRESS) -> None:
    """Train if needed, then the attack scenarios I-III, dlib identification, identity replacement rates
    and the figures, into <run>/report.md and report.html; resumes when re-run (a unit whose
    configuration changed, e.g. the attackers' epochs, is refused, or redone with --force).

    Example: privemo vgan evaluate configs/vgan/demo.yaml
    """
    from privemo.cli.run import run_job

    with friendly_errors():
        run_job("vgan", config, out, data_root, [], force, executor, ray_address)


@app.command("figures")
def figures_cmd(config: Path = CONFIG, out: Path | None = OUT, data_root: Path | None = DATA_ROOT) -> None:
    """Draw the figures of a trained model (identity replacement grid, synthesis, left-out expression,
    morphing, completion) into <run>/figures, and re-draw the report.

    Example: privemo vgan figures configs/vgan/demo.yaml
    """
    with friendly_errors():
        with progress_bar() as prog:
            exp = _experiment(config, out, data_root, prog)
            if not exp.model_path.is_file():
                from privemo.errors import ConfigError

                raise ConfigError(f"{exp.model_path}: no trained model; run `privemo vgan train {config}` first")
            paths = exp.figures()
        for p in paths:
            console.print(str(p))
        if (exp.run_dir / "results.jsonl").is_file():
            from privemo.experiments.vgan.report import write_vgan_report

            console.print(f"report: {Path(write_vgan_report(exp.run_dir)['report']).with_suffix('.html')}")
