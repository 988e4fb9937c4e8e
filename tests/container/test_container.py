"""The API image and `dummi train` in it, built and run for real with Podman (runc) on a base image made here
with debootstrap (no registry is reachable): slim, non-root, no torch, a health check; the seed's curl examples
against the container, training as a one-off container, a restart that keeps the data, and SIGTERM letting a
request in flight finish before the container stops within a bound. Needs root, podman, runc and debootstrap
(`make container-setup`); skipped with a note otherwise. The first build takes minutes (the base image ~1 min,
the Python dependencies ~1-3 min); later ones reuse Podman's cache of both."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dummi.db.connection import Database
from tests.browser.console_server import free_port
from tests.conftest import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
CA = "/etc/ssl/certs/ca-certificates.crt"
# This kernel's cgroup setup fails crun; runc runs. Root's default ulimits are too high for runc's checks.
RUNTIME = ["--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
BASE = f"localhost/dummi-base:bookworm-{hashlib.sha256(BASE_PACKAGES.encode()).hexdigest()[:8]}"
IMAGE = "localhost/dummi-ai:test"
STOP_BOUND_SECONDS = 10  # what Docker and Kubernetes wait before they kill

pytestmark = pytest.mark.timeout(1800)


def _missing() -> str | None:
    tools = [t for t in ("podman", "runc", "debootstrap", "curl") if shutil.which(t) is None]
    if tools:
        return f"needs {', '.join(tools)} (`make container-setup` installs them on Debian, as root)"
    if os.geteuid() != 0:
        return "the container tests run Podman as root (rootless Podman is not set up by the project)"
    return None


if _missing():
    pytest.skip(_missing(), allow_module_level=True)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *RUNTIME, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def base_image(tmp_path_factory) -> str:
    """Debian bookworm (minbase) with python3, made with debootstrap from Debian's packages and imported; kept
    by a tag naming its recipe, so a machine makes it once."""
    if podman("image", "exists", BASE, check=False).returncode == 0:
        return BASE
    root = tmp_path_factory.mktemp("rootfs")
    started = time.monotonic()
    made = subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(root),
         "http://deb.debian.org/debian"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"debootstrap could not make a base image here: {made.stderr[-500:]}")
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(["podman", "import", "-", BASE], stdin=tar.stdout, capture_output=True, timeout=300)
    tar.wait()
    assert imported.returncode == 0, imported.stderr
    shutil.rmtree(root, ignore_errors=True)
    print(f"\nbase image {BASE}: {time.monotonic() - started:.0f} s")
    return BASE


@pytest.fixture(scope="module")
def image(base_image: str) -> str:
    """The repository's Dockerfile, FROM the local base (a build argument), pip through the host's CA bundle."""
    started = time.monotonic()
    build = podman(
        "build", *RUNTIME, *LIMITS, "--network", "host", "--format", "docker",  # docker format keeps HEALTHCHECK
        "-v", f"{CA}:{CA}:ro", "--build-arg", f"BASE={base_image}", "--build-arg", f"PIP_CERT={CA}",
        "-t", IMAGE, str(ROOT),
        timeout=1500,
    )  # fmt: skip
    size = int(podman("image", "inspect", IMAGE, "--format", "{{.Size}}").stdout)
    print(f"\nimage {IMAGE}: built in {time.monotonic() - started:.0f} s, {size / 1e6:.0f} MB")
    assert "Successfully tagged" in build.stdout + build.stderr
    return IMAGE


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    server = PostgresServer(tmp_path_factory.mktemp("container-postgres")).init().start()
    yield server
    server.stop()


@pytest.fixture
def env_file(tmp_path, postgres) -> Path:
    """.env.example as a user fills it in: the database is the test's Postgres (on the host's loopback)."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    filled = [f"DATABASE_URL={postgres.url}" if line.startswith("DATABASE_URL=") else line for line in lines]
    path = tmp_path / ".env"
    path.write_text("\n".join(filled) + "\n")
    return path


