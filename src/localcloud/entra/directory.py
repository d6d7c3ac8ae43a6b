"""The directory the token service reads: principals and their federated credentials, from the inventory."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localcloud.entra.protocol import (
    log,
)
from localcloud.entra.roles import (
    role_keys,
)
from localcloud.identity import FIC_SEGMENT, Principal
from localcloud.inventory import LOCAL_TENANT, InventoryData

# --------------------------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class Fic:
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class Directory:
    """The inventory indexed for token requests: principals by client id, FICs by identity, roles by object id."""

    principals: Mapping[str, Principal]
    fics: Mapping[str, tuple[Fic, ...]]
    roles: Mapping[str, frozenset[str]]

    @classmethod
    def build(cls, data: InventoryData) -> Directory:
        principals: dict[str, Principal] = {}
        fics: dict[str, list[Fic]] = {}
        for sp in data.service_principals.values():
            principals[sp.client_id.lower()] = Principal(
                "servicePrincipal", sp.client_id, sp.object_id, sp.tenant_id, sp.display_name, service_principal=sp
            )
        marker = "/" + FIC_SEGMENT.lower() + "/"
        for k, res in data.resources.items():
            kind = res.type.lower()
            if kind == "microsoft.managedidentity/userassignedidentities" and res.properties.get("clientId"):
                p = res.properties
                principals[str(p["clientId"]).lower()] = Principal(
                    "userAssignedIdentity",
                    str(p["clientId"]),
                    str(p.get("principalId", "")),
                    str(p.get("tenantId", LOCAL_TENANT)),
                    res.name,
                    resource_id=res.id,
                )
            elif kind.endswith("/federatedidentitycredentials") and marker in k:
                p = res.properties
                fic = Fic(
                    res.name,
                    str(p.get("issuer", "")),
                    str(p.get("subject", "")),
                    tuple(str(a) for a in p.get("audiences", [])),
                )
                fics.setdefault(k.split(marker, 1)[0], []).append(fic)
        roles: dict[str, set[str]] = {}
        for ra in data.role_assignments:
            roles.setdefault(ra.principal_id.lower(), set()).update(role_keys(ra))
        return cls(
            principals,
            {k: tuple(sorted(v, key=lambda f: f.name)) for k, v in fics.items()},
            {k: frozenset(v) for k, v in roles.items()},
        )


class DirectoryFile:
    """The inventory file, re-indexed whenever it changes (mtime, size or inode), so grants and revocations made
    by the CLI or the engine apply to the very next token request without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._directory = Directory({}, {}, {})

    def current(self) -> Directory:
        with self._lock:
            try:
                st = self.path.stat()
            except OSError:
                self._stamp, self._directory = None, Directory({}, {}, {})
                return self._directory
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                try:
                    data = InventoryData.model_validate_json(self.path.read_bytes())
                except (OSError, ValueError):
                    # A hand-edited file that does not parse: keep serving what was last valid, retry next time.
                    log.warning("inventory %s is unreadable or malformed; keeping the previous directory", self.path)
                    return self._directory
                self._directory = Directory.build(data)
                self._stamp = stamp
            return self._directory
