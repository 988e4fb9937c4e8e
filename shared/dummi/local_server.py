"""The laptop path: uvicorn serving every router (one process, or N with --workers) on the embedded Postgres."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread

from dummi.api.app import create_full_app
from dummi.config import get_settings
from dummi.db.connection import Database, get_database
from dummi.db.embedded import background_priority, stop_embedded_postgres
from dummi.db.migrations import migrate
from dummi.db.state_repository import StateRepository
from dummi.db.supervisor import EmbeddedSupervisor
from dummi.db.urls import resolve_database_url
from dummi.local_cache import LocalCacheServer
from dummi.ml.embeddings import get_embedder
from dummi.progress import BarProgress
from dummi.services import online_metrics_service
from dummi.services.recommendation_service import get_engine
from dummi.services.sample_data import load_sample_data
from dummi.training.embedding import embed_content, embed_user_interests

logger = logging.getLogger("dummi")

# The local server runs requests on a thread pool: give it a few connections (Lambda keeps one).
LOCAL_POOL_SIZE = "8"
# Threads that run request handlers in one server process (Starlette's default is 40). Requests here
# hold the GIL most of their time; more threads than connections only queue and contend for it.
SERVER_THREADS = int(os.environ.get("DUMMI_SERVER_THREADS", "8"))
# On SIGTERM (docker stop, a Kubernetes rollout) requests in flight get this long to finish before their
# connections are closed: inside the 10 s that Docker and Kubernetes wait before they kill.
GRACEFUL_SECONDS = 8


def _serving_app():
    """The full app, with the handler thread pool sized at start."""
    app = create_full_app()

    @asynccontextmanager
    async def lifespan(_app):
        anyio.to_thread.current_default_thread_limiter().total_tokens = SERVER_THREADS
        threading.Thread(target=_warm_up, name="dummi-warm-up", daemon=True).start()
        yield

    app.router.lifespan_context = lifespan
    return app


def _warm_up() -> None:
    """Load, beside the first requests, what they would otherwise each wait for: the served model, and
    the embedding model when writes are embedded in this process (~1 s of the first write otherwise)."""
    try:
        get_engine().recommender()
        if get_settings().dummi_embedding_mode == "background":
            get_embedder()
    except Exception:  # noqa: BLE001 - the first request that needs it loads it again and answers the error
        logger.warning("warm-up failed; loading on first use instead", exc_info=True)


def _metrics_process(database_url: str) -> None:
    """The online metrics job in a process of its own at the lowest CPU priority: as a thread of a serving
    process its Python held that process's GIL while requests waited (`make load`: the seconds after its first
    run were the slowest of every run)."""
    os.environ["DATABASE_URL"] = database_url
    os.nice(19)
    # Ctrl-C reaches the whole process group: the server stops this process itself (SIGTERM) on its way out
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    get_settings.cache_clear()
    stop, parent = threading.Event(), os.getppid()

    def watch_parent() -> None:  # a server killed without cleanup leaves no job running on its own
        while os.getppid() == parent:
            time.sleep(1.0)
        stop.set()

    threading.Thread(target=watch_parent, name="dummi-parent-watch", daemon=True).start()
    _metrics_job(stop)


def _metrics_job(stop: threading.Event) -> None:
    """The online metrics job of the metrics function (hourly in AWS), every DUMMI_METRICS_INTERVAL_SECONDS
    here (300 on make run), the first a minute after start (a claim in the database keeps two servers on one
    database from both running it)."""
    settings = get_settings()
    interval = settings.dummi_metrics_interval_seconds
    if interval <= 0:
        return
    wait = min(60.0, interval)
    job_db = None
    while not stop.wait(wait):
        try:
            if job_db is None:
                # Its own connection: on the embedded server its backend runs at the lowest CPU priority too,
                # without parallel workers, so that a run over a busy day's impressions does not stall the
                # requests that share these cores.
                url = resolve_database_url(settings)
                job_db = Database(url, pool_size=1)
            if "host=/" in url:  # a Unix socket: the server's backends are processes of this machine (each
                background_priority(job_db)  # run: a dropped connection comes back at normal priority)
            if job_db.autocommit(lambda conn: StateRepository(conn).claim("metrics_job", interval * 0.9)):
                done = online_metrics_service.run(job_db)
                logger.info("online metrics: %s", done)
        except Exception:  # noqa: BLE001 - the next round tries again
            logger.warning("online metrics job failed", exc_info=True)
        wait = interval


def prepare(sample_data: Path | None, *, embed: bool = True) -> None:
    """Start the database if embedded, apply migrations, load the sample data once, embed what is pending."""
    settings = get_settings()
    db = get_database()
    where = "DATABASE_URL" if settings.database_url else f"embedded Postgres in {settings.data_dir / 'pg'}"
    print(f"dummi: database: {where}", flush=True)
    applied = migrate(db)
    print(f"dummi: migrations: {', '.join(applied) if applied else 'up to date'}", flush=True)
    if sample_data is not None and sample_data.exists():
        result = load_sample_data(db, sample_data)
        if result.loaded:
            print(
                f"dummi: sample data loaded: {result.users} users, {result.content} content items, "
                f"{result.events} interactions",
                flush=True,
            )
        else:
            print("dummi: sample data: already loaded (or the database holds data of its own)", flush=True)
    if embed:
        embed_pending()


def embed_pending() -> None:
    """Export the ONNX model if this machine has none yet, then embed content and users waiting for it."""
    settings = get_settings()
    print(f"dummi: embedding model: ONNX in {settings.model_dir}", flush=True)
    embedder = get_embedder()
    bar = BarProgress()
    result = embed_content(
        get_database(), embedder, progress=bar.advance, on_plan=lambda n: bar.start("embedding content", n)
    )
    if result.embedded:
        bar.finish()
    embed_user_interests(get_database(), embedder)


def create_worker_app():
    """The app of one uvicorn worker process when ``dummi run --workers N`` runs several."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return _serving_app()