class Container:
    def __init__(self, image: str, env_file: Path, name: str) -> None:
        self.image, self.env_file, self.name = image, env_file, name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.volume = f"{name}-data"

    def run(self) -> float:
        """Start it; seconds until /health answers."""
        started = time.monotonic()
        podman("run", "-d", "--name", self.name, "--network", "host", *LIMITS, "--env-file", str(self.env_file),
               "-e", f"PORT={self.port}", "-v", f"{self.volume}:/data", self.image)  # fmt: skip
        return self.wait_healthy(started)

    def wait_healthy(self, started: float, timeout: float = 120) -> float:
        while time.monotonic() - started < timeout:
            state = podman("inspect", self.name, "--format", "{{.State.Status}}").stdout.strip()
            if state not in ("running", "created", "configured"):
                raise AssertionError(f"container {state}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not healthy in {timeout} s:\n{self.logs()}")

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def remove(self) -> None:
        podman("rm", "-f", "-t", "0", self.name, check=False)
        podman("volume", "rm", "-f", self.volume, check=False)


@pytest.fixture
def container(request, image, env_file, postgres):
    box = Container(image, env_file, f"dummi-test-{request.node.name[:20].replace('_', '-')}-{os.getpid()}")
    box.remove()
    yield box
    box.remove()


