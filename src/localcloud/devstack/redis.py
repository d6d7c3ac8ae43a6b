"""A private Redis server for the dev stack: 127.0.0.1 at `cfg.ports.redis`, password required, no persistence.

Like Azure Cache for Redis with access keys: clients authenticate with a password (`requirepass`). The password
is generated once and kept in the server's config file (mode 0600), not on its command line where any local user
could read it from /proc. Redis is a cache here: nothing is saved to disk (`save ""`, no AOF), so each start is
empty and takes a few milliseconds.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import redis as redis_py

from localcloud.devstack import process
from localcloud.devstack.base import Health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.postgres import stop_previous, write_secret

NAME = "redis"
START_TIMEOUT = 20.0


def _binary() -> str:
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if found is None:
        raise process.StartError("Redis is not installed (redis-server not found): run scripts/install-services.sh")
    return found


def _password(conf: Path) -> str:
    """The `requirepass` of an existing config file, so a restart keeps the credentials clients were given."""
    if conf.exists():
        m = re.search(r"^requirepass (\S+)$", conf.read_text(), re.MULTILINE)
        if m:
            return m.group(1)
    return secrets.token_urlsafe(24)


def _config(port: int, password: str, data: Path) -> str:
    return "\n".join(
        [
            f"bind {HOST}",
            f"port {port}",
            "protected-mode yes",
            f"requirepass {password}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"dir {data}",
            'logfile ""',  # stdout, i.e. <state>/logs/redis.log
            "",
        ]
    )


class RedisService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        stop_previous(cfg, NAME)
        d = cfg.service_dir(NAME)
        data = d / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = d / "redis.conf"
        password = _password(conf)
        write_secret(conf, _config(cfg.ports.redis, password, data))
        rec = process.spawn(cfg.state_dir, NAME, [_binary(), str(conf)], cwd=d)
        desc: dict[str, Any] = {
            "host": HOST,
            "port": cfg.ports.redis,
            "password": password,
            "tls": False,
            "env": {"REDIS_HOST": HOST, "REDIS_PORT": str(cfg.ports.redis)},
        }
        process.wait_until(lambda: _ping(desc), START_TIMEOUT, "Redis", rec, interval=0.02)
        desc["version"] = _version(desc)
        return desc

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        try:
            ok = _ping(description)
        except redis_py.RedisError as exc:
            return Health(name=NAME, healthy=False, detail=str(exc))
        return Health(name=NAME, healthy=ok, detail=f"Redis on {description['host']}:{description['port']}")


def client(description: dict[str, Any]) -> redis_py.Redis[bytes]:
    """A client for the dev stack's Redis, authenticated with its password."""
    return redis_py.Redis(
        host=description["host"],
        port=int(description["port"]),
        password=description["password"],
        socket_connect_timeout=3,
        socket_timeout=3,
        retry=None,  # redis-py 8 retries even authentication errors with backoff (4 s); a probe should fail fast
    )


def _ping(description: dict[str, Any]) -> bool:
    with client(description) as r:
        return bool(r.ping())


def _version(description: dict[str, Any]) -> str:
    with client(description) as r:
        info = r.info("server")
    return str(info.get("redis_version", ""))


SERVICE = RedisService()
