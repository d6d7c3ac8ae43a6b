"""Alembic migrations of the store (run by `servicelinker.store.migrate`; see docs/store.md)."""
