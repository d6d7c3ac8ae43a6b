"""The store's API: linkers with their sealed secrets, and operations with their step log.

SQLite (in the state directory) by default; any SQLAlchemy URL otherwise (PostgreSQL for several replicas).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from servicelinker.store.crypto import SecretBox
from servicelinker.store.db import Base, LinkerRow, OperationRow, utcnow


def _key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


class StoredLinker(BaseModel):
    id: str
    source_id: str
    name: str
    body: dict[str, Any]
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    provisioning_state: str
    configurations: list[dict[str, Any]] = Field(default_factory=list)


class Step(BaseModel):
    name: str
    status: str  # Running, Succeeded, Failed, Skipped
    message: str = ""
    start_time: str
    end_time: str | None = None
    error: dict[str, Any] | None = None


class Operation(BaseModel):
    id: str
    resource_id: str
    kind: str
    status: str
    params: dict[str, Any] = Field(default_factory=dict)
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    steps: list[Step] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # concurrent readers while a create runs
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


class Store:
    def __init__(self, url: str, key_file: Path) -> None:
        self.engine = create_engine(url, future=True)
        if url.startswith("sqlite"):
            _sqlite_pragmas(self.engine)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._box = SecretBox(key_file)

    @classmethod
    def in_directory(cls, state_dir: Path) -> Store:
        state_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{state_dir / 'servicelinker.db'}", state_dir / "store.key")

    def session(self) -> Session:
        return self._session()

    # linkers -----------------------------------------------------------------------------------------------

    def _to_linker(self, row: LinkerRow) -> StoredLinker:
        secrets = json.loads(self._box.open(row.sealed_secrets)) if row.sealed_secrets else {}
        return StoredLinker(
            id=row.body.get("id", row.key),
            source_id=row.body.get("id", row.key).split("/providers/Microsoft.ServiceLinker/")[0],
            name=row.name,
            body=row.body,
            secrets=secrets,
            provisioning_state=row.provisioning_state,
            configurations=row.configurations or [],
        )

    def get_linker(self, linker_id: str) -> StoredLinker | None:
        with self.session() as s:
            row = s.get(LinkerRow, _key(linker_id))
            return self._to_linker(row) if row else None

    def list_linkers(self, source_id: str) -> list[StoredLinker]:
        with self.session() as s:
            rows = s.scalars(select(LinkerRow).where(LinkerRow.source_key == _key(source_id)).order_by(LinkerRow.name))
            return [self._to_linker(r) for r in rows]

    def put_linker(
        self,
        linker_id: str,
        source_id: str,
        name: str,
        body: dict[str, Any],
        secrets: dict[str, str],
        state: str,
        configurations: list[dict[str, Any]] | None = None,
    ) -> StoredLinker:
        sealed = self._box.seal(json.dumps(secrets)) if secrets else None
        with self.session() as s, s.begin():
            row = s.get(LinkerRow, _key(linker_id))
            if row is None:
                row = LinkerRow(key=_key(linker_id), source_key=_key(source_id), name=name)
                s.add(row)
            row.body = body
            row.sealed_secrets = sealed
            row.provisioning_state = state
            if configurations is not None:
                row.configurations = configurations
            kept = row.configurations or []
        return StoredLinker(
            id=linker_id,
            source_id=source_id,
            name=name,
            body=body,
            secrets=secrets,
            provisioning_state=state,
            configurations=kept,
        )

    def set_configurations(self, linker_id: str, configurations: list[dict[str, Any]]) -> None:
        with self.session() as s, s.begin():
            row = s.get(LinkerRow, _key(linker_id))
            if row is not None:
                row.configurations = configurations

    def set_linker_state(self, linker_id: str, state: str) -> None:
        with self.session() as s, s.begin():
            row = s.get(LinkerRow, _key(linker_id))
            if row is not None:
                row.provisioning_state = state
                row.body = {**row.body, "properties": {**row.body.get("properties", {}), "provisioningState": state}}

    def delete_linker(self, linker_id: str) -> bool:
        with self.session() as s, s.begin():
            row = s.get(LinkerRow, _key(linker_id))
            if row is None:
                return False
            s.delete(row)
            return True

    def rotate_keys(self) -> int:
        """Re-encrypt every sealed value with the newest key; returns the number of rows rewritten."""
        count = 0
        with self.session() as s, s.begin():
            for row in s.scalars(select(LinkerRow).where(LinkerRow.sealed_secrets.is_not(None))):
                assert row.sealed_secrets is not None
                row.sealed_secrets = self._box.rotate(row.sealed_secrets)
                count += 1
        return count

    # operations --------------------------------------------------------------------------------------------

    @staticmethod
    def _to_operation(row: OperationRow) -> Operation:
        return Operation(
            id=row.id,
            resource_id=row.resource_id,
            kind=row.kind,
            status=row.status,
            params=row.params or {},
            start_time=row.start_time,
            end_time=row.end_time,
            steps=[Step.model_validate(s) for s in row.steps or []],
            error=row.error,
            result=row.result,
        )

    def new_operation(self, resource_id: str, kind: str, params: dict[str, Any] | None = None) -> Operation:
        row = OperationRow(
            id=str(uuid.uuid4()),
            resource_key=_key(resource_id),
            resource_id=resource_id,
            kind=kind,
            params=params or {},
            status="Accepted",
            start_time=utcnow(),
            steps=[],
        )
        with self.session() as s, s.begin():
            s.add(row)
        return self._to_operation(row)

    def get_operation(self, operation_id: str) -> Operation | None:
        with self.session() as s:
            row = s.get(OperationRow, operation_id)
            return self._to_operation(row) if row else None

    def save_steps(self, operation_id: str, steps: list[Step], status: str = "Running") -> None:
        with self.session() as s, s.begin():
            row = s.get(OperationRow, operation_id)
            if row is not None:
                row.steps = [st.model_dump(mode="json") for st in steps]
                row.status = status

    def finish_operation(
        self,
        operation_id: str,
        status: str,
        *,
        error: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        with self.session() as s, s.begin():
            row = s.get(OperationRow, operation_id)
            if row is not None:
                row.status = status
                row.end_time = utcnow()
                row.error = error
                row.result = result

    def latest_operation(self, resource_id: str) -> Operation | None:
        with self.session() as s:
            row = s.scalars(
                select(OperationRow)
                .where(OperationRow.resource_key == _key(resource_id))
                .order_by(OperationRow.start_time.desc())
                .limit(1)
            ).first()
            return self._to_operation(row) if row else None
