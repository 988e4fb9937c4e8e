"""A real Postgres of the embedded server's binaries (the ``pgserver`` wheel) on a loopback TCP port, for the tests
(tests/conftest.py's ``tcp_postgres``, a read replica, the container tests) and the fault script
(tests/benchmarks/faults.py, "an external Postgres"). No pytest here: scripts import it too."""

from __future__ import annotations

import os
from pathlib import Path


class PostgresServer:
    """A real Postgres of the embedded server's binaries, listening on a loopback TCP port (the embedded one
    listens on a socket only), run as the pgserver user when the tests run as root (Postgres refuses root).
    For what needs TCP (Spark's JDBC reads) and for a primary with a streaming replica."""

    def __init__(self, folder: Path) -> None:
        import socket

        from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.data, self.user = folder, folder / "data", None
        if os.geteuid() == 0:
            import pwd

            self.user = "pgserver"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(folder)  # the folders above it open to that user, as pgserver does
            entry = pwd.getpwnam(self.user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        import subprocess

        from pgserver._commands import POSTGRES_BIN_PATH

        subprocess.run([str(POSTGRES_BIN_PATH / args[0]), *args[1:]], check=True, capture_output=True, user=self.user)

    def init(self) -> PostgresServer:
        self.run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--encoding=utf8")
        return self

    def replica_of(self, primary: PostgresServer) -> PostgresServer:
        """A streaming replica (hot standby) of ``primary``: a base backup that follows its WAL."""
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "-D", str(self.data),
                 "-R", "-X", "stream")  # fmt: skip
        return self

    def start(self) -> PostgresServer:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder}"
        self.run("pg_ctl", "-D", str(self.data), "-w", "-o", options, "-l", str(self.folder / "log"), "start")
        return self

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    @property
    def pid(self) -> int:
        """The postmaster's pid (postmaster.pid's first line)."""
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])
