"""Tables of the resource provider's store: linkers (the ARM resources) and operations (the async log).

A linker's public body (never a secret) is stored as JSON; its write-only secrets (passwords, client secrets)
are stored separately, encrypted (see crypto.py). Ids are stored lowercased for lookups (ARM ids are
case-insensitive) with the id as written kept in the body.

The schema is owned by the alembic migrations in `migrations/` (see migrate.py); these classes must match the
head revision (a unit test compares them). An operation is claimed by one process at a time: `owner` names it
(`host:pid:uuid`) and `claimed_until` is its lease, renewed while it runs; `attempts` counts the claims, so a
resumed operation can be given up after too many.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, LargeBinary, String, Text, event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicelinker.model.records import ACTIVE_STATUSES

__all__ = ["ACTIVE_STATUSES", "Base", "LinkerRow", "OperationRow", "is_sqlite", "make_engine", "utcnow"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class LinkerRow(Base):
    __tablename__ = "linkers"

    key: Mapped[str] = mapped_column(String(1024), primary_key=True)  # lowercased linker id
    source_key: Mapped[str] = mapped_column(String(1024), index=True)  # lowercased source resource id
    name: Mapped[str] = mapped_column(String(256))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # LinkerResource as returned by GET (no secrets)
    sealed_secrets: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The delivered configurations with credential values blanked (what list-configuration returns).
    configurations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    provisioning_state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class OperationRow(Base):
    __tablename__ = "operations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_key: Mapped[str] = mapped_column(String(1024))
    resource_id: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(32))  # create, update, delete, validate
    status: Mapped[str] = mapped_column(String(32))  # Accepted, Running, Succeeded, Failed, Canceled
    start_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    end_time: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # e.g. {"cleanup": true} for a delete
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    owner: Mapped[str | None] = mapped_column(Text, nullable=True)  # which process runs it (for resumption)
    #: The owner's lease: past this instant (or NULL) an Accepted/Running operation may be claimed.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: How many times the operation was claimed (1 = first run; more = resumed after a stop or an error).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Why the last attempt ended without finishing the operation (for the final reason when giving up).
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_operations_resource", "resource_key", "start_time"),
        Index("ix_operations_claim", "status", "claimed_until"),
    )



def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here (the driver we ship), not psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for the store.

    SQLite: WAL (readers go on while a writer commits), a busy timeout, and SQLAlchemy emitting BEGIN itself
    (the sqlite3 driver's own transaction handling is switched off) so that a connection with the execution
    option `sqlite_begin="IMMEDIATE"` takes the database's write lock when its transaction starts: writers then
    queue on the busy timeout instead of failing on a read-to-write upgrade, and a read-then-write (a claim, a
    migration) is atomic. PostgreSQL: pre-ping, so a restarted database does not fail the next request.
    """
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN (below), the driver stays out of it
            cur = dbapi_conn.cursor()
            # The busy timeout first: switching a new database to WAL takes a lock that a concurrent first open
            # may hold, and without the timeout that fails at once ("database is locked").
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA journal_mode=WAL")  # concurrent readers while a create runs
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_pre_ping=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
