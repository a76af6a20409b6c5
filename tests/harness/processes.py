"""Process harness for the sync integration tests and ``bench``: a private redis-server on a
free port (which can be stopped and started again without touching the machine's shared Redis)
and a real Celery worker process (with embedded beat) bound to a given database."""

from __future__ import annotations

import http.client
import os
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self._ping, timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class WorkerProcess:
    """``celery -A omni worker -B`` in its own process group (so beat's child dies with it)."""

    def __init__(self, *, database_url: str, broker_url: str, logfile: Path, concurrency: int = 4, extra_env=None) -> None:
        self.database_url = database_url
        self.broker_url = broker_url
        self.logfile = logfile
        self.concurrency = concurrency
        self.extra_env = dict(extra_env or {})
        self.process: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None
        self._offset = 0
        self._lock = threading.RLock()
        self._wanted = False  # supervised: a worker that exits on its own is started again
        self._supervisor: threading.Thread | None = None
        self.restarts = 0

    def start(self, *, timeout: float = 30) -> None:
        """Start the worker and supervise it as systemd's ``Restart=always`` would: a worker that
        exits by itself (e.g. kombu giving up on a lost broker connection) is started again after
        a second. ``kill`` and ``stop`` end supervision until the next ``start``."""
        with self._lock:
            self._wanted = True
            self._spawn(timeout=timeout)
        if self._supervisor is None or not self._supervisor.is_alive():
            self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
            self._supervisor.start()

    def _supervise(self) -> None:
        while True:
            time.sleep(1.0)
            with self._lock:
                if not self._wanted:
                    return
                if self.process is not None and self.process.poll() is not None:
                    self.restarts += 1
                    if self._log is not None:
                        self._log.write(f"\n[harness] worker exited with {self.process.returncode}; restart #{self.restarts}\n".encode())
                        self._log.close()
                        self._log = None
                    try:
                        self._spawn(timeout=60)
                    except Exception:  # noqa: BLE001 - keep supervising; the next round tries again
                        continue

    def _spawn(self, *, timeout: float) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "omni.settings",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "REDIS_URL": self.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "OMNI_SYNC_SWEEP_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        self._offset = self.logfile.stat().st_size if self.logfile.exists() else 0
        self._log = open(self.logfile, "ab")  # noqa: SIM115
        celery = Path(sys.executable).with_name("celery")
        self.process = subprocess.Popen(
            [str(celery), "-A", "omni", "worker", "-B", "-s", str(self.logfile.with_suffix(".beat")),
             "-Q", "default,sync,imports", "-P", "threads", "-c", str(self.concurrency),
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for(self._ready, timeout=timeout, interval=0.1, what="celery worker ready")

    def _ready(self) -> bool:
        assert self.process is not None, "started just before"
        if self.process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {self.process.returncode}; see {self.logfile}")
        with open(self.logfile, "rb") as f:
            f.seek(self._offset)
            return b" ready." in f.read()

    def kill(self) -> None:
        """SIGKILL the worker and its beat child: no warm shutdown, no acknowledgement."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM (warm shutdown), SIGKILL after 10 s."""
        self._end(signal.SIGTERM)

    def _end(self, sig: signal.Signals) -> None:
        with self._lock:
            self._wanted = False  # the supervisor does not restart it
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
            self.process = None
            if self._log is not None:
                self._log.close()
                self._log = None


GUNICORN_CONF = BASE_DIR / "omni" / "gunicorn.py"


def web_server_config() -> dict:
    """The settings ``omni/gunicorn.py`` gives on this machine (workers, worker_class, threads ...)."""
    return {k: v for k, v in runpy.run_path(str(GUNICORN_CONF)).items() if not k.startswith("_") and k != "os"}


class ServedOmni:
    """Omni as production runs it, for the HTTP benchmarks (``bench api``, ``bench soak``): gunicorn
    with ``omni/gunicorn.py`` (threaded workers, keep-alive; ``workers`` processes,
    0: the file's default) on a free port of 127.0.0.1 and a real Celery worker, both on the
    current ``DATABASE_URL`` and ``broker_url``; logs in a temporary folder. ``start`` returns once
    ``/health/live`` answers; ``stop`` ends both (call it in a ``finally``)."""

    def __init__(self, *, workers: int, broker_url: str, prefix: str, request_timeout: int = 60,
                 worker_env: dict[str, str] | None = None) -> None:
        self.workers = workers or web_server_config()["workers"]
        self.threads = web_server_config()["threads"]
        self.workdir = Path(tempfile.mkdtemp(prefix=prefix))
        self.port = free_port()
        self.request_timeout = request_timeout
        # The worker sweeps as often as production does (allocation/sync/schedules.py: 30 s), not
        # every second as the sync integration tests' worker does (they kill it and the broker and
        # wait for the sweep): a benchmark must not pay for more sweeps than production would.
        self.worker = WorkerProcess(database_url=os.environ["DATABASE_URL"], broker_url=broker_url,
                                    logfile=self.workdir / "worker.log", concurrency=2,
                                    extra_env={"OMNI_SYNC_SWEEP_SECONDS": "30", "DJANGO_DEBUG": "false", **(worker_env or {})})
        self.server: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    def start(self, *, timeout: float = 60) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "omni.settings", "CELERY_TASK_ALWAYS_EAGER": "0",
               "LOG_LEVEL": "WARNING", "DJANGO_DEBUG": "false", "OMNI_API_RATE": "1000000/s", "PYTHONUNBUFFERED": "1"}
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self._log = open(self.workdir / "gunicorn.log", "wb")  # noqa: SIM115
        self.server = subprocess.Popen(
            [str(gunicorn), "--config", "python:omni.gunicorn", "omni.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--timeout", str(self.request_timeout)],
            cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.worker.start()
        wait_for(self._answers, timeout=timeout, interval=0.2, what="gunicorn answering")

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            conn.request("GET", "/health/live")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.server is not None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=30)
        if self._log is not None:
            self._log.close()
        self.worker.stop()
