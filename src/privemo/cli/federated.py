"""``privemo federated run|report|deploy``: federated speech emotion recognition on Flower."""

from __future__ import annotations

from pathlib import Path

import typer

from privemo._files import atomic_write
from privemo.cli._common import console, friendly_errors, progress_bar

app = typer.Typer(help="Federated emotion recognition on Flower (nunez): every speaker is a client.",
                  no_args_is_help=True)


def _print(result: dict) -> None:
    console.print(result["markdown"])
    console.print(f"report: {result['html']}")


@app.command("run")
def run_cmd(config: Path = typer.Argument(..., help="federated experiment YAML"),
            out: Path | None = typer.Option(None, help="run folder (default runs/<name>)"),
            data_root: Path | None = typer.Option(None, "--data-root", help="corpus roots are relative to this "
                                                  "(default $PRIVEMO_DATA, else ../shared/data)"),
            verbose: bool = typer.Option(False, help="show Flower's own log"),
            force: bool = typer.Option(False, "--force", help="redo the finished units whose configuration "
                                       "changed (without it, such a resume is refused)")) -> None:
    """Baselines, federations (Flower simulation engine) and the update attack; resumes when re-run.

    Example: privemo federated run configs/federated/demo.yaml
    """
    from privemo.experiments.federated import load_federated_config
    from privemo.experiments.federated.report import write_federated_report
    from privemo.experiments.federated.runner import FederatedExperiment

    with friendly_errors():
        cfg = load_federated_config(config)
        with progress_bar() as prog:
            exp = FederatedExperiment(cfg, out, data_root, progress=prog, verbose=verbose,
                                      log=lambda m: console.print(m, markup=False, highlight=False))
            exp.run(force)
        _print(write_federated_report(exp.run_dir))


@app.command("report")
def report_cmd(run_dir: Path = typer.Argument(..., help="a federated run folder")) -> None:
    """Re-draw a federated run's report from its results.

    Example: privemo federated report runs/demo_federated
    """
    from privemo.experiments.federated.report import write_federated_report

    with friendly_errors():
        _print(write_federated_report(run_dir))


@app.command("deploy")
def deploy_cmd(source: Path = typer.Argument(..., help="a federated experiment YAML, or a federation's job.json "
                                             "(written under runs/<name>/federations/<variant>__fold<k>/)"),
               variant: str | None = typer.Option(None, help="with a YAML: the variant (default: the first)"),
               fold: int = typer.Option(0, min=0, max=99, help="with a YAML: the fold whose test speakers the server holds out"),
               out: Path | None = typer.Option(None, help="where the deployment writes its results (default: "
                                               "runs/<name>/deployments/<variant>__fold<k>, or <job folder>/deployment)"),
               data_root: Path | None = typer.Option(None, "--data-root", help="with a YAML: corpus roots are "
                                                     "relative to this"),
               port: int = typer.Option(9100, min=1024, max=65500, help="the SuperLink's HTTP port on localhost (SuperNodes take the "
                                        "next ones)"),
               timeout: float = typer.Option(3600.0, min=1.0, max=7 * 24 * 3600.0, help="seconds before giving up")) -> None:
    """Run one federation for real on localhost: a SuperLink, one SuperNode process per client, and
    `flwr run`, with the same ClientApp and ServerApp as the simulation.

    Example: privemo federated deploy configs/federated/demo.yaml
    """
    from privemo.learners.federated.deploy import deploy

    with friendly_errors():
        job_path = source
        if source.suffix in (".yaml", ".yml"):
            job_path = _prepare_job(source, variant, fold, data_root)
            out = out or job_path.parent
        res = deploy(job_path, out, port=port, timeout=timeout, log=lambda m: console.print(m, markup=False))
        final = res.get("final", {})
        console.print(f"deployment finished: {res['rounds']} rounds, held-out UAR "
                      f"{final.get('server_uar', float('nan')):.3f}, results in {res['out_dir']}")


def _prepare_job(config: Path, variant: str | None, fold: int, data_root: Path | None) -> Path:
    """The partition files of ``fold`` and the job of ``variant``, as `privemo federated run` writes them."""
    import json

    from privemo.errors import ConfigError
    from privemo.experiments.federated import load_federated_config
    from privemo.experiments.federated.data import load_corpus_data
    from privemo.experiments.federated.runner import FederatedExperiment, make_job

    cfg = load_federated_config(config)
    name = variant or cfg.variants[0]["name"]
    cfg.variant(name)  # an unknown variant is a clear error
    if not 0 <= fold < cfg.folds:
        raise ConfigError(f"--fold {fold}: the config has folds 0..{cfg.folds - 1}")
    exp = FederatedExperiment(cfg, None, data_root)
    with progress_bar() as prog:
        data = load_corpus_data(cfg, exp.data_root, exp.cache, prog)
    fd = exp.fold_data(data, fold)
    out_dir = exp.run_dir / "deployments" / f"{name}__fold{fold}"
    job = make_job(cfg, name, fd, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "job.json", json.dumps(job, indent=1))
    return out_dir / "job.json"
