"""Deployment mode on one machine: a real SuperLink, one SuperNode process per client, ``flwr run``.

The ServerApp and ClientApp are the very modules the simulation uses
(``privemo.learners.federated.server_app:app`` and ``...client_app:app``); only the transport
differs. Each SuperNode is told its ``partition-id`` by ``--node-config``, exactly as a phone would
be told which user it serves. Across machines the SuperLink runs on one host (``role="superlink"``)
and the SuperNodes on others (``role="supernodes"``), over TLS with the deployment's certificates,
and with SuperNode authentication only registered keys may join (Flower's ``--enable-supernode-auth``
and ``flwr supernode register``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privemo._procs import dies_with_parent
from privemo.errors import ConfigError
from privemo.learners.federated.task import write_atomic

APP_TOML = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "privemo-federation"
version = "1.0.0"
description = "privemo federated speech emotion recognition (the ServerApp and ClientApp of the privemo package)"
license = "MIT"
dependencies = []

[tool.flwr.app]
publisher = "privemo"

[tool.flwr.app.components]
serverapp = "privemo.learners.federated.server_app:app"
clientapp = "privemo.learners.federated.client_app:app"

[tool.flwr.app.config]
job = "{job}"
"""

FLWR_CONFIG = """[superlink]
default = "privemo-local"

[superlink.privemo-local]
address = "{address}"
{security}
"""

ROLES = ("all", "superlink", "supernodes")


def _wait_port(port: int, timeout: float, host: str = "127.0.0.1") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the SuperLink did not open port {port} within {timeout:.0f} s")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _toml_path(p: Path) -> str:
    text = str(p)
    if any(c in text for c in '"\\\n'):
        raise ConfigError(f"{p}: a path with a quote, backslash or line break cannot go into Flower's config")
    return text


def node_name(pid: int) -> str:
    """The key file stem of the SuperNode serving partition ``pid``."""
    return f"node{pid:03d}"


