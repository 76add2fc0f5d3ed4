"""SASL/SCRAM over TLS for the local broker: a local CA, the broker's certificate, SCRAM users.

`superstore stack up --kafka-secure` starts the broker the way MSK serves
SASL/SCRAM (SCRAM-SHA-512 over TLS), so the client path the README documents
for MSK runs for real against a broker here, not only passed through to
librdkafka. Everything is generated locally, once, when the broker's storage
is formatted (SCRAM users live in the KRaft metadata from that moment on):

- a CA that signs one broker certificate (SAN 127.0.0.1 and localhost) and is
  then thrown away (its private key is never written), so nothing else can be
  signed by it later;
- the broker's key and certificate chain as a PKCS#12 keystore encrypted with
  a generated password, the CA certificate as the PEM truststore;
- two SCRAM-SHA-512 users with generated passwords: ``broker`` (the broker to
  itself, inter-broker) and ``superstore`` (every client of the project).

Every file is 0600 under ``<kafka home>/auth``. The controller listener is
TLS with client certificates required (mutual TLS): only a holder of the
broker's key reaches the controller, which in KRaft also answers some admin
requests. No listener accepts a plaintext or unauthenticated client.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from superstore.errors import ConfigError
from superstore.stack.state import KafkaAuth

__all__ = [
    "AUTH_DIR",
    "CLIENT_USER",
    "MECHANISM",
    "BrokerAuth",
    "create_broker_auth",
    "read_broker_auth",
    "secure_properties",
]

AUTH_DIR = "auth"
MECHANISM = "SCRAM-SHA-512"
CLIENT_USER = "superstore"
BROKER_USER = "broker"
_SECRETS_FILE = "secrets.json"
_CLIENT_PASSWORD_FILE = "client.password"
_VALID_DAYS = 825  # the longest lifetime browsers and most TLS stacks still accept


@dataclass(frozen=True)
class BrokerAuth:
    """The generated material of one secure broker (paths, and passwords for the broker itself)."""

    home: Path
    broker_password: str
    client_password: str
    key_password: str

    @property
    def ca_path(self) -> Path:
        """The CA certificate clients trust (PEM)."""
        return self.home / "ca.pem"

    @property
    def keystore_path(self) -> Path:
        """The broker's encrypted key and certificate chain (PKCS#12 keystore)."""
        return self.home / "broker.p12"

    @property
    def client_password_file(self) -> Path:
        """The client user's password alone, for the stack state and `stack env`."""
        return self.home / _CLIENT_PASSWORD_FILE

    def client_auth(self) -> KafkaAuth:
        """What the stack state records so every local client authenticates."""
        return KafkaAuth(
            security_protocol="SASL_SSL",
            sasl_mechanism=MECHANISM,
            sasl_username=CLIENT_USER,
            ssl_ca_location=str(self.ca_path),
            sasl_password_file=str(self.client_password_file),
        )

    def scram_arguments(self) -> list[str]:
        """`kafka-storage format` arguments that create both SCRAM users (secrets inside)."""
        return [
            arg
            for user, password in (
                (BROKER_USER, self.broker_password),
                (CLIENT_USER, self.client_password),
            )
            for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")
        ]


def _write_private(path: Path, data: bytes) -> None:
    """Write a file created 0600 from the start (never briefly readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(0o600)


def _password() -> str:
    # URL-safe base64 has no "," "]" "=" or quote: safe inside --add-scram and JAAS strings.
    return secrets.token_urlsafe(24)


def _certificates(key_password: str) -> tuple[bytes, bytes]:
    """(CA certificate PEM, broker keystore: PKCS#12 with the key, its certificate and the CA).

    The keystore is PKCS#12, not PEM: Kafka's PEM keystore wants an encrypted
    PKCS#8 key, and Java 17 cannot decrypt the PBES2 form `cryptography` writes
    ("PBES2 SecretKeyFactory not available"); it reads PBES2 PKCS#12 fine.
    The truststore is the CA's PEM, which librdkafka reads too.
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "superstore local Kafka CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # server for clients, client for the broker's own mutual-TLS controller connection
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    keystore = pkcs12.serialize_key_and_certificates(
        b"broker",
        key,
        cert,
        [ca_cert],
        serialization.BestAvailableEncryption(key_password.encode()),
    )
    return ca_pem, keystore


def create_broker_auth(kafka_home: Path) -> BrokerAuth:
    """Generate the CA, the broker's keystore and the SCRAM passwords under `kafka_home/auth`.

    Called only before the storage is formatted: the SCRAM users are created by
    the format, so new passwords for formatted storage would lock clients out.
    """
    home = kafka_home / AUTH_DIR
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    auth = BrokerAuth(home, _password(), _password(), _password())
    ca_pem, keystore_pem = _certificates(auth.key_password)
    _write_private(auth.ca_path, ca_pem)
    _write_private(auth.keystore_path, keystore_pem)
    _write_private(auth.client_password_file, auth.client_password.encode())
    secrets_doc = {
        "broker_password": auth.broker_password,
        "client_password": auth.client_password,
        "key_password": auth.key_password,
    }
    _write_private(home / _SECRETS_FILE, json.dumps(secrets_doc).encode())
    return auth


def read_broker_auth(kafka_home: Path) -> BrokerAuth | None:
    """The material of a secure broker's storage, None for a plaintext one."""
    home = kafka_home / AUTH_DIR
    try:
        raw = json.loads((home / _SECRETS_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"the local broker's credentials in {home} are unreadable ({type(exc).__name__})",
            hint="`superstore stack down --purge` and `stack up --kafka-secure` make new ones",
        ) from None
    return BrokerAuth(home, raw["broker_password"], raw["client_password"], raw["key_password"])


def secure_properties(auth: BrokerAuth, broker_port: int, controller_port: int) -> str:
    """server.properties lines for a SASL_SSL client listener and a mutual-TLS controller.

    They replace the template's listener lines; the file holds the broker's own
    SCRAM and key passwords, so it is written 0600.
    """
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{BROKER_USER}" password="{auth.broker_password}";'
    )
    lines = {
        "listeners": f"SASL_SSL://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{broker_port}",
        "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(auth.keystore_path),
        "ssl.keystore.password": auth.key_password,
        "ssl.key.password": auth.key_password,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(auth.ca_path),
        "ssl.client.auth": "none",
        "listener.name.controller.ssl.client.auth": "required",
        "ssl.endpoint.identification.algorithm": "https",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())