def serve(
    host: str,
    port: int,
    sample_data: Path | None,
    *,
    workers: int = 1,
    access_log: bool = True,
    result_cache: bool = False,
) -> None:
    """``dummi run``: the database ready, the helpers started, uvicorn until Ctrl-C or SIGTERM, then each
    helper stopped."""
    _local_defaults()
    # uvicorn is the server extra's: `dummi load-sample` and `dummi import --embed` use this module without it
    import uvicorn

    from dummi.local_http import HTTP_PROTOCOL  # uvicorn's protocol, so also the server extra's

    _log_and_stop_cleanly()
    prepare(sample_data)
    supervisor = _start_supervisor()
    cache = _start_result_cache(result_cache)
    _announce(host, port)
    metrics = _start_metrics_process()
    options = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": access_log,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "http": HTTP_PROTOCOL,  # a request uvicorn cannot parse: a JSON 400, as the spec says
    }
    try:
        if workers > 1:
            # Worker processes reach the database this process started (or DATABASE_URL) by its URL.
            os.environ["DATABASE_URL"] = resolve_database_url(get_settings())
            uvicorn.run("dummi.local_server:create_worker_app", factory=True, workers=workers, **options)
        else:
            uvicorn.run(_serving_app(), **options)
    finally:
        _stop_helpers(metrics, supervisor, cache)


def _local_defaults() -> None:
    """The settings of the laptop path, where the environment does not set them."""
    os.environ.setdefault("DUMMI_DB_POOL_SIZE", LOCAL_POOL_SIZE)
    # Past capacity, answer 503 + Retry-After at once rather than queue for seconds (per worker process).
    os.environ.setdefault("DUMMI_MAX_IN_FLIGHT", str(2 * SERVER_THREADS))
    # Writes are embedded by a worker thread right after they commit; training runs in a thread.
    os.environ.setdefault("DUMMI_EMBEDDING_MODE", "background")
    os.environ.setdefault("DUMMI_TRAINING_DISPATCH", "thread")
    # A model trained here is served within seconds (Lambda containers check every minute).
    os.environ.setdefault("DUMMI_MODEL_CHECK_SECONDS", "3")
    # Online metrics every 5 minutes (hourly in AWS), so a laptop trial sees its figures soon.
    os.environ.setdefault("DUMMI_METRICS_INTERVAL_SECONDS", "300")
    get_settings.cache_clear()
    get_database.cache_clear()


def _log_and_stop_cleanly() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # uvicorn re-raises the signal that stopped it; make SIGTERM (like Ctrl-C) unwind through `finally`
    # so the embedded Postgres is stopped cleanly rather than left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def _start_supervisor() -> EmbeddedSupervisor | None:
    """The embedded server is this process's: it is started again if it dies (None with DATABASE_URL)."""
    if get_settings().database_url:
        return None
    return EmbeddedSupervisor(get_settings().data_dir).start()


def _start_result_cache(wanted: bool) -> LocalCacheServer | None:
    """A redis-server of this process's for ``--result-cache`` unless DUMMI_RESULT_CACHE_URL names one."""
    if not wanted or get_settings().dummi_result_cache_url:
        return None
    cache = LocalCacheServer(get_settings().data_dir / "cache").start()
    os.environ["DUMMI_RESULT_CACHE_URL"] = cache.url  # the workers read it too
    get_settings.cache_clear()
    return cache


def _announce(host: str, port: int) -> None:
    if get_settings().dummi_result_cache_url:
        print(f"dummi: result cache: {get_settings().dummi_result_cache_url}", flush=True)
    if get_settings().auth_enabled:
        print("dummi: auth: on (DUMMI_AUTH=on): send X-API-Key; make one with `dummi keys create`", flush=True)
    else:
        print("dummi: auth: off, anyone on this machine can call the API (DUMMI_AUTH=on turns keys on)", flush=True)
    print(
        f"dummi: serving on http://{host}:{port} (console at /console, docs at /docs); Ctrl-C stops the server and"
        " the database",
        flush=True,
    )


def _start_metrics_process() -> multiprocessing.process.BaseProcess | None:
    """The online metrics job in a process of its own (none when DUMMI_METRICS_INTERVAL_SECONDS is 0)."""
    if get_settings().dummi_metrics_interval_seconds <= 0:
        return None
    spawn = multiprocessing.get_context("spawn")
    url = resolve_database_url(get_settings())
    metrics = spawn.Process(target=_metrics_process, args=(url,), name="dummi-metrics", daemon=True)
    metrics.start()
    return metrics


def _stop_helpers(
    metrics: multiprocessing.process.BaseProcess | None,
    supervisor: EmbeddedSupervisor | None,
    cache: LocalCacheServer | None,
) -> None:
    if metrics is not None:
        metrics.terminate()
        metrics.join(10)
    if supervisor is not None:
        supervisor.stop()  # before the server is stopped on purpose
    shutdown()  # settings were read before DATABASE_URL was set for the workers: an embedded server stops
    if cache is not None:
        cache.stop()
        print("dummi: result cache server stopped", flush=True)


def shutdown() -> None:
    settings = get_settings()
    get_database().close()
    if not settings.database_url:
        stop_embedded_postgres(settings.data_dir)
        print("dummi: embedded Postgres stopped", flush=True)
