"""Which chunk of a fanned-out batch each file belongs to, kept in the catalog.

Chunk runs of ``ingest-chunk`` are Prefect flow runs, and Prefect shows flow run parameters in its dashboard.
File names can carry a person's name or resident ID (``钟燕_登记表.png``), so a chunk run is given a plan token
and a chunk number; it reads its file names from the ``batch_file`` rows written here.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import BatchFile
from dangan.ingest.register import insert_or_get

PLANNED = "planned"  # the outcome of a file no chunk has reached yet (still there if its chunk run failed)


def record_chunk_plan(catalog_url: str, batch_id: str, chunks: list[list[str]]) -> str:
    """Note each file's chunk number under a new plan token; returns the token (for the chunk runs)."""
    token = secrets.token_hex(8)
    with session_scope(catalog_url) as s:
        for number, names in enumerate(chunks):
            for name in names:
                row = insert_or_get(s, BatchFile, {"batch_id": batch_id, "name": name}, {"outcome": PLANNED})
                # a new dict: SQLAlchemy sees a JSON column change only on assignment
                row.details = {**(row.details or {}), "plan": token, "chunk": number}
    return token


def chunk_names(catalog_url: str, batch_id: str, token: str, chunk: int) -> list[str]:
    """The file names of chunk ``chunk`` of plan ``token``, in plan order (empty for an unknown plan)."""
    with session_scope(catalog_url) as s:  # JSON paths: SQLite json_extract, PostgreSQL ->>
        stmt = select(BatchFile.name).where(
            BatchFile.batch_id == batch_id,
            BatchFile.details["plan"].as_string() == token,
            BatchFile.details["chunk"].as_integer() == chunk,
        )
        return list(s.scalars(stmt.order_by(BatchFile.id)))
