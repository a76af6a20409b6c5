"""The web server as production runs it (gunicorn with ``omni/gunicorn.py``, as
``bench api`` and ``bench soak`` start it): threaded workers that keep a client's connection open
between requests (sync workers closed it after every answer, so every request paid for a new TCP
connection)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.processes import BASE_DIR, free_port, wait_for, web_server_config

pytestmark = pytest.mark.integration


def test_gunicorn_conf_serves_keep_alive_connections_with_threaded_workers(tmp_path: Path):
    config = web_server_config()
    assert config["worker_class"] == "gthread" and config["threads"] > 1
    assert config["workers"] == (os.cpu_count() or 1) + 1
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "omni.settings", "WEB_WORKERS": "1", "WEB_THREADS": "2"}
    with open(tmp_path / "gunicorn.log", "wb") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "--config", "python:omni.gunicorn", "omni.wsgi:application",
             "--bind", f"127.0.0.1:{port}"], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def answers() -> bool:
                try:
                    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    probe.request("GET", "/health/live")
                    return probe.getresponse().status == 200
                except OSError:
                    return False

            wait_for(answers, timeout=60, interval=0.2, what="gunicorn answering")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            sockets = []
            for _ in range(3):
                conn.request("GET", "/health/live")
                res = conn.getresponse()
                assert res.status == 200 and res.read() == b'{"status": "ok"}'
                assert (res.getheader("Connection") or "").lower() != "close"
                sockets.append(conn.sock)
            assert sockets[0] is not None and sockets == [sockets[0]] * 3  # one TCP connection for all three
            conn.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    assert "Using worker: gthread" in (tmp_path / "gunicorn.log").read_text()
