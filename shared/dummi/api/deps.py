"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from dummi.db.connection import Database, get_database

DatabaseDep = Annotated[Database, Depends(get_database)]
