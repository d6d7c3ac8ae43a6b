"""Helpers for end-to-end tests: the `servicelinker` CLI as a user runs it, against the session's dev stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from localcloud.devstack.config import StackConfig

CONSUMER = Path(__file__).with_name("consumer.py")
RG, CLUSTER = "sl-dev", "sl-aks"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs `python -m servicelinker ...` with the stack's state directory, as a user's shell would."""

    def __init__(self, cfg: StackConfig) -> None:
        self.env = {**os.environ, "SL_STATE_DIR": str(cfg.state_dir), "SL_READY_TIMEOUT": "60"}

    def __call__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "servicelinker", *args],
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> Result:
        r = self(*args, env=env)
        assert r.code == 0, f"servicelinker {' '.join(args)} failed ({r.code}):\n{r.err}"
        return r


@pytest.fixture(scope="session")
def cli(devstack: dict[str, Any], stack_config: StackConfig) -> Cli:
    return Cli(stack_config)


@pytest.fixture(scope="session")
def kube(devstack: dict[str, Any]) -> Client:
    return Client(KubeConfig.from_file(devstack["services"]["kube"]["kubeconfig"]), field_manager="e2e-tests")


@pytest.fixture()
def namespace(kube: Client) -> Iterator[str]:
    name = f"app-{uuid.uuid4().hex[:6]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name


@dataclass
class Database:
    name: str
    user: str
    password: str


def _pg_admin(devstack: dict[str, Any]) -> dict[str, Any]:
    d = devstack["services"]["postgres"]
    return {"host": d["host"], "port": d["port"], "user": d["adminUser"], "password": d["password"],
            "dbname": "postgres", "autocommit": True}  # fmt: skip


def make_pg_database(devstack: dict[str, Any]) -> Database:
    db = Database(f"db{uuid.uuid4().hex[:8]}", f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    with psycopg.connect(**_pg_admin(devstack)) as conn:
        conn.execute(f"CREATE ROLE {db.user} LOGIN PASSWORD '{db.password}'")
        conn.execute(f"CREATE DATABASE {db.name} OWNER {db.user}")
    return db


def drop_pg_database(devstack: dict[str, Any], name: str) -> None:
    with psycopg.connect(**_pg_admin(devstack)) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def make_mysql_database(devstack: dict[str, Any]) -> Database:
    d = devstack["services"]["mariadb"]
    db = Database(f"db{uuid.uuid4().hex[:8]}", f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    conn = pymysql.connect(host=d["host"], port=d["port"], user=d["adminUser"], password=d["password"],
                           autocommit=True)  # fmt: skip
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db.name}")
        cur.execute(f"CREATE USER '{db.user}'@'127.0.0.1' IDENTIFIED BY '{db.password}'")
        cur.execute(f"GRANT ALL ON {db.name}.* TO '{db.user}'@'127.0.0.1'")
    conn.close()
    return db


def consumer(target: str, secret_data: dict[str, str], extra: dict[str, str] | None = None) -> Result:
    """The workload sees only the Secret's keys as environment variables (plus what Python itself needs, and for
    token-based auth what the workload-identity webhook injects)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **secret_data, **(extra or {})}
    proc = subprocess.run([sys.executable, str(CONSUMER), target], capture_output=True, text=True, env=env,
                          timeout=90, check=False)  # fmt: skip
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_consumer(target: str, secret_data: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    r = consumer(target, secret_data, extra)
    assert r.code == 0, f"consumer for {target} failed:\n{r.err[-2000:]}"
    result: dict[str, str] = json.loads(r.out.strip().splitlines()[-1])
    return result
