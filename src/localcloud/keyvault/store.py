"""The secrets store: vaults, secrets and their versions, soft delete; kept in a JSON file (mode 0600)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.keyvault.protocol import (
    KeyVaultError,
    deleted_secret_not_found,
    secret_not_found,
)

# --------------------------------------------------------------------------------------------------- the store


@dataclass
class SecretVersion:
    """One immutable value of a secret plus its mutable attributes (unix seconds, as on the wire)."""

    version: str
    value: str
    created: int
    updated: int
    enabled: bool = True
    nbf: int | None = None
    exp: int | None = None
    content_type: str | None = None
    tags: dict[str, str] | None = None


@dataclass
class Secret:
    """All versions of one secret, oldest first; the deletion dates are set while it is soft-deleted."""

    name: str
    versions: list[SecretVersion] = field(default_factory=list)
    deleted_date: int | None = None
    scheduled_purge_date: int | None = None

    @property
    def latest(self) -> SecretVersion:
        return self.versions[-1]

    def find(self, version: str | None) -> SecretVersion | None:
        if not version:
            return self.latest
        wanted = version.lower()
        return next((v for v in self.versions if v.version == wanted), None)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Secret:
        versions = [SecretVersion(**v) for v in data["versions"]]
        return cls(data["name"], versions, data.get("deleted_date"), data.get("scheduled_purge_date"))


@dataclass
class SecretChanges:
    """The optional parts of a set or update request, already validated."""

    content_type: str | None = None
    tags: dict[str, str] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    present: frozenset[str] = frozenset()


@dataclass
class _Vault:
    secrets: dict[str, Secret] = field(default_factory=dict)
    deleted: dict[str, Secret] = field(default_factory=dict)


class SecretStore:
    """The secrets of every vault, guarded by one lock; every change is persisted before the call returns.

    Names are case-insensitive in Key Vault, so entries are keyed by the lower-cased name and keep the spelling
    of their first creation. Callers get deep copies, never the live objects.
    """

    def __init__(
        self,
        vaults: Sequence[str],
        state_file: Path | None = None,
        retention_days: int = 90,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._state_file = state_file
        self.retention_days = retention_days
        self._clock = clock
        self._vaults: dict[str, _Vault] = {v: _Vault() for v in vaults}
        if state_file is not None and state_file.exists():
            self._load(state_file)

    @property
    def vault_names(self) -> tuple[str, ...]:
        return tuple(self._vaults)

    def now(self) -> int:
        return int(self._clock())

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        for vault_name, vault in data.get("vaults", {}).items():
            target = self._vaults.setdefault(vault_name, _Vault())
            target.secrets = {k: Secret.from_json(s) for k, s in vault.get("secrets", {}).items()}
            target.deleted = {k: Secret.from_json(s) for k, s in vault.get("deleted", {}).items()}

    def _save(self) -> None:
        """Write the whole state atomically (temp file in the same directory, fsync, rename), mode 0600."""
        if self._state_file is None:
            return
        data = {
            "vaults": {
                name: {
                    "secrets": {k: dataclasses.asdict(s) for k, s in v.secrets.items()},
                    "deleted": {k: dataclasses.asdict(s) for k, s in v.deleted.items()},
                }
                for name, v in self._vaults.items()
            }
        }
        write_private_json(self._state_file, data)

    def _vault(self, vault: str) -> _Vault:
        v = self._vaults[vault]
        now = self.now()
        expired = [
            k for k, s in v.deleted.items() if s.scheduled_purge_date is not None and s.scheduled_purge_date <= now
        ]
        for key in expired:
            del v.deleted[key]
        if expired:
            self._save()
        return v

    def set(self, vault: str, name: str, value: str, changes: SecretChanges) -> Secret:
        """A new version becomes the latest; refused while a deleted secret of that name awaits recovery/purge."""
        with self._lock:
            v = self._vault(vault)
            key = name.lower()
            if key in v.deleted:
                raise KeyVaultError(
                    409,
                    "Conflict",
                    f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; "
                    "in this state, the secret can only be recovered or purged.",
                    inner="ObjectIsDeletedButRecoverable",
                )
            now = self.now()
            version = SecretVersion(uuid.uuid4().hex, value, now, now, content_type=changes.content_type)
            version.tags = changes.tags
            _apply_attributes(version, changes.attributes)
            secret = v.secrets.setdefault(key, Secret(name))
            secret.versions.append(version)
            self._save()
            return _only(secret, version)

    def get(self, vault: str, name: str, version: str | None = None) -> Secret:
        """The secret with exactly one version in `versions`: the one asked for, or the latest."""
        with self._lock:
            secret = self._vault(vault).secrets.get(name.lower())
            found = secret.find(version) if secret else None
            if secret is None or found is None:
                raise secret_not_found(name, version)
            return _only(secret, found)

    def update(self, vault: str, name: str, version: str | None, changes: SecretChanges) -> Secret:
        with self._lock:
            secret = self._vault(vault).secrets.get(name.lower())
            found = secret.find(version) if secret else None
            if secret is None or found is None:
                raise secret_not_found(name, version)
            if "contentType" in changes.present:
                found.content_type = changes.content_type
            if "tags" in changes.present:
                found.tags = changes.tags
            _apply_attributes(found, changes.attributes)
            found.updated = self.now()
            self._save()
            return _only(secret, found)

    def list_secrets(self, vault: str) -> list[Secret]:
        with self._lock:
            secrets = self._vault(vault).secrets.values()
            return sorted((copy.deepcopy(s) for s in secrets), key=lambda s: s.name.lower())

    def versions(self, vault: str, name: str) -> Secret | None:
        with self._lock:
            return copy.deepcopy(self._vault(vault).secrets.get(name.lower()))

    def delete(self, vault: str, name: str) -> Secret:
        """Soft delete: all versions move to the deleted collection until recovered, purged or past retention."""
        with self._lock:
            v = self._vault(vault)
            secret = v.secrets.pop(name.lower(), None)
            if secret is None:
                raise secret_not_found(name)
            now = self.now()
            secret.deleted_date = now
            secret.scheduled_purge_date = now + self.retention_days * 86400
            v.deleted[name.lower()] = secret
            self._save()
            return copy.deepcopy(secret)

    def list_deleted(self, vault: str) -> list[Secret]:
        with self._lock:
            secrets = self._vault(vault).deleted.values()
            return sorted((copy.deepcopy(s) for s in secrets), key=lambda s: s.name.lower())

    def get_deleted(self, vault: str, name: str) -> Secret:
        with self._lock:
            secret = self._vault(vault).deleted.get(name.lower())
            if secret is None:
                raise deleted_secret_not_found(name)
            return copy.deepcopy(secret)

    def purge(self, vault: str, name: str) -> None:
        with self._lock:
            if self._vault(vault).deleted.pop(name.lower(), None) is None:
                raise deleted_secret_not_found(name)
            self._save()

    def recover(self, vault: str, name: str) -> Secret:
        with self._lock:
            v = self._vault(vault)
            secret = v.deleted.pop(name.lower(), None)
            if secret is None:
                raise deleted_secret_not_found(name)
            secret.deleted_date = secret.scheduled_purge_date = None
            v.secrets[name.lower()] = secret
            self._save()
            return _only(secret, secret.latest)


def _only(secret: Secret, version: SecretVersion) -> Secret:
    return Secret(secret.name, [copy.deepcopy(version)], secret.deleted_date, secret.scheduled_purge_date)


def _apply_attributes(version: SecretVersion, attributes: Mapping[str, Any]) -> None:
    if "enabled" in attributes:
        version.enabled = attributes["enabled"]
    if "nbf" in attributes:
        version.nbf = attributes["nbf"]
    if "exp" in attributes:
        version.exp = attributes["exp"]


def write_private_json(path: Path, data: object) -> None:
    """Atomically replace `path` with `data` as JSON; the file is created 0600 because it holds secret values."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
