"""Finding Java and Maven, and resolving the Kafka broker jars once.

The broker is assembled from Maven Central jars (no tarball, no Docker). The
jars are copied into a cache outside the data directory, keyed by the pom's
hash, so `stack down --purge` and new checkouts do not download them again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from superstore.errors import ConfigError, FatalError

__all__ = [
    "JAVA_HINT",
    "MAVEN_HINT",
    "Java",
    "find_java",
    "resolve_kafka_jars",
    "resolve_maven_jars",
    "resource_path",
]

JAVA_HINT = (
    "install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless) or set "
    "SUPERSTORE_JAVA_HOME; or use an existing cluster with SUPERSTORE_KAFKA_BOOTSTRAP"
)
MAVEN_HINT = (
    "install Maven to resolve the Kafka jars (Debian: apt-get install maven); "
    "or use an existing cluster with SUPERSTORE_KAFKA_BOOTSTRAP"
)


@dataclass(frozen=True)
class Java:
    """A usable java executable and its major version."""

    path: str
    major: int


def resource_path(name: str) -> Path:
    """A file shipped inside the package under stack/resources."""
    return Path(str(resources.files("superstore.stack") / "resources" / name))


def find_java(java_home: Path | None) -> Java:
    """Locate java 17+; a clear ConfigError when it is missing or too old."""
    if java_home:
        candidate = java_home / "bin" / "java"
        path = str(candidate) if candidate.exists() else None
    else:
        path = shutil.which("java")
    if not path:
        raise ConfigError("Java not found: the local Kafka broker needs Java 17+", hint=JAVA_HINT)
    try:
        out = subprocess.run(
            [path, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise ConfigError(f"cannot run {path}: {exc}", hint=JAVA_HINT) from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise ConfigError(f"cannot tell the version of {path}", hint=JAVA_HINT)
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < 17:
        raise ConfigError(f"Java {major} at {path} is too old; Kafka needs 17+", hint=JAVA_HINT)
    return Java(path=path, major=major)


def resolve_kafka_jars(cache_dir: Path) -> tuple[Path, float]:
    """Directory holding the broker's jars, resolving them with Maven once.

    Returns the directory and the seconds spent resolving (0.0 when cached).
    """
    return resolve_maven_jars(resource_path("pom.xml"), cache_dir, "kafka_2.13-*.jar", "kafka-libs")


def resolve_maven_jars(
    pom: Path, cache_dir: Path, expect: str, name: str | None = None
) -> tuple[Path, float]:
    """Copy a pom's runtime dependencies into `cache_dir`, once per pom content.

    The directory is keyed by the pom's hash and published atomically (a
    marker file, then a rename), so concurrent or interrupted runs never leave
    a half set of jars. `expect` is a glob that must match a resolved jar.
    Returns the directory and the seconds spent resolving (0.0 when cached).
    """
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    name = name or pom.stem
    libs = cache_dir / f"{name}-{digest}"
    if (libs / ".complete").exists():
        return libs, 0.0
    mvn = shutil.which("mvn")
    if not mvn:
        raise ConfigError("Maven (mvn) not found: it resolves the Kafka jars", hint=MAVEN_HINT)
    started = time.monotonic()
    staging = cache_dir / f".{name}-{digest}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cmd = [
        mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not any(staging.glob(expect)):
        shutil.rmtree(staging, ignore_errors=True)
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise FatalError(
            f"Maven could not resolve {pom.name}: " + " | ".join(tail),
            hint="check access to Maven Central (or a mirror in ~/.m2/settings.xml)",
        )
    (staging / ".complete").write_text(digest)
    shutil.rmtree(libs, ignore_errors=True)
    os.replace(staging, libs)
    return libs, time.monotonic() - started
