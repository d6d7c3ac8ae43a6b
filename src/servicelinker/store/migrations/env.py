"""Alembic environment of the store.

`servicelinker.store.migrate` runs it with a connection already inside a transaction (`config.attributes
["connection"]`), so the check for an un-migrated database, the stamp and the upgrade happen under one lock.
Run on its own (`alembic -c <ini>` with `script_location` here and `sqlalchemy.url`), it opens its own engine.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from servicelinker.store.db import Base, make_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
    else:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise SystemExit("sqlalchemy.url is not set")
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                _run(conn)
        finally:
            engine.dispose()
