"""All SQL about the secrets the service makes for itself (service_secrets): made once, shared by every
process."""

from __future__ import annotations

from dummi.db.connection import Connection


class ServiceSecretsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get_or_create(self, name: str, candidate: bytes) -> bytes:
        """The stored secret ``name``; ``candidate`` becomes it when none is stored yet (the first process
        to ask wins, every other reads the winner's)."""
        self.conn.run(
            "INSERT INTO service_secrets (name, secret) VALUES (:name, :secret) ON CONFLICT (name) DO NOTHING",
            name=name,
            secret=candidate,
        )
        return bytes(self.conn.run("SELECT secret FROM service_secrets WHERE name = :name", name=name)[0][0])
