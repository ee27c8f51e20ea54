"""Catalog table of replica copies of masters (定期检测和拷贝): which object, at which target, verified when.

Kept in its own module (like ``validation_models``) so replication adds a table without editing ``models.py``;
it shares ``Base`` and joins the metadata Alembic compares against through the import at the end of
``models.py``. Written by ``dangan.replication``; read by repair by content (a recorded SM3 is checked too).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dangan.catalog.models import Base, utcnow


class Replica(Base):
    """One master's copy at one replica target, as last verified by re-reading it.

    ``status``: ``ok`` (bytes re-hashed to ``sha256`` at ``verified_at``), ``missing`` or ``damaged`` (found so
    by a replica audit; the next replication run brings the copy back). ``sm3`` is the SM3 of the bytes read
    back, when this OpenSSL has SM3.
    """

    __tablename__ = "replica"
    __table_args__ = (UniqueConstraint("target", "object_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"), index=True)
    object_key: Mapped[str] = mapped_column(String(500), index=True)
    target: Mapped[str] = mapped_column(String(40))
    target_key: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    sm3: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    last_error: Mapped[str | None] = mapped_column(String(100))
    copied_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)
