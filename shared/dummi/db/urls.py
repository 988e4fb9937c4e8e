"""Where the database is: DATABASE_URL, a Secrets Manager secret, or the embedded server."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from dummi.config import Settings
from dummi.db import embedded  # a module: embedded imports this one too


@dataclass(frozen=True)
class ConnectParams:
    """Keyword arguments for ``pg8000.native.Connection``, parsed from a postgresql:// URL."""

    user: str
    database: str
    password: str | None = None
    host: str = "localhost"
    port: int = 5432
    unix_sock: str | None = None
    ssl_mode: str = "prefer"
    extra: dict[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"user": self.user, "database": self.database, "password": self.password}
        if self.unix_sock:
            kw["unix_sock"] = self.unix_sock
        else:
            kw["host"], kw["port"] = self.host, self.port
            if self.ssl_mode in ("require", "verify-ca", "verify-full"):
                context = ssl.create_default_context()
                if self.ssl_mode == "require":
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                kw["ssl_context"] = context
        return kw


def parse_database_url(url: str) -> ConnectParams:
    """Parse ``postgresql://user:pass@host:port/db?host=/socket/dir&sslmode=require``.

    A ``host`` query parameter that is a path selects a Unix socket, as libpq does.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a postgresql:// URL: scheme {parts.scheme!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    port = parts.port or int(query.get("port", 5432))
    socket_dir = query.get("host") if query.get("host", "").startswith("/") else None
    database = unquote(parts.path.lstrip("/")) or "postgres"
    return ConnectParams(
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password) if parts.password else None,
        database=database,
        host=parts.hostname or "localhost",
        port=port,
        unix_sock=f"{socket_dir}/.s.PGSQL.{port}" if socket_dir else None,
        ssl_mode=query.get("sslmode", "prefer"),
    )


def url_from_secret(secret: dict[str, Any]) -> str:
    """Build a URL from an RDS-style secret (username, password, host, port, dbname); a host that is a path
    is a Unix-socket folder (local Postgres)."""
    user = quote(str(secret["username"]), safe="")
    password = quote(str(secret["password"]), safe="")
    host = str(secret["host"])
    port = int(secret.get("port", 5432))
    dbname = quote(str(secret.get("dbname", "dummi")), safe="")
    sslmode = secret.get("sslmode", "require")
    if host.startswith("/"):
        return f"postgresql://{user}:{password}@:{port}/{dbname}?host={quote(host)}&sslmode={sslmode}"
    return f"postgresql://{user}:{password}@{host}:{port}/{dbname}?sslmode={sslmode}"


def _url_from_secret_arn(arn: str, settings: Settings) -> str:
    """The URL in a Secrets Manager secret, read through Powertools Parameters (cached for max_age)."""
    # Powertools: only in Lambda (EMF, Parameters); elsewhere nothing imports it
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(arn, transform="json", max_age=settings.database_secret_max_age)
    return url_from_secret(secret)


def resolve_read_url(settings: Settings) -> str | None:
    """The read replica's URL (DATABASE_READ_URL, else DATABASE_READ_SECRET_ARN), or None: no replica."""
    if settings.database_read_url:
        return settings.database_read_url
    if settings.database_read_secret_arn:
        return _url_from_secret_arn(settings.database_read_secret_arn, settings)
    return None


def resolve_database_url(settings: Settings) -> str:
    """The URL to connect to now; called for every new connection, so a rotated secret is picked up."""
    if settings.database_url:
        return settings.database_url
    if settings.database_secret_arn:
        return _url_from_secret_arn(settings.database_secret_arn, settings)

    return embedded.start_embedded_postgres(settings.data_dir)
