"""Encryption of credential values at rest (Fernet: AES-128-CBC + HMAC-SHA256, each token authenticated).

What is sealed: a linker's write-only secrets (`linkers.sealed_secrets`: database passwords, client secrets). Nothing
else in the store is secret (bodies, configurations and operation logs have credentials blanked), so a copy of the
database without the keys reveals no credential.

Where the keys come from, first match wins:

1. keys passed to `Store(..., keys=[...])` / `SecretBox(keys=...)`, which the settings fill from
   `SL_STORE_KEYS`: comma-separated Fernet keys, newest first (what several replicas on one PostgreSQL store use:
   every replica must have the same list, e.g. from one Kubernetes Secret);
2. the key file (`SL_STORE_KEY_FILE`, default `store.key` next to the SQLite database): one key per line, newest
   first, created with mode 0600 holding one fresh key the first time a store opens.

The newest key encrypts; every listed key decrypts. `servicelinker store generate-key` prints a fresh key.

Key rotation (documented for operators in docs/store.md as well):

1. Add the new key *after* the current one on every process (`SL_STORE_KEYS=old,new`, or a second line in the key
   file) and restart them: everyone can now read what the new key will seal, nothing changes yet. With a single
   server this step can be folded into the next.
2. Put the new key *first* (`SL_STORE_KEYS=new,old`) everywhere and restart: new writes use it.
3. Run `servicelinker store rotate-keys`: every sealed value is re-encrypted with the newest key (in one
   transaction; rows that no listed key opens make it fail without changing anything).
4. Drop the old key from the list and restart. A backup taken before step 3 still needs the old key.

For the key-file setup on one machine, `servicelinker store rotate-keys --new-key` does 1-3 at once: it puts a
fresh key first in the key file, then re-encrypts (restart a server that runs on the same file afterwards).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "SecretBox", "add_key_to_file", "generate_key"]


def generate_key() -> str:
    return Fernet.generate_key().decode()


def _write_new(path: Path, text: str) -> None:
    """Create `path` (mode 0600) with `text` atomically; if another process won the race, keep its file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".store-key-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        with contextlib.suppress(FileExistsError):  # never overwrite a key another process wrote
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _keys_from_file(path: Path) -> list[str]:
    if not path.exists():
        _write_new(path, generate_key() + "\n")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def add_key_to_file(path: Path, key: str | None = None) -> str:
    """Put `key` (default: a fresh one) first in the key file, keeping the others after it; returns the key."""
    key = key or generate_key()
    Fernet(key.encode())  # reject a malformed key before writing it
    old = _keys_from_file(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".store-key-")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join([key, *old]) + "\n")
    os.replace(tmp, path)
    return key


class SecretBox:
    def __init__(self, key_file: Path | None = None, keys: Sequence[str] | None = None) -> None:
        chosen = list(keys) if keys else None
        if chosen is None:
            if key_file is None:
                raise ValueError("SecretBox needs keys: set SL_STORE_KEYS, pass keys, or give a key file.")
            chosen = _keys_from_file(key_file)
        if not chosen:
            raise ValueError(f"No store key found in {key_file}.")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in chosen])
        self.key_count = len(chosen)

    def seal(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def open(self, token: bytes) -> str:
        return self._fernet.decrypt(token).decode()

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)
