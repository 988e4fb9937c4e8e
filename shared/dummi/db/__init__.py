"""Postgres access: connections (pg8000), migrations and the repositories, which hold all of the SQL."""

from dummi.db.connection import Database, get_database

__all__ = ["Database", "get_database"]
