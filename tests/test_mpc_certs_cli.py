"""The MPC certificate ceremony as commands (``mpcstats mpc-certs init|csr|sign|install``): each party's
key is made on its own host and never leaves it; the CA signs only requests for the party it names; a
certificate from another CA, for another key or another party is not installed."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography import x509

from mpcstats.cli import main
from servers.common.config import from_dict
from servers.common.mpc_pki import CA_FILE, party_hostname
from servers.party.config import PartyConfig
from servers.party.main import check_mpc_ssl_dir


def test_three_operators_make_their_own_keys_and_install_signed_certificates(tmp_path: Path, capsys) -> None:
    assert main(["mpc-certs", "init", "--out", str(tmp_path / "pki"), "--ca-only"]) == 0
    assert not (tmp_path / "pki" / "party_0").exists()
    for pid in range(3):
        host = tmp_path / f"host{pid}"
        assert main(["mpc-certs", "csr", "--party", str(pid), "--dir", str(host)]) == 0
        key = host / ".config" / f"party_{pid}.key"
        assert os.stat(key).st_mode & 0o777 == 0o600
        key_before = key.read_bytes()
        # only the CSR travels to the CA holder, and the certificate back
        assert main(["mpc-certs", "sign", "--ca", str(tmp_path / "pki" / "ca"), "--party", str(pid),
                     "--csr", str(host / f"party_{pid}.csr"), "--out", str(tmp_path / f"p{pid}.crt")]) == 0
        assert main(["mpc-certs", "install", "--party", str(pid), "--dir", str(host),
                     "--cert", str(tmp_path / f"p{pid}.crt"),
                     "--ca-cert", str(tmp_path / "pki" / "ca" / CA_FILE)]) == 0
        assert key.read_bytes() == key_before
        cert = x509.load_pem_x509_certificate((host / ".config" / f"party_{pid}.crt").read_bytes())
        assert cert.subject.rfc4514_string() == f"CN={party_hostname(pid)}"
        config = from_dict(PartyConfig, {"index": pid, "data_dir": str(tmp_path / "d"),
                                         "mpc_peers": ["127.0.0.1:1"] * 3, "control_token": "t" * 32,
                                         "notary_keys": ["k"], "mpc_ssl_dir": str(host)}, "party")
        check_mpc_ssl_dir(config)  # what `mpcstats party` checks before it serves
    assert "mpc_ssl_dir" in capsys.readouterr().out


def test_the_ceremony_refuses_mix_ups_with_the_reason(tmp_path: Path, capsys) -> None:
    assert main(["mpc-certs", "init", "--out", str(tmp_path / "pki"), "--ca-only"]) == 0
    assert main(["mpc-certs", "init", "--out", str(tmp_path / "other")]) == 0
    host = tmp_path / "host1"
    assert main(["mpc-certs", "csr", "--party", "1", "--dir", str(host)]) == 0
    assert main(["mpc-certs", "csr", "--party", "1", "--dir", str(host)]) == 2  # never replaces a key
    assert "refusing to replace" in capsys.readouterr().err
    csr = str(host / "party_1.csr")
    assert main(["mpc-certs", "sign", "--ca", str(tmp_path / "pki" / "ca"), "--party", "2", "--csr", csr]) == 2
    assert "names 'MPyC party 1', not 'MPyC party 2'" in capsys.readouterr().err
    assert main(["mpc-certs", "sign", "--ca", str(tmp_path / "pki" / "ca"), "--party", "1", "--csr", csr]) == 0
    cert = str(host / "party_1.crt")
    assert main(["mpc-certs", "install", "--party", "1", "--dir", str(host), "--cert", cert,
                 "--ca-cert", str(tmp_path / "other" / "ca" / CA_FILE)]) == 2
    assert "not issued by this CA" in capsys.readouterr().err
    assert main(["mpc-certs", "install", "--party", "1", "--dir", str(host), "--cert",
                 str(tmp_path / "other" / "party_1" / ".config" / "party_1.crt"),
                 "--ca-cert", str(tmp_path / "other" / "ca" / CA_FILE)]) == 2
    assert "not for this party's key" in capsys.readouterr().err
    assert main(["mpc-certs", "install", "--party", "0", "--dir", str(host), "--cert", cert,
                 "--ca-cert", str(tmp_path / "pki" / "ca" / CA_FILE)]) == 2
    assert "mpc-certs csr --party 0" in capsys.readouterr().err
    assert not (host / ".config" / "party_1.crt").exists()


def test_the_single_operator_form_still_works(tmp_path: Path, capsys) -> None:
    assert main(["mpc-certs", "--out", str(tmp_path / "pki")]) == 0  # the form before the steps existed
    assert (tmp_path / "pki" / "party_2" / ".config" / "party_2.key").exists()
    assert main(["mpc-certs"]) == 2
    assert "give a step: init, csr, sign or install" in capsys.readouterr().err