def deploy(job_path: str | Path, out: str | Path | None = None, port: int = 9100, timeout: float = 900.0,
           log: Callable[[str], None] | None = None, *, role: str = "all", host: str = "127.0.0.1",
           superlink: str | None = None, tls_dir: str | Path | None = None, auth: bool = False,
           keys_dir: str | Path | None = None, partitions: list[int] | None = None,
           data_dir: str | Path | None = None, linger: float = 60.0) -> dict[str, Any]:
    """Run the federation of ``job_path`` as separate processes; returns the server's summary (also
    in ``<out>/federation_result.json``), or, for ``role="supernodes"``, what the nodes did.

    - ``role="all"``: SuperLink and every SuperNode on this machine (on ``host``, 127.0.0.1 by default).
    - ``role="superlink"``: the SuperLink on ``host``:``port`` (0.0.0.0 for every interface), which
      registers the node keys, starts the run and waits for its result; the SuperNodes run elsewhere.
    - ``role="supernodes"``: this host's SuperNodes (``partitions``, default all) connecting to
      ``superlink`` (host:port), each reading its own partition file from ``data_dir`` (default the
      job's); they stop once the SuperLink has been unreachable for ``linger`` seconds.

    ``tls_dir`` (ca.crt, server.pem, server.key of :func:`~privemo.learners.federated.security.make_certificates`;
    SuperNodes need ca.crt only) encrypts every connection; without it the deployment is plain HTTP
    and only allowed on loopback. ``auth`` (needs TLS) lets only SuperNodes whose public key is
    registered join: the keys are ``<keys_dir>/node<partition>.key|.pub`` (made where missing on
    this host; across hosts, copy each node's ``.pub`` to the SuperLink host's ``keys_dir``).
    """
    from privemo.learners.federated.security import check_tls_dir, make_node_keys

    log = log or (lambda m: None)
    if role not in ROLES:
        raise ConfigError(f"role {role!r}: one of {', '.join(ROLES)}")
    job_path = Path(job_path)
    if not job_path.is_file():
        raise ConfigError(f"{job_path}: job file not found (run `privemo federated run` first)")
    try:
        job = json.loads(job_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{job_path}: not a valid job file ({exc})") from None
    if not isinstance(job, dict) or not isinstance(job.get("clients"), list) or not job["clients"]:
        raise ConfigError(f"{job_path}: not a job file of `privemo federated run` (no list of clients)")
    n = len(job["clients"])
    pids = list(range(n)) if partitions is None else list(partitions)
    bad = [p for p in pids if not 0 <= p < n]
    if bad or len(set(pids)) != len(pids) or not pids:
        raise ConfigError(f"partitions {pids}: each once, from 0 to {n - 1} (the job has {n} clients)")
    if not 1.0 <= linger <= 86400.0:
        raise ConfigError(f"linger {linger}: from 1 to 86400 seconds")
    if auth and tls_dir is None:
        raise ConfigError("SuperNode authentication needs TLS: give the certificates (--tls-dir)")
    certs = check_tls_dir(tls_dir, need_server=role != "supernodes") if tls_dir is not None else None
    if role == "supernodes":
        if not superlink or ":" not in superlink:
            raise ConfigError("--superlink: the SuperLink's address as host:port")
        link_host = superlink.rsplit(":", 1)[0].strip("[]")
    else:
        link_host = host
        superlink = f"{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if certs is None and not _loopback(link_host):
        raise ConfigError(f"{link_host}: a deployment beyond this machine needs TLS (--tls-dir); plain HTTP "
                          "is for 127.0.0.1 only")
    if auth and keys_dir is None:
        raise ConfigError("--auth needs --keys-dir: where the SuperNodes' key pairs are (made there if missing)")
    local_ports = ([port] if role != "supernodes" else []) + \
        ([port + 1 + i for i in range(len(pids))] if role != "superlink" else [])
    busy = [p for p in local_ports if not _port_free(p)]
    if busy:
        raise ConfigError(f"ports {busy} on 127.0.0.1 are in use: choose another --port")
    keys: dict[int, tuple[Path, Path]] = {}
    keys_dir = Path(keys_dir) if keys_dir is not None else Path()
    if auth and role != "superlink":
        keys = {p: (k.resolve(), v.resolve())
                for p, (k, v) in zip(pids, make_node_keys(keys_dir, [node_name(p) for p in pids]), strict=True)}
    registered: list[Path] = []
    if auth and role != "supernodes":
        registered = (sorted(p.resolve() for p in Path(keys_dir).glob("node*.pub")) if role == "superlink"
                      else [keys[p][1] for p in pids])
        if not registered:
            raise ConfigError(f"{keys_dir}: no node*.pub public keys to register (copy each SuperNode's there)")
    out_dir = Path(out) if out else job_path.parent / "deployment"
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = out_dir / "federation_result.json"
    if role != "supernodes":
        result_path.unlink(missing_ok=True)
        job = {**job, "out_dir": str(out_dir.resolve())}
        write_atomic(out_dir / "job.json", json.dumps(job, indent=1))
    bindir = Path(sys.executable).parent
    procs: list[subprocess.Popen] = []
    security = (f'root-certificates = "{_toml_path(certs["ca.crt"])}"' if certs else "insecure = true")
    tls_link = (["--ssl-ca-certfile", str(certs["ca.crt"]), "--ssl-certfile", str(certs["server.pem"]),
                 "--ssl-keyfile", str(certs["server.key"])] if certs and role != "supernodes" else ["--insecure"])
    tls_node = ["--root-certificates", str(certs["ca.crt"])] if certs else ["--insecure"]
    with tempfile.TemporaryDirectory(prefix="privemo-flwr-") as tmp:
        home, app_dir = Path(tmp) / "flwr-home", Path(tmp) / "app"
        home.mkdir()
        app_dir.mkdir()
        (home / "config.toml").write_text(FLWR_CONFIG.format(address=superlink, security=security))
        (app_dir / "pyproject.toml").write_text(APP_TOML.format(job=_toml_path((out_dir / "job.json").resolve())))
        # Flower's processes start their helpers (flower-superexec, flwr-serverapp, flwr-clientapp) by name
        env = {**os.environ, "FLWR_HOME": str(home), "OMP_NUM_THREADS": "1",
               "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
        logs = out_dir / "logs"
        logs.mkdir(exist_ok=True)

        def start(name: str, cmd: list[str]) -> subprocess.Popen:
            fh = open(logs / f"{name}.log", "w")  # noqa: SIM115  (closed with the process)
            procs.append(subprocess.Popen(dies_with_parent(cmd), env=env, stdout=fh, stderr=subprocess.STDOUT,
                                          cwd=tmp))
            return procs[-1]

        def flwr(name: str, args: list[str], limit: float) -> subprocess.CompletedProcess:
            with open(logs / f"{name}.log", "a") as fh:
                return subprocess.run(dies_with_parent([str(bindir / "flwr"), *args]), env=env, cwd=tmp,
                                      stdout=fh, stderr=subprocess.STDOUT, timeout=limit)

        try:
            if role != "supernodes":
                start("superlink", [str(bindir / "flower-superlink"), *tls_link, "--host", host, "--port", str(port),
                                    "--disable-runtime-dependency-installation",
                                    *(["--enable-supernode-auth"] if auth else [])])
                _wait_port(port, 60)
                log(f"SuperLink on {host}:{port} ({'TLS' if certs else 'plain HTTP, loopback only'}"
                    f"{', registered SuperNodes only' if auth else ''})")
                for pub in registered:
                    reg = flwr("register", ["supernode", "register", str(pub), "privemo-local"], 120)
                    if reg.returncode != 0:
                        raise RuntimeError(f"could not register {pub}: {(logs / 'register.log').read_text()[-1500:]}")
                if registered:
                    log(f"registered {len(registered)} SuperNode keys")
            if role != "superlink":
                node_dir = Path(data_dir).resolve() if data_dir is not None else None
                for i, pid in enumerate(pids):
                    cfg = f"partition-id={pid} num-partitions={n}"
                    if node_dir is not None:
                        cfg += f' data-dir="{_toml_path(node_dir)}"'
                    start(f"supernode{pid:03d}", [str(bindir / "flower-supernode"), *tls_node, "--superlink",
                                                   superlink, "--port", str(port + 1 + i), "--node-config", cfg,
                                                   *(["--auth-supernode-private-key", str(keys[pid][0])] if auth else [])])
                log(f"{len(pids)} SuperNodes connecting to {superlink}")
            if role == "supernodes":
                return _wait_nodes(procs, timeout, logs, pids, superlink, linger)
            t0 = time.monotonic()
            log(f"flwr run: the federation runs (logs in {logs})")
            run = flwr("flwr_run", ["run", str(app_dir), "privemo-local", "--stream"], timeout)
            while not result_path.is_file() and time.monotonic() - t0 < timeout:
                if any(p.poll() is not None for p in procs[:1]):
                    break
                time.sleep(0.5)
            if not result_path.is_file():
                tail = (logs / "flwr_run.log").read_text()[-2000:]
                raise RuntimeError(f"the deployment ended (flwr run exit {run.returncode}) without a result; "
                                   f"logs in {logs}:\n{tail}")
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
    res = json.loads(result_path.read_text())
    return {**res, "out_dir": str(out_dir)}


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _wait_nodes(procs: list[subprocess.Popen], timeout: float, logs: Path, pids: list[int], superlink: str,
                linger: float) -> dict[str, Any]:
    """This host's SuperNodes until they stop, the SuperLink has been unreachable for ``linger``
    seconds (the run is over: a SuperNode itself would keep retrying), or ``timeout``."""
    host, port = superlink.rsplit(":", 1)
    end = time.monotonic() + timeout
    seen, gone_since = False, None
    while time.monotonic() < end and any(p.poll() is None for p in procs):
        with socket.socket() as s:
            s.settimeout(2.0)
            up = s.connect_ex((host.strip("[]"), int(port))) == 0
        seen = seen or up
        gone_since = None if up else (gone_since or time.monotonic())
        if seen and gone_since is not None and time.monotonic() - gone_since >= linger:
            break
        time.sleep(1.0)
    return {"supernodes": len(procs), "partitions": pids, "exit_codes": [p.poll() for p in procs],
            "out_dir": str(logs.parent)}
