"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from dummi.db.connection import Database, get_database
from dummi.services.embedding_queue import EmbeddingQueue, get_embedding_queue

DatabaseDep = Annotated[Database, Depends(get_database)]
EmbeddingQueueDep = Annotated[EmbeddingQueue, Depends(get_embedding_queue)]
