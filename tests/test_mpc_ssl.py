"""MPyC over ``--ssl`` with the deployment's private CA (servers/common/mpc_pki.py).

Real MPyC party processes on loopback. MPyC has no timeouts, so every process runs under a deadline and
is killed in ``finally``.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from servers.common.mpc_pki import (
    Deployment,
    PKIError,
    generate_ca,
    generate_deployment,
    issue_party_cert,
    load_ca,
    party_csr,
    party_hostname,
    sign_party_csr,
    write_party_config,
)
from servers.common.mpc_pki import run as run_cli
from servers.common.serve import free_port

PROBE = Path(__file__).with_name("mpc_ssl_probe.py")
DEADLINE = 30.0


@pytest.fixture()
def deployment(tmp_path: Path) -> Deployment:
    return generate_deployment(tmp_path / "deploy")


def launch(pid: int, ports: list[int], cwd: Path) -> subprocess.Popen[str]:
    peers = [arg for port in ports for arg in ("-P", f"127.0.0.1:{port}")]
    return subprocess.Popen([sys.executable, str(PROBE), *peers, "-I", str(pid), "--ssl"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture()
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_deployment_layout(deployment: Deployment) -> None:
    assert deployment.ca_key.stat().st_mode & 0o777 == 0o600
    ca = x509.load_pem_x509_certificate(deployment.ca_cert.read_bytes())
    for pid, directory in enumerate(deployment.party_dirs):
        config = directory / ".config"
        assert sorted(p.name for p in config.iterdir()) == sorted(
            [f"party_{pid}.crt", f"party_{pid}.key", "mpyc_ca.crt"])
        assert (config / f"party_{pid}.key").stat().st_mode & 0o777 == 0o600
        assert (config / "mpyc_ca.crt").read_bytes() == deployment.ca_cert.read_bytes()
        cert = x509.load_pem_x509_certificate((config / f"party_{pid}.crt").read_bytes())
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"MPyC party {pid}"
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [party_hostname(pid)]
        cert.verify_directly_issued_by(ca)
        assert not any("mpyc_ca.key" in p.name for p in directory.rglob("*"))


def test_three_parties_compute_over_ssl(deployment: Deployment,
                                        processes: list[subprocess.Popen[str]]) -> None:
    ports = [free_port() for _ in range(3)]
    processes.extend(launch(pid, ports, deployment.party_dirs[pid]) for pid in range(3))
    outputs = []
    for proc in processes:
        out, _ = proc.communicate(timeout=DEADLINE)
        outputs.append(out)
        assert proc.returncode == 0, out
    for out in outputs:
        assert "All 3 parties connected via SSL." in out
        assert "SUM=6" in out


def wait_listening(port: int, proc: subprocess.Popen[str], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "party exited before listening"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"party did not listen on {port}")


def attempt(port: int, real_ca: Path, cert: Path | None, key: Path | None,
            tls: ssl.TLSVersion) -> str:
    """Connect to party 1 as "party 0" would; report how far we got.

    ``handshake_failed``: the listener refused to finish the TLS handshake. ``closed``: (TLS 1.3 only,
    where the client finishes its side first) the listener dropped us right after, without a byte.
    ``open``: we are connected and the listener waits for our MPyC hello — what a real peer gets.
    We trust the real CA, so any refusal is the listener's verdict on *our* certificate.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(real_ca))
    context.minimum_version = context.maximum_version = tls
    if cert and key:
        context.load_cert_chain(str(cert), str(key))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            tls_sock = context.wrap_socket(raw, server_hostname=party_hostname(1))
        except (ssl.SSLError, ConnectionError) as exc:
            return f"handshake_failed: {exc}"
        with tls_sock:
            tls_sock.settimeout(1.0)
            try:
                return "closed" if tls_sock.recv(1) == b"" else "data"
            except TimeoutError:
                return "open"
            except (ssl.SSLError, ConnectionError) as exc:
                return f"closed: {exc}"


def test_peer_with_foreign_ca_certificate_is_refused(deployment: Deployment, tmp_path: Path,
                                                     processes: list[subprocess.Popen[str]]) -> None:
    ports = [free_port() for _ in range(3)]
    listener = launch(1, ports, deployment.party_dirs[1])  # party 1 listens for party 0
    processes.append(listener)
    wait_listening(ports[1], listener)

    foreign_ca = generate_ca("Someone else's CA")
    impostor = issue_party_cert(foreign_ca, 0)  # the right name, the wrong issuer
    impostor_dir = write_party_config(tmp_path / "impostor", 0, foreign_ca.cert_pem, impostor.cert_pem,
                                      impostor.key_pem)
    fake = (impostor_dir / ".config" / "party_0.crt", impostor_dir / ".config" / "party_0.key")
    real = (deployment.party_dirs[0] / ".config" / "party_0.crt",
            deployment.party_dirs[0] / ".config" / "party_0.key")
    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3

    verdict = attempt(ports[1], deployment.ca_cert, *fake, v12)
    assert verdict.startswith("handshake_failed"), verdict
    assert attempt(ports[1], deployment.ca_cert, None, None, v12).startswith("handshake_failed")
    assert attempt(ports[1], deployment.ca_cert, *fake, v13).startswith(("handshake_failed", "closed"))
    assert attempt(ports[1], deployment.ca_cert, None, None, v13).startswith(("handshake_failed", "closed"))

    # Control: the same probe with the genuine certificate is let in, so the refusals above were the
    # listener's verdict on the certificate, not a broken probe.
    assert listener.poll() is None, "the honest party died"
    assert attempt(ports[1], deployment.ca_cert, *real, v13) == "open"
    listener.kill()
    out, _ = listener.communicate(timeout=10)
    assert "All 3 parties connected" not in out


def test_csr_flow_keeps_the_party_key_with_its_operator(tmp_path: Path) -> None:
    ca = generate_ca()
    request = party_csr(2)
    cert_pem = sign_party_csr(ca, request.cert_pem, 2)
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_pem))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["MPyC party 2"]
    key = serialization.load_pem_private_key(request.key_pem, password=None)
    assert cert.public_key() == key.public_key()
    with pytest.raises(PKIError, match="names 'MPyC party 2'"):
        sign_party_csr(ca, request.cert_pem, 1)  # a CSR cannot be turned into another party's identity
    with pytest.raises(PKIError, match="not a PEM"):
        sign_party_csr(ca, b"junk", 2)


def test_deploy_command_refuses_to_replace_a_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(out=str(tmp_path / "d"), parties=3)
    assert run_cli(args) == 0
    first = (tmp_path / "d" / "ca" / "mpyc_ca.crt").read_bytes()
    assert load_ca(tmp_path / "d" / "ca").cert_pem == first
    assert run_cli(args) == 1 and "refusing" in capsys.readouterr().err
    assert (tmp_path / "d" / "ca" / "mpyc_ca.crt").read_bytes() == first
    with pytest.raises(PKIError, match="no CA"):
        load_ca(tmp_path / "nowhere")
