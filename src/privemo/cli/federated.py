"""``privemo federated run|report|deploy``: federated speech emotion recognition on Flower."""

from __future__ import annotations

from pathlib import Path

import click
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
    from privemo.cli.run import run_job

    with friendly_errors():
        run_job("federated", config, out, data_root, [], force, verbose=verbose)


@app.command("report")
def report_cmd(run_dir: Path = typer.Argument(..., help="a federated run folder")) -> None:
    """Re-draw a federated run's report from its results.

    Example: privemo federated report runs/demo_federated
    """
    from privemo.experiments.federated.report import write_federated_report

    with friendly_errors():
        _print(write_federated_report(run_dir))


ROLE = click.Choice(["all", "superlink", "supernodes"])


@app.command("deploy")
def deploy_cmd(source: Path = typer.Argument(..., help="a federated experiment YAML, or a federation's job.json "
                                             "(written under runs/<name>/federations/<variant>__fold<k>/)"),
               variant: str | None = typer.Option(None, help="with a YAML: the variant (default: the first)"),
               fold: int = typer.Option(0, min=0, max=99, help="with a YAML: the fold whose test speakers the server holds out"),
               out: Path | None = typer.Option(None, help="where the deployment writes its results (default: "
                                               "runs/<name>/deployments/<variant>__fold<k>, or <job folder>/deployment)"),
               data_root: Path | None = typer.Option(None, "--data-root", help="with a YAML: corpus roots are "
                                                     "relative to this"),
               role: str = typer.Option("all", click_type=ROLE, help="all: SuperLink and SuperNodes here; "
                                        "superlink: only the SuperLink (and the run); supernodes: only this "
                                        "host's SuperNodes, connecting to --superlink"),
               host: str = typer.Option("127.0.0.1", help="the address the SuperLink listens on (0.0.0.0: every "
                                        "interface; beyond loopback it needs --tls-dir)"),
               port: int = typer.Option(9100, min=1024, max=65500, help="the SuperLink's port (SuperNodes on this "
                                        "host take the next ones for their local API)"),
               superlink: str | None = typer.Option(None, help="supernodes: the SuperLink's address, host:port"),
               tls_dir: Path | None = typer.Option(None, help="a folder of `privemo federated certs`: ca.crt "
                                                   "(every host), server.pem and server.key (the SuperLink's)"),
               auth: bool = typer.Option(False, "--auth", help="SuperNode authentication: only registered keys "
                                         "(node<k>.pub in --keys-dir) may join; needs --tls-dir"),
               keys_dir: Path | None = typer.Option(None, help="with --auth: the SuperNodes' key pairs "
                                                    "(node<k>.key / node<k>.pub; made here where missing)"),
               partition: list[int] = typer.Option([], "--partition", help="supernodes: the partitions (clients) "
                                                   "this host serves (repeatable; default all)"),
               data_dir: Path | None = typer.Option(None, help="supernodes: the folder of this host's partition "
                                                    "files client<k>.npz (default: the job's)"),
               timeout: float = typer.Option(3600.0, min=1.0, max=7 * 24 * 3600.0, help="seconds before giving up")) -> None:
    """Run one federation for real: a SuperLink, one SuperNode process per client, and `flwr run`, with
    the same ClientApp and ServerApp as the simulation; on one machine (--role all) or across hosts
    (--role superlink on one, --role supernodes on the others), over TLS and with authenticated
    SuperNodes where asked.

    Examples:

      privemo federated deploy configs/federated/demo.yaml

      privemo federated deploy job.json --role superlink --host 0.0.0.0 --tls-dir certs --auth --keys-dir keys

      privemo federated deploy job.json --role supernodes --superlink link.example:9100 --tls-dir certs --auth --keys-dir keys --partition 0 --partition 1 --data-dir parts
    """
    from privemo.learners.federated.deploy import deploy

    with friendly_errors():
        job_path = source
        if source.suffix in (".yaml", ".yml"):
            job_path = _prepare_job(source, variant, fold, data_root)
            out = out or job_path.parent
        res = deploy(job_path, out, port=port, timeout=timeout, log=lambda m: console.print(m, markup=False),
                     role=role, host=host, superlink=superlink, tls_dir=tls_dir, auth=auth, keys_dir=keys_dir,
                     partitions=partition or None, data_dir=data_dir)
        if role == "supernodes":
            console.print(f"{res['supernodes']} SuperNodes ended (exit codes {res['exit_codes']})", markup=False)
            return
        final = res.get("final", {})
        console.print(f"deployment finished: {res['rounds']} rounds, held-out UAR "
                      f"{final.get('server_uar', float('nan')):.3f}, results in {res['out_dir']}")


@app.command("certs")
def certs_cmd(out: Path = typer.Argument(..., help="a new folder for ca.crt, ca.key, server.pem, server.key"),
              host: list[str] = typer.Option(..., "--host", help="a name or IP address SuperNodes use to reach the "
                                             "SuperLink (repeatable; the certificate is valid for these only)"),
              days: int = typer.Option(365, min=1, max=3650, help="validity")) -> None:
    """TLS certificates for a deployment: a CA of its own and the SuperLink's server certificate.
    Give ca.crt to every host; server.pem and server.key stay on the SuperLink host; keep ca.key offline.

    Example: privemo federated certs certs --host 127.0.0.1 --host link.example.org
    """
    from privemo.learners.federated.security import make_certificates

    with friendly_errors():
        files = make_certificates(out, host, days)
        console.print(f"wrote {', '.join(sorted(p.name for p in files.values()))} in {out}", markup=False)


@app.command("keys")
def keys_cmd(out: Path = typer.Argument(..., help="the folder of the SuperNodes' key pairs"),
             partition: list[int] = typer.Option(..., "--partition", help="a partition (client) whose SuperNode "
                                                 "needs a key pair (repeatable)")) -> None:
    """EC P-384 key pairs for SuperNodes (node<k>.key stays on the node's host; node<k>.pub goes to the
    SuperLink host's --keys-dir, to be registered). Pairs already there are kept.

    Example: privemo federated keys keys --partition 0 --partition 1
    """
    from privemo.learners.federated.deploy import node_name
    from privemo.learners.federated.security import make_node_keys

    with friendly_errors():
        if any(p < 0 or p > 99_999 for p in partition):
            from privemo.errors import ConfigError

            raise ConfigError(f"--partition {partition}: from 0 to 99999")
        pairs = make_node_keys(out, [node_name(p) for p in partition])
        console.print(f"{len(pairs)} key pairs in {out}", markup=False)


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
