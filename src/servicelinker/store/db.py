"""Tables of the resource provider's store: linkers (the ARM resources) and operations (the async log).

A linker's public body (never a secret) is stored as JSON; its write-only secrets (passwords, client secrets)
are stored separately, encrypted (see crypto.py). Ids are stored lowercased for lookups (ARM ids are
case-insensitive) with the id as written kept in the body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Index, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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

    __table_args__ = (Index("ix_operations_resource", "resource_key", "start_time"),)
