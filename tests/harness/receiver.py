"""A reference webhook receiver (used by the integration tests and ``bench sync``): verifies the
signature, keeps the last sequence per SKU, drops stale or repeated updates, applies a delta when
the sequence is the next one and the absolute figure after a gap. Also the contract a channel
implements.

``…/snapshot`` takes a full availability snapshot instead (``{"available": {sku: figure}}``), as a
polling batch sync sends it: ``bench sync``'s baseline."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from allocation.sync.webhook import SIGNATURE_HEADER, signature_valid


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.available: dict[str, int] = {}
        self.sequence: dict[str, int] = {}
        self.event_sequence = 0
        self.events: list[dict] = []
        self.applied = 0
        self.duplicates = 0
        self.bad_signatures = 0
        self.requests = 0
        self.stale_applied = 0
        self.latencies_ms: list[float] = []
        self.snapshots_received: list[float] = []  # arrival time (epoch seconds) of each snapshot
        self.fail_status: int | None = None  # answer every request with this status (endpoint "down")
        self.hold = threading.Event()  # when set, apply then block before answering (ack lost)
        self.held = threading.Event()
        self._last_changed: dict[str, datetime] = {}
        self.server: ThreadingHTTPServer | None = None

    # -- the contract -------------------------------------------------------------------------
    def handle(self, body: bytes, header: str | None) -> int:
        received = time.time()
        with self.lock:
            self.requests += 1
            if self.fail_status is not None:
                return self.fail_status
            if not signature_valid(self.secret, body, header):
                self.bad_signatures += 1
                return 401
            for update in json.loads(body)["updates"]:
                if update["type"] == "event":
                    if update["sequence"] <= self.event_sequence:
                        self.duplicates += 1
                        continue
                    self.event_sequence = update["sequence"]
                    self.events.append(update)
                    continue
                sku, seq = update["sku"], update["sequence"]
                last = self.sequence.get(sku, 0)
                if seq <= last:
                    self.duplicates += 1
                    continue
                changed = datetime.fromisoformat(update["changed_at"])
                if sku in self._last_changed and changed < self._last_changed[sku]:
                    self.stale_applied += 1  # a newer sequence carrying an older computation
                self._last_changed[sku] = changed
                if seq == last + 1 and sku in self.available:
                    self.available[sku] += update["delta"]
                else:
                    self.available[sku] = update["available"]
                self.sequence[sku] = seq
                self.applied += 1
                self.latencies_ms.append((received - changed.timestamp()) * 1000)
        if self.hold.is_set():
            self.held.set()
            time.sleep(30)  # the caller is killed meanwhile; its acknowledgement never arrives
        return 200

    def handle_snapshot(self, body: bytes) -> int:
        """A full snapshot: every figure it carries replaces the receiver's."""
        received = time.time()
        with self.lock:
            self.requests += 1
            if self.fail_status is not None:
                return self.fail_status
            self.available.update(json.loads(body)["available"])
            self.snapshots_received.append(received)
        return 200

    # -- the HTTP server ----------------------------------------------------------------------
    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path.rstrip("/").endswith("/snapshot"):
                    code = receiver.handle_snapshot(body)
                else:
                    code = receiver.handle(body, self.headers.get(SIGNATURE_HEADER))
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
