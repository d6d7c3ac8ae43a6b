"""Every setting servicelinker reads, in one `pydantic-settings` object.

Values come from (first found wins) what the code passes (CLI flags), the environment (`SL_*`), and the defaults
below. Nothing writes `os.environ`: the CLI builds one `Settings` at start-up and hands it down; child processes get
what they need on their command line or in their own environment.

| variable | meaning |
|---|---|
| `SL_STATE_DIR` | state: the store (SQLite), its key file; the dev stack keeps its state here too |
| `SL_CACHE_DIR`, `SL_BIN_DIR` | built binaries (helm); `SL_HELM` names a helm binary explicitly |
| `SL_STORE_URL`, `SL_STORE_KEYS`, `SL_STORE_KEY_FILE` | the store (see docs/store.md) |
| `SL_CLOUD`, `SL_CLOUD_PROFILE` | the cloud adapter (an entry point); the Azure cloud (docs/azure.md) |
| `SL_SUBSCRIPTION` | subscription for `-g/-n` ids (else the cloud's default; Azure's: `AZURE_SUBSCRIPTION_ID`) |
| `SL_ENDPOINT`, `SL_TOKEN`, `SL_TOKEN_FILE`, `SL_ENDPOINT_CA`, `SL_CONFIG` | the CLI against a REST endpoint |
| `SL_READY_TIMEOUT` | seconds the engine waits for the operator |
| `SL_EXTENSION_VALUES` | extra Helm values (JSON) for sc-extension |
| `SL_HEARTBEAT_SECONDS`, `SL_RESYNC_SECONDS` | the operator's heartbeat and full-resync periods |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CONFIG_FILE = Path.home() / ".config" / "servicelinker" / "config.json"


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "servicelinker" / "devstack"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "servicelinker"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SL_", extra="ignore", frozen=True)

    state_dir: Path = Field(default_factory=_default_state_dir)
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    bin_dir: Path | None = None
    helm: Path | None = None

    store_url: str | None = None
    store_keys: SecretStr | None = None
    store_key_file: Path | None = None

    cloud: str = "azure"
    #: The Azure adapter's cloud profile (endpoints, credential); default `<state dir>/cloud-profile.json`.
    cloud_profile: Path | None = None
    subscription: str | None = None
    #: Azure's own variable: the Azure adapter's default subscription when SL_SUBSCRIPTION is not set.
    azure_subscription_id: str | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_SUBSCRIPTION_ID", "azure_subscription_id"))

    endpoint: str | None = None
    token: SecretStr | None = None
    token_file: Path | None = None
    endpoint_ca: Path | None = None
    config: Path = DEFAULT_CONFIG_FILE

    ready_timeout: float = 90.0
    heartbeat_grace: float = 30.0
    extension_values: dict[str, Any] = Field(default_factory=dict)

    heartbeat_seconds: float | None = None
    resync_seconds: float | None = None

    @field_validator("state_dir", "cache_dir", "bin_dir", "helm", "store_key_file", "token_file", "endpoint_ca",
                     "config", "cloud_profile", mode="after")  # fmt: skip
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("extension_values", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @property
    def binaries(self) -> Path:
        return self.bin_dir or self.cache_dir / "bin"

    @property
    def key_file(self) -> Path:
        return self.store_key_file or self.state_dir / "store.key"

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{self.state_dir / 'servicelinker.db'}"

    def key_list(self) -> list[str] | None:
        """`SL_STORE_KEYS` as a list (newest first), None when unset (the key file is used then)."""
        if self.store_keys is None:
            return None
        keys = [k.strip() for k in self.store_keys.get_secret_value().split(",") if k.strip()]
        return keys or None

    def cli_config(self) -> dict[str, Any]:
        """The CLI's config file (`endpoint`, `tokenFile`, `ca`), {} when absent or unreadable."""
        try:
            data: dict[str, Any] = json.loads(self.config.read_text())
        except (OSError, ValueError):
            return {}
        return data
