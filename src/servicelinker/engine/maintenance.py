"""Store maintenance for `servicelinker store ...`: schema migrations and key rotation (docs/store.md).

The CLI reaches the store only through here, so the arrows stay cli -> engine -> store.
"""

from __future__ import annotations

from pathlib import Path

from servicelinker.settings import Settings
from servicelinker.store import migrate as migrations
from servicelinker.store.crypto import add_key_to_file
from servicelinker.store.crypto import generate_key as fresh_key
from servicelinker.store.db import normalize_url
from servicelinker.store.repository import Store

HEAD = migrations.HEAD


def store_url(settings: Settings, url: str | None = None) -> str:
    if url:
        return url
    if settings.store_url:
        return settings.store_url
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return settings.sqlite_url


def shown(url: str) -> str:
    """The URL with its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(normalize_url(url)).render_as_string(hide_password=True)


def migrate(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """(revision before, revision after)."""
    return migrations.upgrade(url, revision)


def rotate_keys(url: str, key_file: Path, keys: list[str] | None, *, new_key: bool) -> int:
    """Re-encrypt every sealed value with the newest key (after putting a fresh one first, with `new_key`);
    returns the rows rewritten. ValueError when a value opens with none of the keys."""
    if new_key:
        add_key_to_file(key_file)
    store = Store(url, key_file, keys=keys)
    try:
        return store.rotate_keys()
    finally:
        store.close()


def generate_key() -> str:
    return fresh_key()
