"""TLS certificates and SuperNode keys for a deployment across hosts, and the settings deploy refuses
before starting anything."""

from __future__ import annotations

import json

import pytest

from privemo.errors import ConfigError

pytest.importorskip("flwr")


def test_certificates_chain_to_their_ca_and_name_the_hosts(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from privemo.learners.federated.security import make_certificates

    files = make_certificates(tmp_path / "c", ["127.0.0.1", "link.example.org"], days=30)
    ca = x509.load_pem_x509_certificate(files["ca.crt"].read_bytes())
    cert = x509.load_pem_x509_certificate(files["server.pem"].read_bytes())
    cert.verify_directly_issued_by(ca)  # raises where the signature does not hold
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["link.example.org", "localhost"]  # loopback for flwr
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert (files["ca.key"].stat().st_mode & 0o077) == 0 and (files["server.key"].stat().st_mode & 0o077) == 0
    before = files["ca.crt"].read_bytes()
    with pytest.raises(ConfigError, match="already holds ca.crt"):
        make_certificates(tmp_path / "c", ["127.0.0.1"])
    assert files["ca.crt"].read_bytes() == before  # the deployment's CA is not replaced
    with pytest.raises(ConfigError, match="not a host name"):
        make_certificates(tmp_path / "d", ["bad host"])


def test_node_keys_are_what_flower_reads_and_are_kept(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key, load_ssh_public_key

    from privemo.learners.federated.security import make_node_keys

    (key, pub), = make_node_keys(tmp_path, ["node000"])
    private = load_ssh_private_key(key.read_bytes(), None)
    public = load_ssh_public_key(pub.read_bytes())
    assert isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp384r1"
    assert private.public_key().public_numbers() == public.public_numbers()
    assert key.stat().st_mode & 0o077 == 0
    again = key.read_bytes()
    make_node_keys(tmp_path, ["node000"])
    assert key.read_bytes() == again  # a node keeps its identity
    with pytest.raises(ConfigError, match="not a valid name"):
        make_node_keys(tmp_path, ["../evil"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"auth": True}, "needs TLS"),
    ({"role": "superlink", "host": "0.0.0.0"}, "needs TLS"),
    ({"role": "supernodes", "superlink": "10.1.2.3:9100"}, "needs TLS"),
    ({"role": "supernodes"}, "--superlink"),
    ({"partitions": [0, 5]}, "partitions"),
    ({"role": "elsewhere"}, "role"),
    ({"linger": 0.0}, "linger"),
])
def test_deploy_refuses_unsafe_or_wrong_settings_before_starting(tmp_path, kwargs, message):
    from privemo.learners.federated.deploy import deploy

    job = tmp_path / "job.json"
    job.write_text(json.dumps({"clients": [{}, {}, {}]}))
    with pytest.raises(ConfigError, match=message):
        deploy(job, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # nothing started, nothing written


def test_deploy_needs_the_certificate_files(tmp_path):
    from privemo.learners.federated.deploy import deploy

    job = tmp_path / "job.json"
    job.write_text(json.dumps({"clients": [{}]}))
    (tmp_path / "certs").mkdir()
    with pytest.raises(ConfigError, match="no ca.crt, server.pem, server.key"):
        deploy(job, tmp_path / "out", tls_dir=tmp_path / "certs")


def test_deploy_names_a_file_that_is_not_a_job(tmp_path):
    from privemo.learners.federated.deploy import deploy

    for i, text in enumerate(("{}", "[1, 2]", "not json")):
        job = tmp_path / f"job{i}.json"
        job.write_text(text)
        with pytest.raises(ConfigError, match=f"job{i}.json: not a"):
            deploy(job, tmp_path / "out")
