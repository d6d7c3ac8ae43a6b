"""Where the dev stack keeps its state and binaries, and which loopback ports it uses.

Ports default to a block far from the well-known ones (a system PostgreSQL on 5432, MySQL on 3306, Redis on 6379,
a kube-apiserver on 6443 stay free) and below Linux's ephemeral range (32768+), so an outgoing connection never
holds one. `SL_PORT_BASE` moves the whole block; a port given explicitly (`Ports(keyvault=...)`) wins.
Settings come from the environment through pydantic-settings (`SL_STATE_DIR`, `SL_CACHE_DIR`, `SL_BIN_DIR`,
`SL_PORT_BASE`); nothing writes `os.environ`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from localcloud.inventory import inventory_file
from servicelinker.settings import Settings

HOST = "127.0.0.1"
DEFAULT_PORT_BASE = 27000

#: Offset of each listening socket from the port base.
OFFSETS: dict[str, int] = {
    "etcd_client": 1, "etcd_peer": 2, "apiserver": 3, "controller_manager": 4,
    "postgres": 10, "mariadb": 11, "redis": 12,
    "azurite_blob": 20, "azurite_queue": 21, "azurite_table": 22,
    "azurite_https_blob": 23, "azurite_https_queue": 24, "azurite_https_table": 25,
    "keyvault": 30, "token_service": 31, "webhook": 32, "keyvault_secondary": 35, "arm": 36, "provider": 37,
}  # fmt: skip


class Ports(BaseModel):
    """One loopback port per listening socket: `base + offset`, unless given."""

    base: int = DEFAULT_PORT_BASE
    etcd_client: int = 0
    etcd_peer: int = 0
    apiserver: int = 0
    controller_manager: int = 0
    postgres: int = 0
    mariadb: int = 0
    redis: int = 0
    azurite_blob: int = 0
    azurite_queue: int = 0
    azurite_table: int = 0
    azurite_https_blob: int = 0
    azurite_https_queue: int = 0
    azurite_https_table: int = 0
    keyvault: int = 0
    token_service: int = 0
    webhook: int = 0
    keyvault_secondary: int = 0
    arm: int = 0
    provider: int = 0

    @model_validator(mode="after")
    def _from_base(self) -> Ports:
        for name, offset in OFFSETS.items():
            if getattr(self, name) == 0:
                setattr(self, name, self.base + offset)
        return self


class StackConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SL_", extra="ignore")

    state_dir: Path = Field(default_factory=lambda: Settings().state_dir)
    cache_dir: Path = Field(default_factory=lambda: Settings().cache_dir)
    bin_dir_override: Path | None = Field(default=None, validation_alias="SL_BIN_DIR")
    port_base: int = DEFAULT_PORT_BASE
    ports: Ports = Field(default_factory=Ports)
    #: Where the ARM endpoint appends every response it gives (contract tests validate them); None: nowhere.
    arm_record: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _ports(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("ports") is None:
            data = {**data, "ports": Ports(base=int(data.get("port_base") or DEFAULT_PORT_BASE))}
        return data

    @property
    def bin_dir(self) -> Path:
        return self.bin_dir_override or self.cache_dir / "bin"

    @property
    def description_file(self) -> Path:
        """The machine-readable description of what runs where (stack.json)."""
        return self.state_dir / "stack.json"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kube" / "admin.kubeconfig"

    @property
    def inventory(self) -> Path:
        return inventory_file(self.state_dir)

    def service_dir(self, name: str) -> Path:
        return self.state_dir / name

    def product_settings(self, **overrides: Any) -> Settings:
        """The product's settings for this stack (its state directory and binaries)."""
        return Settings(state_dir=self.state_dir, cache_dir=self.cache_dir, bin_dir=self.bin_dir, **overrides)
