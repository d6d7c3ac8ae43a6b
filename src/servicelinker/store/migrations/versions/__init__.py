"""Alembic revisions, oldest first: r0001 = the schema `create_all` made before migrations existed."""
