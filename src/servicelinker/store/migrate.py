"""Schema migrations of the store (alembic, revisions in `migrations/versions/`), run when a Store opens.

`upgrade(url)` brings a database to the newest revision and is safe to call from several processes at once:

- PostgreSQL: everything happens in one transaction (PostgreSQL's DDL is transactional) holding an advisory
  transaction lock, so concurrent replicas queue and the later ones find the work done;
- SQLite: one `BEGIN IMMEDIATE` transaction (the database's write lock) around the check and the upgrade.

A database made by `create_all` before migrations existed (tables, no `alembic_version`) is adopted: the columns
the first releases lacked are added, then it is stamped `r0001` (the schema create_all made) and upgraded from
there, data kept. An empty database is simply upgraded from the start.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from servicelinker.store.db import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
#: The revision create_all's schema corresponds to (what an un-migrated database is stamped with).
BASELINE = "r0001"
#: The newest revision; a unit test checks it is the scripts' head (kept here so opening a store that is up to
#: date needs one query and no alembic import).
HEAD = "r0002"
#: pg_advisory_xact_lock key serializing migrations of one PostgreSQL database ("sl-store" in ASCII).
_PG_LOCK = 0x736C2D73746F7265

#: Columns the earliest create_all schema lacked, with what an adopted database gets for them.
_LEGACY_COLUMNS = {
    ("linkers", "configurations"): "JSON NOT NULL DEFAULT '[]'",
    ("operations", "params"): "JSON NOT NULL DEFAULT '{}'",
    ("operations", "owner"): "TEXT",
}


def _config(connection: Connection | None = None, url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _version(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


def current(target: str | Engine) -> str | None:
    """The database's revision (None: never migrated)."""
    engine, owned = _engine(target)
    try:
        with engine.connect() as conn:
            return _version(conn)
    finally:
        if owned:
            engine.dispose()


def _engine(target: str | Engine) -> tuple[Engine, bool]:
    return (make_engine(target), True) if isinstance(target, str) else (target, False)


def _adopt(conn: Connection) -> bool:
    """Stamp a create_all database (tables but no alembic_version); returns whether it was one."""
    from alembic import command

    insp = inspect(conn)
    tables = set(insp.get_table_names())
    if "alembic_version" in tables or not ({"linkers", "operations"} & tables):
        return False
    if not {"linkers", "operations"} <= tables:
        missing = ({"linkers", "operations"} - tables).pop()
        raise RuntimeError(f"The store has some of its tables but not '{missing}'; it cannot be migrated.")
    for (table, column), ddl in _LEGACY_COLUMNS.items():
        if column not in {c["name"] for c in insp.get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
    command.stamp(_config(conn), BASELINE)
    return True


def upgrade(target: str | Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `revision` (default the newest); returns (revision before, revision after)."""
    engine, owned = _engine(target)
    try:
        if revision in ("head", HEAD):
            with engine.connect() as conn:  # the common case, one query: already up to date
                before = _version(conn)
                if before == HEAD:
                    return before, before
        from alembic import command

        locked = engine.execution_options(sqlite_begin="IMMEDIATE")
        with locked.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            before = _version(conn)
            if before is None and _adopt(conn):
                before = "create_all"
            command.upgrade(_config(conn), revision)
            after = _version(conn)
        return before, after
    finally:
        if owned:
            engine.dispose()


def downgrade(target: str | Engine, revision: str) -> str | None:
    """Go back to `revision` (for development; the store of a newer release may not open afterwards)."""
    from alembic import command

    engine, owned = _engine(target)
    try:
        with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            command.downgrade(_config(conn), revision)
            return _version(conn)
    finally:
        if owned:
            engine.dispose()


def script_head() -> str:
    """The newest revision among the scripts (what HEAD must equal)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head
