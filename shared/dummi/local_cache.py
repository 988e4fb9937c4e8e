"""A real Redis (or Valkey) server for the result cache on a laptop: started and stopped by Dummi itself
(``dummi run --result-cache``, the tests), listening on a Unix socket under the data folder, keeping
nothing on disk, evicting the least recently used answers past ``maxmemory``. `make cache-setup` installs
Debian's redis-server where neither server is on the PATH.

A thread watches the server while it runs: when it dies (a crash, a stray ``kill -9``) it is started again on
the same socket, empty (a cache loses nothing that matters; the cache's clients step aside meanwhile), after
0, 1, 2, 4, 8 s; one that keeps dying (``max_tries`` starts within ``window_seconds``) is given up on with a
log line, and the service answers without a cache."""

from __future__ import annotations

import atexit
import logging
import shutil
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

logger = logging.getLogger(__name__)

SERVERS = ("valkey-server", "redis-server")
BACKOFF_SECONDS = (0.0, 1.0, 2.0, 4.0, 8.0)


def server_binary() -> str | None:
    return next((found for name in SERVERS if (found := shutil.which(name))), None)


class LocalCacheServer:
    def __init__(
        self,
        folder: Path,
        *,
        maxmemory_mb: int = 256,
        port: int | None = None,
        interval: float = 0.5,
        max_tries: int = 5,
        window_seconds: float = 600.0,
    ) -> None:
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
        self.interval, self.max_tries, self.window_seconds = interval, max_tries, window_seconds
        self.restarts = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket}?db=0"

    def start(self, timeout: float = 10.0) -> LocalCacheServer:
        """Start the server, wait until it answers, and watch it (started again when it dies)."""
        self._launch(timeout)
        atexit.register(self.stop)
        self._watcher = threading.Thread(target=self._watch, name="dummi-cache-supervisor", daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        tries: deque[float] = deque()
        while not self._stopping.wait(self.interval):
            code = self.process.poll() if self.process is not None else None
            if code is None:
                continue
            while tries and time.monotonic() - tries[0] > self.window_seconds:
                tries.popleft()
            if len(tries) >= self.max_tries:
                logger.error(
                    "dummi: the result cache's server died again after %d starts in %.0f s; given up on (answers go"
                    " on without a cache; see %s)",
                    len(tries),
                    self.window_seconds,
                    self.folder / "cache.log",
                )
                return
            logger.warning("dummi: the result cache's server stopped (exit code %s); starting it again", code)
            noticed = time.monotonic()
            if self._stopping.wait(BACKOFF_SECONDS[min(len(tries), len(BACKOFF_SECONDS) - 1)]):
                return
            tries.append(time.monotonic())
            try:
                self._launch()
                self.restarts += 1
                logger.warning("dummi: the result cache's server is back after %.1f s", time.monotonic() - noticed)
            except RuntimeError as exc:  # said; the next tick finds it dead and tries again, later
                logger.error("dummi: %s", exc)

    def _launch(self, timeout: float = 10.0) -> None:
        self.socket.unlink(missing_ok=True)
        log = (self.folder / "cache.log").open("ab")
        self.process = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT)
        log.close()  # the child has its own copy
        deadline = time.monotonic() + timeout
        # redis: the cache extra, only when a result cache is configured
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log_path = self.folder / "cache.log"
                        raise RuntimeError(f"the cache server did not start (see {log_path})") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        self._stopping.set()  # not started again once stopped on purpose
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=30)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
