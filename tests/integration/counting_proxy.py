"""A loopback HTTP proxy in front of the LLM server that counts every request.

Counting at the HTTP level, in a process of its own, sees the calls of every
PromptPilot process a test starts and kills: what "no paid call repeated"
is checked against.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass
class Call:
    path: str
    body_sha: str
    started: float
    finished: float | None = None


@dataclass
class CountingProxy:
    upstream: str  # e.g. http://127.0.0.1:PORT (no /v1)
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> CountingProxy:
        proxy = self
        client = httpx.Client(base_url=self.upstream, timeout=120)

        class Handler(BaseHTTPRequestHandler):
            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                call = Call(self.path, hashlib.sha256(body).hexdigest(), time.monotonic())
                if self.path.endswith("/chat/completions"):
                    with proxy._lock:
                        proxy.calls.append(call)
                headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                reply = client.request(method, self.path, content=body, headers=headers)
                self.send_response(reply.status_code)
                self.send_header(
                    "Content-Type", reply.headers.get("content-type", "application/json")
                )
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)
                call.finished = time.monotonic()

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
