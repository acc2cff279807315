"""An https centre address the handshake fails on is one sentence that says what is wrong
and what to do, not "cannot reach the centre" (which sends the agent to check the cable)
and not retried as if the link might come back."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from station.sync.errors import CentreUnreachable, NotHttps, UntrustedCertificate
from station.sync.transport import CentreClient, patient
from tests.served import answering


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that nobody vouches for, as a centre might make itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """A TLS server on 127.0.0.1 with a self-signed certificate; yields its https URL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed(tmp_path))
    with answering(lambda conn: context.wrap_socket(conn, server_side=True).close()) as port:
        yield f"https://127.0.0.1:{port}"


@pytest.fixture
def plain_server() -> Iterator[str]:
    """A server that answers in plain HTTP, reached at an https address."""
    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with answering(answer) as port:
        yield f"https://127.0.0.1:{port}"


def health(url: str) -> None:
    with CentreClient(url, retry=patient(attempts=3, within_s=30)) as link:
        link.request("GET", "/v1/health", signed=False)


def test_an_untrusted_certificate_says_so_and_what_to_do(tls_server):
    with pytest.raises(UntrustedCertificate) as caught:
        health(tls_server)
    en, zh = caught.value.message("en"), caught.value.message("zh")
    assert "does not trust the HTTPS certificate" in en and "SSL_CERT_FILE" in en
    assert "self-signed" in en and "自签证书" in zh and "SSL_CERT_FILE" in zh
    assert caught.value.exit_code == 3


def test_the_advice_works_the_certificate_named_in_ssl_cert_file_is_trusted(
        tls_server, tmp_path, monkeypatch):
    """Past the handshake, this server hangs up: an outage, no longer a certificate."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    with pytest.raises(CentreUnreachable):
        health(tls_server)


def test_an_https_address_for_a_plain_http_server_says_to_write_http(plain_server):
    with pytest.raises(NotHttps) as caught:
        health(plain_server)
    assert "http://" in caught.value.message("en") and "http://" in caught.value.message("zh")
