"""Starts `fp4serve serve` on a free port for the integration tests and talks plain HTTP to it.

The binary comes from $FP4SERVE_BUILD/src/fp4serve (default: build/). The served model is the shipped
models/tiny-r1 (FP8 block weights, tokenizer and chat template)."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY_R1 = REPO / "models" / "tiny-r1"


def fp4serve_binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("FP4SERVE_BUILD", REPO / "build")) / "src" / "fp4serve"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build the project first (make build) or set FP4SERVE_BUILD")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process. Use as a context manager; stop() sends SIGTERM and returns the exit code."""

    def __init__(self, *args: str, model: pathlib.Path = TINY_R1):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="fp4serve-", suffix=".log", delete=False)
        cmd = [str(fp4serve_binary()), "serve", "-m", str(model), "--port", str(self.port), *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return pathlib.Path(self.log.name).read_text(errors="replace")

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200 and json.load(r)["status"] == "healthy":
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not healthy after {timeout} s:\n{self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> "Server":
        self.wait_healthy()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        os.unlink(self.log.name)

    # --- plain HTTP -------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                timeout: float = 120.0) -> tuple[int, dict, bytes]:
        """Returns (status, headers with lower-case names, body bytes). A dict/list body is sent as JSON."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def post_json(self, path: str, body, headers: dict | None = None) -> tuple[int, dict]:
        status, _, data = self.request("POST", path, body, headers)
        return status, json.loads(data) if data else {}

    def metrics(self, headers: dict | None = None) -> dict[str, float]:
        """/metrics parsed with prometheus_client: {'name{label=value,...}': value} for every sample."""
        from prometheus_client.parser import text_string_to_metric_families

        status, _, data = self.request("GET", "/metrics", headers=headers)
        assert status == 200, data
        out = {}
        for family in text_string_to_metric_families(data.decode()):
            for s in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "model_name")
                out[f"{s.name}{{{labels}}}"] = s.value
        return out

    def rss_kib(self) -> int:
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line")


def read_sse(response) -> list[str]:
    """The data payloads of an event-stream response (http.client), in order; comments skipped. Raises on a
    line that is neither data, a comment nor the blank line ending an event."""
    events, data = [], None
    for raw in response:
        line = raw.decode().rstrip("\r\n")
        if line == "":
            if data is not None:
                events.append(data)
                data = None
            continue
        if line.startswith(":"):
            continue
        assert line.startswith("data: "), f"not an SSE data line: {line!r}"
        assert data is None, "an event with two data lines"
        data = line[len("data: "):]
    assert data is None, "the stream ended inside an event"
    return events
