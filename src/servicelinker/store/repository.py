"""The store's API: linkers with their sealed secrets, and operations with their step log and claims.

SQLite (in the state directory) by default; PostgreSQL (`postgresql://...`, psycopg 3) for several replicas. Other
SQLAlchemy backends are not supported (the upsert and the claim use dialect-specific SQL).

Opening a Store migrates its database to the newest schema (migrate.py). Writes are race-free across processes:

- `put_linker` is one `INSERT ... ON CONFLICT (key) DO UPDATE`, so two servers PUTting the same linker leave one row;
- an operation is run by the process that *claims* it: `claim_next(owner, lease_seconds)` takes the oldest
  Accepted/Running operation whose lease is unset or expired, in one statement (PostgreSQL: the candidate row is
  selected `FOR UPDATE SKIP LOCKED`, so concurrent claimers pass over each other's rows; SQLite: `BEGIN IMMEDIATE`
  holds the database's write lock around it), stamps `owner`, `claimed_until = now + lease` and `attempts + 1`.
  The owner renews the lease while it works (`renew`) and clears it when done (`release`); if it dies, the lease
  runs out and another process claims the operation again (resumption). PostgreSQL compares leases with the
  database's clock, so replicas' clocks need not agree.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import Field
from sqlalchemy import ColumnElement, Table, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from servicelinker.model.records import LinkerRecord, Operation, Step
from servicelinker.store import migrate
from servicelinker.store.crypto import InvalidToken, SecretBox
from servicelinker.store.db import ACTIVE_STATUSES, LinkerRow, OperationRow, is_sqlite, make_engine, utcnow

_LINKERS: Table = LinkerRow.__table__  # type: ignore[assignment]
_OPERATIONS: Table = OperationRow.__table__  # type: ignore[assignment]
DRYRUN_KIND = "dryrun"
_DRYRUN_NAMESPACE = uuid.UUID("5e2c4b7a-3f7d-4d89-9a43-5d0f3f1a6c11")


class StoreKeyError(RuntimeError):
    """A sealed value opens with none of the configured keys (a key was dropped too early, or the wrong keys)."""


def _key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


class StoredLinker(LinkerRecord):
    """A linker with its write-only secrets opened (store and engine internal; never returned by the engine)."""

    secrets: dict[str, str] = Field(default_factory=dict, repr=False)

    def public(self) -> LinkerRecord:
        return LinkerRecord.model_validate(self.model_dump(exclude={"secrets"}))


class Store:
    """Persistence of the resource provider; thread-safe (one SQLAlchemy engine, a session per call)."""

    def __init__(
        self,
        url: str,
        key_file: Path | None = None,
        *,
        keys: list[str] | None = None,
        migrate_schema: bool = True,
    ) -> None:
        self.engine = make_engine(url)
        self.url = self.engine.url
        if migrate_schema:
            migrate.upgrade(self.engine)
        #: A connection of this engine starts its transaction with the write lock on SQLite (ignored elsewhere).
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._write_session = sessionmaker(self._writer, expire_on_commit=False)
        self._box = SecretBox(key_file, keys)
        self._sqlite = is_sqlite(self.engine)

    @classmethod
    def in_directory(cls, state_dir: Path) -> Store:
        state_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{state_dir / 'servicelinker.db'}", state_dir / "store.key")

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        """A session for reading (a write in it is not protected against a concurrent writer on SQLite)."""
        return self._session()

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A session in a write transaction (SQLite: BEGIN IMMEDIATE), committed on success."""
        with self._write_session() as s, s.begin():
            yield s

    def _now(self) -> ColumnElement[dt.datetime]:
        """Now, by the database's clock on PostgreSQL (replicas' clocks may differ), by ours on SQLite."""
        if self._sqlite:
            return literal(utcnow(), _OPERATIONS.c.claimed_until.type)
        return func.now()

    def _later(self, seconds: float) -> ColumnElement[dt.datetime]:
        if self._sqlite:
            return literal(utcnow() + dt.timedelta(seconds=seconds), _OPERATIONS.c.claimed_until.type)
        return func.now() + dt.timedelta(seconds=seconds)

    # linkers -----------------------------------------------------------------------------------------------

    def _to_linker(self, row: LinkerRow) -> StoredLinker:
        try:
            secrets = json.loads(self._box.open(row.sealed_secrets)) if row.sealed_secrets else {}
        except InvalidToken:
            raise StoreKeyError(
                f"The stored secrets of linker {row.body.get('id', row.key)} open with none of the configured store "
                "keys. Configure the key they were sealed with (SL_STORE_KEYS or the key file; see docs/store.md)."
            ) from None
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

    def count_linkers(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(LinkerRow)) or 0)

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
        """Create or replace a linker in one statement (`INSERT ... ON CONFLICT DO UPDATE`): concurrent PUTs of one
        linker from several processes leave exactly one row. `configurations=None` keeps the stored ones."""
        sealed = self._box.seal(json.dumps(secrets)) if secrets else None
        now = utcnow()
        insert = sqlite.insert if self._sqlite else postgresql.insert
        stmt = insert(_LINKERS).values(
            key=_key(linker_id),
            source_key=_key(source_id),
            name=name,
            body=body,
            sealed_secrets=sealed,
            configurations=configurations or [],
            provisioning_state=state,
            created_at=now,
            updated_at=now,
        )
        changes: dict[str, Any] = {
            c: stmt.excluded[c]
            for c in ("source_key", "name", "body", "sealed_secrets", "provisioning_state", "updated_at")
        }
        if configurations is not None:
            changes["configurations"] = stmt.excluded.configurations
        stmt = stmt.on_conflict_do_update(index_elements=[_LINKERS.c.key], set_=changes)
        with self._writer.begin() as conn:
            kept = conn.execute(stmt.returning(_LINKERS.c.configurations)).scalar_one()
        return StoredLinker(
            id=linker_id,
            source_id=source_id,
            name=name,
            body=body,
            secrets=secrets,
            provisioning_state=state,
            configurations=kept or [],
        )

    def set_configurations(self, linker_id: str, configurations: list[dict[str, Any]]) -> None:
        with self._writing() as s:
            row = s.get(LinkerRow, _key(linker_id), with_for_update=True)
            if row is not None:
                row.configurations = configurations

    def set_linker_state(self, linker_id: str, state: str) -> None:
        with self._writing() as s:
            row = s.get(LinkerRow, _key(linker_id), with_for_update=True)
            if row is not None:
                row.provisioning_state = state
                row.body = {**row.body, "properties": {**row.body.get("properties", {}), "provisioningState": state}}

    def delete_linker(self, linker_id: str) -> bool:
        with self._writing() as s:
            row = s.get(LinkerRow, _key(linker_id), with_for_update=True)
            if row is None:
                return False
            s.delete(row)
            return True

    def rotate_keys(self) -> int:
        """Re-encrypt every sealed value with the newest key, in one transaction; returns the rows rewritten.

        Raises ValueError (naming the linker, changing nothing) if a value opens with none of the keys."""
        count = 0
        with self._writing() as s:
            rows = s.scalars(select(LinkerRow).where(LinkerRow.sealed_secrets.is_not(None)).with_for_update()).all()
            for row in rows:
                assert row.sealed_secrets is not None
                try:
                    row.sealed_secrets = self._box.rotate(row.sealed_secrets)
                except InvalidToken:
                    raise ValueError(
                        f"The secrets of linker {row.body.get('id', row.key)} open with none of the configured keys; "
                        "add the key they were sealed with (after the newest) and run rotate-keys again."
                    ) from None
                count += 1
        return count

    # operations --------------------------------------------------------------------------------------------

    @staticmethod
    def _to_operation(row: OperationRow | Mapping[Any, Any]) -> Operation:
        get = row.get if isinstance(row, Mapping) else (lambda name: getattr(row, name))
        return Operation(
            id=get("id"),
            resource_id=get("resource_id"),
            kind=get("kind"),
            status=get("status"),
            params=get("params") or {},
            start_time=get("start_time"),
            end_time=get("end_time"),
            steps=[Step.model_validate(s) for s in get("steps") or []],
            error=get("error"),
            result=get("result"),
            owner=get("owner"),
            claimed_until=get("claimed_until"),
            attempts=get("attempts") or 0,
            last_error=get("last_error"),
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
            attempts=0,
        )
        with self._writing() as s:
            s.add(row)
        return self._to_operation(row)

    def get_operation(self, operation_id: str) -> Operation | None:
        with self.session() as s:
            row = s.get(OperationRow, operation_id)
            return self._to_operation(row) if row else None

    def active_operations(self) -> list[Operation]:
        """Accepted/Running operations, oldest first (claimed or not)."""
        with self.session() as s:
            rows = s.scalars(
                select(OperationRow).where(OperationRow.status.in_(ACTIVE_STATUSES)).order_by(OperationRow.start_time)
            )
            return [self._to_operation(r) for r in rows]

    def save_steps(self, operation_id: str, steps: list[Step], status: str = "Running") -> None:
        with self._writing() as s:
            row = s.get(OperationRow, operation_id, with_for_update=True)
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
        with self._writing() as s:
            row = s.get(OperationRow, operation_id, with_for_update=True)
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

    # claims ------------------------------------------------------------------------------------------------

    def _claimable(self) -> ColumnElement[bool]:
        t = _OPERATIONS
        return t.c.status.in_(ACTIVE_STATUSES) & or_(t.c.claimed_until.is_(None), t.c.claimed_until < self._now())

    def _claim(
        self, conn: Connection, which: ColumnElement[bool], owner: str, lease_seconds: float
    ) -> Operation | None:
        t = _OPERATIONS
        stmt = (
            update(t)
            .where(which)
            .values(
                owner=owner,
                claimed_until=self._later(lease_seconds),
                attempts=t.c.attempts + 1,
                # An owner still recorded means its attempt never released the operation: it stopped.
                last_error=func.coalesce(
                    literal("The server process ") + t.c.owner + literal(" stopped."), t.c.last_error
                ),
            )
            .returning(*t.c)
        )
        row = conn.execute(stmt).mappings().first()
        return self._to_operation(row) if row else None

    def claim_next(self, owner: str, lease_seconds: float) -> Operation | None:
        """Claim the oldest operation that has work left and no live lease; None when there is none.

        Returns the operation as claimed (`owner`, `claimed_until`, `attempts` already incremented)."""
        t = _OPERATIONS
        candidate = select(t.c.id).where(self._claimable()).order_by(t.c.start_time).limit(1)
        if not self._sqlite:
            candidate = candidate.with_for_update(skip_locked=True)
        with self._writer.begin() as conn:
            return self._claim(conn, t.c.id == candidate.scalar_subquery(), owner, lease_seconds)

    def claim(self, operation_id: str, owner: str, lease_seconds: float) -> Operation | None:
        """Claim one given operation if it has work left and no live lease (else None)."""
        with self._writer.begin() as conn:
            return self._claim(conn, (_OPERATIONS.c.id == operation_id) & self._claimable(), owner, lease_seconds)

    def renew(self, operation_id: str, owner: str, lease_seconds: float = 30.0) -> bool:
        """Extend `owner`'s lease; False if it no longer holds the operation (finished, released, or claimed by
        another process after the lease ran out)."""
        t = _OPERATIONS
        stmt = (
            update(t)
            .where(t.c.id == operation_id, t.c.owner == owner, t.c.status.in_(ACTIVE_STATUSES))
            .values(claimed_until=self._later(lease_seconds))
        )
        with self._writer.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def release(
        self, operation_id: str, owner: str, *, error: str | None = None, retry_after: float | None = None
    ) -> bool:
        """Give the operation up: no owner; claimable again at once, or after `retry_after` seconds if it still has
        work left; `error` (why this attempt stopped) is kept as `last_error`. False if `owner` did not hold it."""
        t = _OPERATIONS
        values: dict[str, Any] = {"owner": None, "claimed_until": self._later(retry_after) if retry_after else None}
        if error is not None:
            values["last_error"] = error
        stmt = update(t).where(t.c.id == operation_id, t.c.owner == owner).values(**values)
        with self._writer.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def expire_lease(self, operation_id: str, owner: str) -> bool:
        """End `owner`'s lease now (its process is known to be gone) so the operation can be claimed at once."""
        t = _OPERATIONS
        stmt = (
            update(t)
            .where(t.c.id == operation_id, t.c.owner == owner, t.c.status.in_(ACTIVE_STATUSES))
            .values(claimed_until=None)
        )
        with self._writer.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def abandon(self, operation_id: str, owner: str, error: dict[str, Any]) -> bool:
        """End an operation `owner` holds as Failed with `error`; a step left Running is marked Failed with it.
        False (nothing changed) if `owner` does not hold it or it already ended."""
        with self._writing() as s:
            row = s.get(OperationRow, operation_id, with_for_update=True)
            if row is None or row.owner != owner or row.status not in ACTIVE_STATUSES:
                return False
            now = utcnow()
            steps = []
            for step in row.steps or []:
                if step.get("status") == "Running":
                    stamp = now.isoformat(timespec="milliseconds")
                    step = {**step, "status": "Failed", "end_time": stamp, "message": error.get("message", ""),
                            "error": error}  # fmt: skip
                steps.append(step)
            row.steps = steps
            row.status = "Failed"
            row.end_time = now
            row.error = error
            row.owner = None
            row.claimed_until = None
            return True

    # dryruns -----------------------------------------------------------------------------------------------
    # Dryrun bodies are final rows of the operations table (kind `dryrun`): durable and shared by replicas.

    @staticmethod
    def _dryrun_row_id(dryrun_id: str) -> str:
        return str(uuid.uuid5(_DRYRUN_NAMESPACE, _key(dryrun_id)))

    def get_dryrun(self, dryrun_id: str) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.get(OperationRow, self._dryrun_row_id(dryrun_id))
            return dict(row.result or {}) if row is not None and row.kind == DRYRUN_KIND else None

    def put_dryrun(self, dryrun_id: str, body: dict[str, Any]) -> bool:
        """Store a dryrun's body; True when the dryrun is new."""
        now = utcnow()
        with self._writing() as s:
            row = s.get(OperationRow, self._dryrun_row_id(dryrun_id), with_for_update=True)
            created = row is None
            if row is None:
                row = OperationRow(id=self._dryrun_row_id(dryrun_id), resource_key=_key(dryrun_id),
                                   resource_id=dryrun_id, kind=DRYRUN_KIND, params={}, steps=[], start_time=now,
                                   attempts=0)  # fmt: skip
                s.add(row)
            row.status = "Succeeded"
            row.end_time = now
            row.result = body
        return created

    def list_dryruns(self, scope_id: str) -> list[dict[str, Any]]:
        """The dryruns directly under `scope_id` (`<scope>/providers/Microsoft.ServiceLinker/dryruns/<name>`)."""
        prefix = f"{_key(scope_id)}/providers/microsoft.servicelinker/dryruns/"
        with self.session() as s:
            rows = s.scalars(
                select(OperationRow)
                .where(OperationRow.kind == DRYRUN_KIND, OperationRow.resource_key.startswith(prefix, autoescape=True))
                .order_by(OperationRow.resource_key)
            )
            return [dict(r.result or {}) for r in rows if "/" not in r.resource_key[len(prefix) :]]

    def delete_dryrun(self, dryrun_id: str) -> bool:
        with self._writing() as s:
            row = s.get(OperationRow, self._dryrun_row_id(dryrun_id), with_for_update=True)
            if row is None or row.kind != DRYRUN_KIND:
                return False
            s.delete(row)
            return True
