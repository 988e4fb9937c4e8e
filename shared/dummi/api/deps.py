"""FastAPI dependencies as ``Annotated`` aliases.

FastAPI runs a plain ``def`` dependency on its thread pool, one hop per dependency per request; these
return process-wide objects that exist after the first call, so they are ``async def`` and run inline.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from dummi.db.connection import Database, get_database
from dummi.db.replica import get_read_database
from dummi.services.embedding_queue import EmbeddingQueue, get_embedding_queue


async def database() -> Database:
    return get_database()


async def read_database() -> Database:
    return get_read_database()


async def embedding_queue() -> EmbeddingQueue:
    return get_embedding_queue()


DatabaseDep = Annotated[Database, Depends(database)]
# Reads that may come from the read replica (DATABASE_READ_URL), a little behind the primary; writes made
# through it still go to the primary (dummi.db.replica).
ReadDatabaseDep = Annotated[Database, Depends(read_database)]
EmbeddingQueueDep = Annotated[EmbeddingQueue, Depends(embedding_queue)]
