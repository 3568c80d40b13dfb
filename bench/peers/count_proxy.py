"""A loopback HTTP proxy in front of the llama.cpp server that counts every request.

Stdlib only, so it runs in the DSPy venv (and anywhere else). Counting at the HTTP
level sees every call a library makes, retries and fallbacks included, whatever
its own bookkeeping says. Counts are kept per *phase* (a label the runner sets,
e.g. ``sentiment/s0/mipro/compile``), so optimization and test-scoring calls are
counted apart. It also counts chat requests sent without ``max_tokens`` (an
uncapped answer can run to the context limit on this server) and sums the token
usage the server reports.

In-process: ``proxy = CountingProxy(upstream).start(); proxy.set_phase("x")``.
Standalone: ``python count_proxy.py --upstream http://127.0.0.1:P [--port Q]
[--counts-file F]``; ``GET /__proxy/counts`` returns the counts as JSON and
``POST /__proxy/phase`` with ``{"phase": "..."}`` switches the phase.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CONTROL = "/__proxy/"
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def _new_counts() -> dict[str, Any]:
    return {
        "requests": 0,
        "chat": 0,
        "uncapped_chat": 0,
        "errors": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "seconds": 0.0,
    }


class CountingProxy:
    """Forwards every request to ``upstream`` and counts it under the current phase."""

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        counts_file: Path | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"upstream must be http://HOST:PORT, got {upstream!r}")
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port or 80
        self.host, self.port = host, port
        self.counts_file = counts_file
        self.timeout_s = timeout_s
        self.phase = "default"
        self.phases: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ----------------------------------------------------------------- counting

    def set_phase(self, phase: str) -> None:
        """Count the requests from now on under ``phase``."""
        with self._lock:
            self.phase = phase
            self.phases.setdefault(phase, _new_counts())

    def counts(self, phase: str | None = None) -> dict[str, Any]:
        """A copy of one phase's counts (all phases and their total when ``phase`` is None)."""
        with self._lock:
            if phase is not None:
                return dict(self.phases.get(phase, _new_counts()))
            total = _new_counts()
            for counts in self.phases.values():
                for key, value in counts.items():
                    total[key] += value
            return {
                "phase": self.phase,
                "total": total,
                "phases": json.loads(json.dumps(self.phases)),
            }

    def _record(self, path: str, body: bytes, status: int, reply: bytes, seconds: float) -> None:
        chat = path.split("?")[0].rstrip("/").endswith("/completions")  # chat or text
        uncapped = False
        usage: dict[str, Any] = {}
        if chat:
            try:
                uncapped = "max_tokens" not in json.loads(body or b"{}")
            except ValueError:
                uncapped = True
            try:
                usage = json.loads(reply).get("usage") or {}
            except (ValueError, AttributeError):
                usage = {}
        with self._lock:
            counts = self.phases.setdefault(self.phase, _new_counts())
            counts["requests"] += 1
            counts["chat"] += int(chat)
            counts["uncapped_chat"] += int(uncapped)
            counts["errors"] += int(status >= 400)
            counts["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
            counts["completion_tokens"] += int(usage.get("completion_tokens") or 0)
            counts["seconds"] += seconds
        if self.counts_file is not None:
            self._write_counts()

    def _write_counts(self) -> None:
        assert self.counts_file is not None
        tmp = self.counts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.counts(), indent=1))
        tmp.replace(self.counts_file)

    # ------------------------------------------------------------------ serving

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self.upstream_host, self.upstream_port, timeout=self.timeout_s
        )
        try:
            connection.request(method, path, body=body or None, headers=headers)
            reply = connection.getresponse()
            return reply.status, reply.getheaders(), reply.read()
        finally:
            connection.close()

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method == "GET" and path == CONTROL + "counts":
            return 200, json.dumps(self.counts()).encode()
        if method == "POST" and path == CONTROL + "phase":
            try:
                self.set_phase(str(json.loads(body)["phase"]))
            except (ValueError, KeyError, TypeError):
                return 400, b'{"error": "send {\\"phase\\": \\"NAME\\"}"}'
            return 200, json.dumps({"phase": self.phase}).encode()
        return 404, b'{"error": "unknown proxy control path"}'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in _HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith(CONTROL):
                    status, reply = proxy._control(method, self.path, body)
                    self._reply(status, [("Content-Type", "application/json")], reply)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                started = time.monotonic()
                try:
                    status, reply_headers, reply = proxy._forward(method, self.path, headers, body)
                except OSError as exc:  # upstream down or timed out: still a request sent
                    status, reply_headers = 502, [("Content-Type", "application/json")]
                    reply = json.dumps({"error": f"proxy: upstream failed: {exc}"}).encode()
                proxy._record(self.path, body, status, reply, time.monotonic() - started)
                self._reply(status, reply_headers, reply)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def start(self) -> CountingProxy:
        """Listen (in a daemon thread) and return self; ``port`` 0 picks a free port."""
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL clients should use (ends in ``/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def main(argv: list[str] | None = None) -> None:
    """Run the proxy in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT (no /v1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--counts-file", type=Path, help="rewrite the counts here after each call")
    args = parser.parse_args(argv)
    proxy = CountingProxy(args.upstream, port=args.port, counts_file=args.counts_file).start()
    print(f"counting proxy on {proxy.base_url} -> {args.upstream}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()


if __name__ == "__main__":
    main()
