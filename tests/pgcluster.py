"""A throwaway PostgreSQL cluster for the distributed tests: initdb into a temporary folder as the `postgres`
user, pg_ctl on a loopback port, removed afterwards. Used by the `postgres_url` fixture in conftest.py."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class Unavailable(RuntimeError):
    """Why no cluster could be started (the fixture skips with this reason, or fails under CI)."""


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    raise Unavailable(f"PostgreSQL's {name} not found (install postgresql-15)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        self.initdb = _bin("initdb")
        self.pg_ctl = _bin("pg_ctl")
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hpsearch-pg-"))
        self.datadir = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            runuser = shutil.which("runuser")
            if runuser is None:
                raise Unavailable("running as root without runuser: cannot start PostgreSQL as `postgres`")
            self.as_user = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.root, user="postgres")
            os.chmod(self.root, 0o700)

    def _run(self, *cmd: str) -> None:
        r = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise Unavailable(f"{Path(cmd[0]).name} failed: {(r.stderr or r.stdout).strip()[-400:]}")

    def start(self) -> str:
        self._run(self.initdb, "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off -c max_connections=100"
        self._run(self.pg_ctl, "-D", str(self.datadir), "-o", opts, "-l", str(self.root / "server.log"), "-w", "start")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        except Unavailable:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
