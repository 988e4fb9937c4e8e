"""A real Redis (or Valkey) server for the result cache on a laptop: started and stopped by Dummi itself
(``dummi run --result-cache``, the tests), listening on a Unix socket under the data folder, keeping
nothing on disk, evicting the least recently used answers past ``maxmemory``. `make cache-setup` installs
Debian's redis-server where neither server is on the PATH."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import time
from pathlib import Path

SERVERS = ("valkey-server", "redis-server")


def server_binary() -> str | None:
    return next((found for name in SERVERS if (found := shutil.which(name))), None)


class LocalCacheServer:
    def __init__(self, folder: Path, *, maxmemory_mb: int = 256, port: int | None = None) -> None:
        binary = server_binary()
        if binary is None:
            raise RuntimeError("no redis-server or valkey-server on the PATH: run `make cache-setup`")
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket = self.folder / "cache.sock"
        self.socket.unlink(missing_ok=True)
        self.port = port
        args = [binary, "--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        args += ["--maxmemory", f"{maxmemory_mb}mb", "--maxmemory-policy", "allkeys-lru"]
        args += ["--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        args += ["--port", str(port or 0), "--bind", "127.0.0.1"]
        self._args = args
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket}?db=0"

    def start(self, timeout: float = 10.0) -> LocalCacheServer:
        log = (self.folder / "cache.log").open("ab")
        self.process = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        # redis: the cache extra, only when a result cache is configured
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        while True:
            try:
                client.ping()
                return self
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the cache server did not start (see {self.folder / 'cache.log'})") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