def curl(base: str, method: str, path: str, body: dict | None = None) -> dict:
    """One of the seed's curl examples, as written (curl -X METHOD URL -H ... -d '...')."""
    args = ["curl", "-sS", "-X", method, f"{base}{path}", "-H", "Content-Type: application/json"]
    if body is not None:
        args += ["-d", json.dumps(body, indent=2)]
    done = subprocess.run([*args, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=60, check=True)
    text, status = done.stdout.rsplit("\n", 1)
    assert status.startswith("2"), (method, path, status, text)
    return json.loads(text) if text.strip() else {}


# The seed's "Example Usage" steps 1 and 2, as written.
SEED = [
    ("POST", "/users/", {"user_id": "alice", "interests": ["machine-learning", "python"],
                         "skill_level": "intermediate"}),
    ("POST", "/users/", {"user_id": "bob", "interests": ["python", "web-development"], "skill_level": "beginner"}),
    ("POST", "/content/", {"content_id": "tut1", "title": "ML for Beginners", "category": "machine-learning",
                           "tags": ["tutorial", "beginner", "python"]}),
    ("POST", "/content/", {"content_id": "tut2", "title": "Web Dev with FastAPI", "category": "web-development",
                           "tags": ["tutorial", "python", "fastapi"]}),
    ("POST", "/recommendations/feedback", {"user_id": "alice", "content_id": "tut1", "feedback_type": "positive"}),
    ("POST", "/recommendations/feedback", {"user_id": "bob", "content_id": "tut2", "feedback_type": "positive"}),
]  # fmt: skip


def test_the_image_is_non_root_without_torch_with_a_health_check(image):
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "dummi" and "8000/tcp" in config["ExposedPorts"]
    assert "/health" in " ".join(inspected["Healthcheck"]["Test"])  # kept: built in docker format
    assert config["Cmd"] == ["dummi", "run", "--no-sample"] and config["StopSignal"] == "SIGTERM"
    probe = "import importlib.util as u, os; print(os.getuid(), u.find_spec('torch'), u.find_spec('pgserver'))"
    out = podman("run", "--rm", "--network", "none", *LIMITS, image, "python3", "-c", probe).stdout.split()
    assert out == ["10001", "None", "None"]  # not root; no torch; no embedded Postgres (DATABASE_URL is the way)
    assert podman("run", "--rm", "--network", "none", *LIMITS, image, "ls", "/opt/model").stdout.split()


def test_the_seeds_curl_examples_a_one_off_training_a_restart_and_a_backup(container, env_file, postgres):
    seconds = container.run()
    print(f"\nstart-up, empty database (migrations included) to /health: {seconds:.1f} s")
    assert podman("healthcheck", "run", container.name, check=False).returncode == 0
    base = container.base
    for method, path, body in SEED:
        curl(base, method, path, body)
    run = curl(base, "POST", "/training/train", {"retrain_cf": True, "regenerate_embeddings": True})
    deadline = time.monotonic() + 120
    while curl(base, "GET", "/training/status")["active"] and time.monotonic() < deadline:
        time.sleep(0.5)
    finished = curl(base, "GET", "/training/status")["runs"][0]
    assert finished["run_id"] == run["run_id"] and finished["state"] == "succeeded", finished
    # each server process looks for a new model every 3 s (DUMMI_MODEL_CHECK_SECONDS): ask until it serves it
    deadline = time.monotonic() + 30
    while True:
        answer = curl(base, "POST", "/recommendations/", {"user_id": "alice", "n_recommendations": 5})
        if answer["model_version"] == finished["model_version"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answer["model_version"] == finished["model_version"]
    assert [r["content_id"] for r in answer["recommendations"]] == ["tut2"]  # tut1 is alice's already

    # training as a one-off container of the same image (what a cron or a Kubernetes CronJob runs)
    trained = podman("run", "--rm", "--network", "host", *LIMITS, "--env-file", str(env_file),
                     "-v", f"{container.volume}:/data", container.image, "dummi", "train", timeout=600)  # fmt: skip
    report = json.loads(trained.stdout)  # the run as JSON on stdout; progress goes to stderr
    assert report["state"] == "succeeded" and report["decision"]["action"] in ("published", "kept"), report
    runs = curl(base, "GET", "/training/status")["runs"]
    assert runs[0]["run_id"] == report["run_id"] and runs[0]["trigger"] == "cli", runs[0]

    podman("restart", "-t", "20", container.name, timeout=120)
    print(f"restart to /health: {container.wait_healthy(time.monotonic()):.1f} s")
    assert curl(base, "GET", "/users/alice")["history"] == ["tut1"]
    assert curl(base, "GET", "/content/tut2")["title"] == "Web Dev with FastAPI"
    after = curl(base, "POST", "/recommendations/", {"user_id": "alice", "n_recommendations": 5})
    assert after["model_version"] == runs[0]["model_version"]  # the model in the volume, loaded again at start

    # a backup made inside the running container (the image carries pg_dump 16), restored by a one-off container
    # into an empty database and an empty artifact folder; a server on those answers as this one does
    made = podman("exec", container.name, "dummi", "backup", "--out", "/data/backup.tar", timeout=300)
    assert "wrote /data/backup.tar" in made.stdout, made.stderr
    name = f"restored_{os.getpid()}"
    Database(postgres.url).read(lambda conn: conn.run(f'CREATE DATABASE "{name}"'))
    target = [
        "-e",
        f"DATABASE_URL={postgres.url.rsplit('/', 1)[0]}/{name}",
        "-e",
        "ARTIFACTS_URI=file:///data/restored",
    ]
    restored = podman("run", "--rm", "--network", "host", *LIMITS, *target, "-v", f"{container.volume}:/data",
                      container.image, "dummi", "restore", "--from", "/data/backup.tar", timeout=300)  # fmt: skip
    assert "restored" in restored.stdout and runs[0]["model_version"] in restored.stdout, restored.stderr
    twin = Container(container.image, env_file, f"{container.name}-twin")
    twin.volume = container.volume
    try:
        podman("run", "-d", "--name", twin.name, "--network", "host", *LIMITS, "--env-file", str(env_file), *target,
               "-e", f"PORT={twin.port}", "-v", f"{twin.volume}:/data", twin.image)  # fmt: skip
        twin.wait_healthy(time.monotonic())
        assert curl(twin.base, "GET", "/users/alice") == curl(base, "GET", "/users/alice")
        question = {"user_id": "alice", "n_recommendations": 5, "preview": True}
        mine, theirs = (curl(b, "POST", "/recommendations/", question) for b in (base, twin.base))
        assert theirs["recommendations"] == mine["recommendations"] and theirs["model_version"] == mine["model_version"]
    finally:
        podman("rm", "-f", "-t", "0", twin.name, check=False)


def test_sigterm_finishes_the_request_in_flight_and_stops_within_the_bound(container):
    container.run()
    body = json.dumps({"user_id": "nobody-yet", "n_recommendations": 3}).encode()
    head = (
        f"POST /recommendations/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", container.port), timeout=30) as s:
        s.sendall(head + body[:5])  # the request is in flight: the server waits for the rest of its body
        time.sleep(0.5)
        stopped = time.monotonic()
        podman("kill", "--signal", "TERM", container.name)
        time.sleep(1.0)
        with pytest.raises(httpx.HTTPError):  # new connections are no longer taken
            httpx.get(f"{container.base}/health", timeout=2)
        s.sendall(body[5:])
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404"), answer[:300]  # answered in full (an unknown user is a 404)
    assert b'"field":"user_id"' in answer
    podman("wait", container.name, timeout=60)
    took = time.monotonic() - stopped
    state = json.loads(podman("inspect", container.name).stdout)[0]["State"]
    print(f"\nSIGTERM to exit, with a request in flight: {took:.1f} s (exit code {state['ExitCode']})")
    assert state["ExitCode"] == 0 and took < STOP_BOUND_SECONDS, (took, container.logs())
