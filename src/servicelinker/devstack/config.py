"""Where the dev stack keeps its state and binaries, and which loopback ports it uses.

Ports default to a block far from the well-known ones (a system PostgreSQL on 5432, MySQL on 3306, Redis on 6379,
a kube-apiserver on 6443 stay free). `SL_PORT_BASE` moves the whole block; each port can also be set alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from servicelinker import paths

HOST = "127.0.0.1"


def _port_base() -> int:
    return int(os.environ.get("SL_PORT_BASE", "27000"))


class Ports(BaseModel):
    """One loopback port per listening socket; offsets from SL_PORT_BASE (default 27000)."""

    etcd_client: int = Field(default_factory=lambda: _port_base() + 1)
    etcd_peer: int = Field(default_factory=lambda: _port_base() + 2)
    apiserver: int = Field(default_factory=lambda: _port_base() + 3)
    controller_manager: int = Field(default_factory=lambda: _port_base() + 4)
    postgres: int = Field(default_factory=lambda: _port_base() + 10)
    mariadb: int = Field(default_factory=lambda: _port_base() + 11)
    redis: int = Field(default_factory=lambda: _port_base() + 12)
    azurite_blob: int = Field(default_factory=lambda: _port_base() + 20)
    azurite_queue: int = Field(default_factory=lambda: _port_base() + 21)
    azurite_table: int = Field(default_factory=lambda: _port_base() + 22)
    azurite_https_blob: int = Field(default_factory=lambda: _port_base() + 23)
    azurite_https_queue: int = Field(default_factory=lambda: _port_base() + 24)
    azurite_https_table: int = Field(default_factory=lambda: _port_base() + 25)
    keyvault: int = Field(default_factory=lambda: _port_base() + 30)
    token_service: int = Field(default_factory=lambda: _port_base() + 31)
    webhook: int = Field(default_factory=lambda: _port_base() + 32)
    keyvault_secondary: int = Field(default_factory=lambda: _port_base() + 35)


class StackConfig(BaseModel):
    state_dir: Path = Field(default_factory=paths.state_dir)
    cache_dir: Path = Field(default_factory=paths.cache_dir)
    ports: Ports = Field(default_factory=Ports)

    @property
    def bin_dir(self) -> Path:
        return Path(os.environ.get("SL_BIN_DIR", str(self.cache_dir / "bin")))

    @property
    def description_file(self) -> Path:
        """The machine-readable description of what runs where (stack.json)."""
        return self.state_dir / "stack.json"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kube" / "admin.kubeconfig"

    @property
    def inventory(self) -> Path:
        return paths.inventory_file(self.state_dir)

    def service_dir(self, name: str) -> Path:
        return self.state_dir / name
