"""A Spark standalone cluster on this machine: one master and one worker, from the pyspark wheel.

The pyspark distribution ships ``bin/spark-class`` and every jar a standalone
cluster needs, so no separate Spark download is involved::

    with standalone_cluster(cores=2, memory_gb=5) as master:   # "spark://127.0.0.1:<port>"
        conf = driver_conf(cores=2, executor_memory_gb=4)
        engine = SparkEngine(master=master, conf=conf)

Both daemons listen on 127.0.0.1 only (``SPARK_LOCAL_IP``, ``--host``), on free
ports; the worker registers with the master and launches executors that run
the same Python as the caller (``PYSPARK_PYTHON``). The context manager waits
until the master's web UI (``/json``) lists the worker ALIVE, yields the
master URL, and at the end stops both process groups (worker and its
executors first, then the master). Logs and work dirs live in a temp dir; a
cluster that does not come up raises ``ClusterError`` with the log tails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

__all__ = [
    "ClusterError",
    "MasterUrl",
    "driver_conf",
    "java_home",
    "spark_home",
    "standalone_cluster",
]

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
LOOPBACK = "127.0.0.1"


class ClusterError(RuntimeError):
    """The standalone cluster did not start (the message holds the log tails)."""


class MasterUrl(str):
    """``spark://127.0.0.1:<port>``, which also knows its master's web UI and the log dir."""

    web_ui: str
    log_dir: Path

    def __new__(cls, url: str, web_ui: str, log_dir: Path) -> MasterUrl:
        self = super().__new__(cls, url)
        self.web_ui, self.log_dir = web_ui, log_dir
        return self

    def state(self) -> dict:
        """The master's JSON state: workers, active and completed applications."""
        with urllib.request.urlopen(f"{self.web_ui}/json", timeout=5) as response:
            return json.load(response)


def spark_home() -> Path:
    """The pyspark package directory: it holds ``bin/spark-class`` and ``jars/``."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "bin" / "spark-class").exists() or not (home / "jars").is_dir():
        raise ClusterError(f"{home} has no bin/spark-class or jars/: not a full pyspark install")
    return home


def java_home() -> str | None:
    """JAVA_HOME, or the JDK of the ``java`` on PATH (None: spark-class uses PATH)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    return str(Path(java).resolve().parent.parent) if java else None


def driver_conf(cores: int = 2, executor_memory_gb: int = 4) -> dict[str, str]:
    """Spark settings for a driver on this machine using the cluster's one worker."""
    return {
        "spark.driver.host": LOOPBACK,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.executor.cores": str(cores),
        "spark.cores.max": str(cores),
        "spark.executor.memory": f"{executor_memory_gb}g",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group (the daemon and what it launched), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _state(webui: int) -> dict:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{webui}/json", timeout=2) as response:
        return json.load(response)


@contextmanager
def standalone_cluster(
    cores: int = 2,
    memory_gb: int = 5,
    timeout: float = 120.0,
    log_dir: Path | None = None,
    report=None,
) -> Iterator[MasterUrl]:
    """Start a master and ONE worker on 127.0.0.1; yield ``spark://127.0.0.1:<port>``.

    ``memory_gb`` is what the worker offers to executors (``spark.executor.memory``
    must fit in it). ``PYSPARK_PYTHON`` (this interpreter: the driver sends it
    to the executors) and ``SPARK_LOCAL_IP`` are set in this process for the
    duration and restored afterwards.
    """
    say = report or (lambda message: None)
    home = spark_home()
    owned = log_dir is None
    root = Path(tempfile.mkdtemp(prefix="superstore-spark-cluster-")) if owned else log_dir
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("work", "local", "logs"):
        (root / sub).mkdir(exist_ok=True)
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": LOOPBACK,
        "SPARK_LOCAL_HOSTNAME": LOOPBACK,
        "SPARK_LOG_DIR": str(root / "logs"),
        "SPARK_WORKER_DIR": str(root / "work"),  # default is $SPARK_HOME/work: inside the venv
        "SPARK_LOCAL_DIRS": str(root / "local"),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_NO_DAEMONIZE": "1",
    }
    if java := java_home():
        env["JAVA_HOME"] = java
    port, webui, worker_webui = _free_port(), _free_port(), _free_port()
    master_url = f"spark://{LOOPBACK}:{port}"
    spark_class = str(home / "bin" / "spark-class")
    commands = {
        "master": [
            MASTER_CLASS, "--host", LOOPBACK, "--port", str(port), "--webui-port", str(webui),
        ],
        "worker": [
            WORKER_CLASS, master_url, "--host", LOOPBACK, "--webui-port", str(worker_webui),
            "--cores", str(cores), "--memory", f"{memory_gb}g", "--work-dir", str(root / "work"),
        ],
    }  # fmt: skip
    logs = {name: root / "logs" / f"{name}.log" for name in commands}
    # The driver (this process) gets the same Python and loopback address for the duration.
    driver_env = {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": LOOPBACK}
    previous = {key: os.environ.get(key) for key in driver_env}
    started = time.perf_counter()
    with ExitStack() as stack:
        if owned:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        procs: dict[str, subprocess.Popen] = {}

        def failure(why: str) -> ClusterError:
            tails = "\n".join(f"--- {n} ({logs[n]}):\n{_tail(logs[n])}" for n in procs)
            return ClusterError(f"Spark standalone cluster did not come up: {why}\n{tails}")

        for name in ("master", "worker"):  # the worker's stop is registered last: it runs first
            log = stack.enter_context(logs[name].open("wb"))
            proc = subprocess.Popen(
                ["bash", spark_class, *commands[name]],
                env=env,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )
            procs[name] = proc
            stack.callback(_stop, proc)
            if name == "master":  # the worker needs the master's port open
                _wait(lambda: _state(webui), procs, timeout, failure, "master web UI")
        state = _wait(
            lambda: _alive_worker(_state(webui), cores), procs, timeout, failure, "worker"
        )
        say(
            f"spark standalone master {master_url} (web UI http://{LOOPBACK}:{webui}), "
            f"worker {state['id']} {cores} cores {memory_gb} GB, up in "
            f"{time.perf_counter() - started:.1f} s; logs in {root / 'logs'}"
        )
        os.environ.update(driver_env)
        try:
            yield MasterUrl(master_url, f"http://{LOOPBACK}:{webui}", root / "logs")
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _alive_worker(state: dict, cores: int) -> dict:
    alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
    if state.get("aliveworkers", len(alive)) < 1 or not alive or alive[0].get("cores") != cores:
        raise LookupError("no alive worker yet")
    return alive[0]


def _wait(probe, procs, timeout, failure, what: str):
    """``probe()``'s value once it stops raising; fail fast if a daemon exits."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise failure(f"the {name} exited with code {proc.returncode}")
        try:
            return probe()
        except (OSError, ValueError, LookupError) as exc:  # not listening / not registered yet
            last = exc
        time.sleep(0.5)
    raise failure(f"no {what} after {timeout:.0f} s (last: {last})")
