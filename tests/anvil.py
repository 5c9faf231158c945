"""A real local Ethereum node (anvil, installed from npm by scripts/install-tools.sh), for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
ANVIL = ROOT / ".tools" / "node_modules" / ".bin" / "anvil"
FEB_2025 = 1738368000  # 2025-02-01T00:00:00Z: the genesis timestamp, so history can be laid in February 2025


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RpcFailure(Exception):
    pass


class Anvil:
    def __init__(self, chain_id: int = 1, extra_args: tuple[str, ...] = ()):
        if not ANVIL.exists():
            raise FileNotFoundError(f"anvil not installed at {ANVIL}: run scripts/install-tools.sh")
        self._home = tempfile.mkdtemp(prefix="anvil-home-")  # anvil keeps state snapshots under $HOME
        self._session = requests.Session()
        self._id = 0
        args = ["--quiet", "--chain-id", str(chain_id), "--timestamp", str(FEB_2025), "--auto-impersonate",
                "--max-persisted-states", "0", *extra_args]
        problem = ""
        for _attempt in range(3):  # a free port can be taken between choosing it and anvil binding it
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.proc = subprocess.Popen(
                [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), *args],
                env={**os.environ, "HOME": self._home}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            problem = self._wait_ready()
            if not problem:
                return
        raise RuntimeError(f"anvil did not start: {problem}")

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + 20
        while True:
            try:
                self.rpc("eth_chainId")
                return ""
            except requests.ConnectionError:
                if self.proc.poll() is not None:
                    return self.proc.stderr.read().decode(errors="replace")[:500] or f"exit {self.proc.returncode}"
                if time.monotonic() > deadline:
                    self.proc.kill()
                    self.proc.wait()
                    return "no answer within 20 s"
                time.sleep(0.05)

    def rpc(self, method: str, *params):
        self._id += 1
        body = self._session.post(self.url, json={"jsonrpc": "2.0", "id": self._id, "method": method,
                                                  "params": list(params)}, timeout=60).json()
        if "error" in body:
            raise RpcFailure(f"{method}: {body['error']}")
        return body["result"]

    def batch(self, calls: list[tuple[str, list]]) -> list:
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        answers = sorted(self._session.post(self.url, json=payload, timeout=300).json(), key=lambda a: a["id"])
        for a in answers:
            if "error" in a:
                raise RpcFailure(f"{calls[a['id']][0]}: {a['error']}")
        return [a["result"] for a in answers]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._session.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> "Anvil":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
