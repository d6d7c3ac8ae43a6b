"""Encryption of credential values at rest (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from `SL_STORE_KEYS` (comma-separated Fernet keys, newest first) or, by default, from a key file
created with mode 0600 next to the database. Rotation: put a new key first in SL_STORE_KEYS (or the key file,
one key per line), keep the old ones after it, then run `servicelinker store rotate-keys` (re-encrypts every row
with the newest key); afterwards the old keys can be dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet


def _keys_from_file(path: Path) -> list[str]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Fernet.generate_key().decode() + "\n")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


class SecretBox:
    def __init__(self, key_file: Path) -> None:
        env = os.environ.get("SL_STORE_KEYS")
        keys = [k.strip() for k in env.split(",") if k.strip()] if env else _keys_from_file(key_file)
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def open(self, token: bytes) -> str:
        return self._fernet.decrypt(token).decode()

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)
