"""A real, throwaway PostgreSQL server for the tests: Debian's binaries, a cluster made with initdb in a
temporary directory as an unprivileged user (initdb refuses root), password authentication (scram) over TCP on
a free 127.0.0.1 port, fsync off (a test cluster is thrown away), stopped and deleted at the end."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "tracer"
PASSWORD = "s3cret-pg-Passw0rd"  # the secrets tests look for it in every output


def server_binaries() -> Path | None:
    """The newest installed server's bin directory (Debian keeps each major version apart)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        """durable: fsync and synchronous commits on, as a real server runs (the scale benchmark); off, a test
        cluster saves the disk's flushes. settings: more server parameters (postgresql.conf's names)."""
        self.durable = durable
        self.settings = settings or {}
        self.bin = server_binaries()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); run scripts/setup.sh")
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tracer-pg-"))
        self.proc: subprocess.Popen | None = None
        # as root, the cluster belongs to an unprivileged account: Debian's postgres user, else nobody
        self.account = None
        if os.getuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.account = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/tracer"

    def url_for(self, case: str) -> str:
        return f"{self.url}?case={case}"

    def _run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("user", self.account.pw_uid if self.account else None)
        kw.setdefault("group", self.account.pw_gid if self.account else None)
        return subprocess.run(args, check=True, capture_output=True, text=True, **kw)

    def start(self) -> "PostgresServer":
        data, sockets, pwfile = self.dir / "data", self.dir / "sockets", self.dir / "pwfile"
        sockets.mkdir()
        pwfile.write_text(PASSWORD + "\n")
        if self.account:
            for p in (self.dir, sockets, pwfile):
                os.chown(p, self.account.pw_uid, self.account.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
                  "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        log = open(self.dir / "server.log", "w")
        if self.account:
            os.chown(log.name, self.account.pw_uid, self.account.pw_gid)
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={sockets}", "-c", "max_connections=50",
             *(() if self.durable else ("-c", "fsync=off", "-c", "synchronous_commit=off",
                                        "-c", "full_page_writes=off")),
             *(arg for k, v in self.settings.items() for arg in ("-c", f"{k}={v}"))],
            stdout=log, stderr=subprocess.STDOUT,
            user=self.account.pw_uid if self.account else None,
            group=self.account.pw_gid if self.account else None)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("PostgreSQL did not start: " + (self.dir / "server.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("PostgreSQL did not listen within 30 s")
        self.sql("postgres", "CREATE DATABASE tracer")
        return self

    def sql(self, database: str, statement: str) -> None:
        import psycopg

        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD,
                                     dbname=database, autocommit=True) as conn:
                    conn.execute(statement)
                return
            except psycopg.OperationalError:  # still starting up ("the database system is starting up")
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # smart shutdown would wait for clients; SIGTERM
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
