"""TLS certificates and SuperNode keys for a federated deployment across hosts (Flower's own options).

- **TLS.** The SuperLink serves its Fleet and Control APIs over HTTPS with a server certificate signed
  by a certificate authority (CA) of the deployment; SuperNodes and ``flwr`` verify it with the CA
  certificate (``--root-certificates``). :func:`make_certificates` writes ``ca.crt`` (give it to every
  host), ``ca.key`` (keep it offline), ``server.pem`` and ``server.key`` (the SuperLink's), the
  server certificate naming every address SuperNodes will use to reach the SuperLink (and loopback,
  where the SuperLink host's own ``flwr`` reaches it).
- **SuperNode authentication.** The SuperLink runs with ``--enable-supernode-auth``: only SuperNodes
  whose public key was registered (``flwr supernode register``) may connect, and each request is
  signed with the node's private key. :func:`make_node_keys` writes one EC P-384 key pair per node
  (``<name>.key``: the node's alone; ``<name>.pub``: for the SuperLink's registry), in the OpenSSH
  formats Flower reads.

Private keys are written readable by their owner only.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from privemo._files import atomic_write
from privemo.errors import ConfigError

CERT_FILES = ("ca.crt", "server.pem", "server.key")


def _write_private(path: Path, data: bytes) -> None:
    atomic_write(path, data)
    os.chmod(path, 0o600)


def _names(hosts: list[str]) -> list:
    from cryptography import x509

    out: list = []
    for h in hosts:
        if not h or any(c.isspace() for c in h) or "/" in h:
            raise ConfigError(f"--host {h!r}: not a host name or an IP address")
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            out.append(x509.DNSName(h))
    return out


def make_certificates(out_dir: str | Path, hosts: list[str], days: int = 365) -> dict[str, Path]:
    """A CA and a SuperLink server certificate valid for ``hosts`` (names or IPs), in ``out_dir``.
    Refuses to overwrite certificates already there (a deployment's CA is not replaced by accident)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if not hosts:
        raise ConfigError("certificates: name at least one --host the SuperNodes use to reach the SuperLink")
    if not 1 <= days <= 3650:
        raise ConfigError(f"--days {days}: from 1 to 3650")
    # the SuperLink host's own flwr (registering keys, starting the run) reaches it on loopback
    sans = _names(list(dict.fromkeys([*hosts, "127.0.0.1", "localhost"])))
    out = Path(out_dir)
    there = [f for f in (*CERT_FILES, "ca.key") if (out / f).exists()]
    if there:
        raise ConfigError(f"{out}: already holds {', '.join(there)}; choose another folder (or delete them)")
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "privemo federation CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP384R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    plain = serialization.NoEncryption()
    _write_private(out / "ca.key", ca_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, plain))
    atomic_write(out / "ca.crt", ca.public_bytes(pem))
    _write_private(out / "server.key", key.private_bytes(pem, serialization.PrivateFormat.PKCS8, plain))
    atomic_write(out / "server.pem", cert.public_bytes(pem))
    return {f: out / f for f in (*CERT_FILES, "ca.key")}


def make_node_keys(out_dir: str | Path, names: list[str]) -> list[tuple[Path, Path]]:
    """One EC P-384 key pair per SuperNode: (``<name>.key``, ``<name>.pub``) in ``out_dir``; a pair
    already there is kept (a node keeps its identity)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from privemo._names import name_error

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pairs = []
    for n in names:
        if name_error(n):
            raise ConfigError(f"node name {n!r}: {name_error(n)}")
        key_path, pub_path = out / f"{n}.key", out / f"{n}.pub"
        if not (key_path.is_file() and pub_path.is_file()):
            key = ec.generate_private_key(ec.SECP384R1())
            _write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                       serialization.NoEncryption()))
            atomic_write(pub_path, key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                                 serialization.PublicFormat.OpenSSH) + b"\n")
        pairs.append((key_path, pub_path))
    return pairs


def check_tls_dir(tls_dir: str | Path, need_server: bool = True) -> dict[str, Path]:
    """The certificate files of ``tls_dir`` (ca.crt, and with ``need_server`` server.pem/server.key),
    or a ConfigError naming the missing one."""
    d = Path(tls_dir)
    wanted = CERT_FILES if need_server else ("ca.crt",)
    missing = [f for f in wanted if not (d / f).is_file()]
    if missing:
        raise ConfigError(f"{d}: no {', '.join(missing)} (write them with `privemo federated certs {d} --host ...`)")
    return {f: (d / f).resolve() for f in wanted}
