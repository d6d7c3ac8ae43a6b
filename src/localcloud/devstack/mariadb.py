"""A private MariaDB server for the dev stack: its own data directory, on 127.0.0.1 at `cfg.ports.mariadb`.

The data directory is created once (mariadb-install-db) and reused by later `up`s. MariaDB's root account is
socket-authenticated (only the OS root, or the invoking user without root, gets in through the private unix
socket); clients use `sladmin` with a password over TCP, which has ALL PRIVILEGES WITH GRANT OPTION so the local
cloud can create databases, users and grants with it.

As root, mariadbd must drop to the `mysql` OS user (it refuses to run as root), which cannot traverse a state
directory under /root; so, like PostgreSQL, the data lives in `/var/lib/servicelinker/<hash>/mariadb` (see
`postgres.private_data_dir`). `--no-defaults` keeps the machine's /etc/mysql configuration (socket path, port,
a system instance's settings) out of our server.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
from pathlib import Path
from typing import Any

import pymysql

from localcloud.devstack import process
from localcloud.devstack.base import Health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.postgres import is_root, private_data_dir, run_as, stop_previous, stored_password

NAME = "mariadb"
ADMIN_USER = "sladmin"
OS_USER = "mysql"
START_TIMEOUT = 60.0


def _binary(*names: str) -> str:
    for n in names:
        found = shutil.which(n) or (f"/usr/sbin/{n}" if Path(f"/usr/sbin/{n}").exists() else None)
        if found:
            return found
    raise process.StartError(f"MariaDB is not installed ({names[0]} not found): run scripts/install-services.sh")


class MariaDBService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        stop_previous(cfg, NAME)
        root = private_data_dir(cfg, NAME, OS_USER)
        data, run = root / "data", root / "run"
        server_user = OS_USER if is_root() else _me()
        self._install_db(root, data, server_user)
        run.mkdir(exist_ok=True, mode=0o700)
        if is_root():
            shutil.chown(run, OS_USER, OS_USER)
        sock = run / "mariadbd.sock"
        argv = [
            _binary("mariadbd", "mysqld"),
            "--no-defaults",
            *_user_option(server_user),
            f"--datadir={data}",
            f"--port={cfg.ports.mariadb}",
            f"--bind-address={HOST}",
            f"--socket={sock}",
            f"--pid-file={run / 'mariadbd.pid'}",
            "--skip-name-resolve",  # accounts are host-matched by IP (sladmin@127.0.0.1); no DNS lookups
            "--innodb-buffer-pool-size=64M",
        ]
        rec = process.spawn(cfg.state_dir, NAME, argv, cwd=root)
        process.wait_until(lambda: _ping_socket(sock), START_TIMEOUT, "MariaDB", rec)
        password = stored_password(cfg.service_dir(NAME) / "admin-password")
        version = _ensure_admin(sock, password)
        return {
            "host": HOST,
            "port": cfg.ports.mariadb,
            "adminUser": ADMIN_USER,
            "password": password,
            "dataDir": str(data),
            "socket": str(sock),
            "version": version,
            "env": {"MYSQL_HOST": HOST, "MYSQL_TCP_PORT": str(cfg.ports.mariadb), "MYSQL_USER": ADMIN_USER},
        }

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        try:
            conn = pymysql.connect(
                host=description["host"],
                port=int(description["port"]),
                user=description["adminUser"],
                password=description["password"],
                connect_timeout=3,
            )
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                    ok = cur.fetchone() == (1,)
            finally:
                conn.close()
        except pymysql.MySQLError as exc:
            return Health(name=NAME, healthy=False, detail=str(exc))
        detail = f"MariaDB {description.get('version', '?')} on {description['host']}:{description['port']}"
        return Health(name=NAME, healthy=ok, detail=detail)

    @staticmethod
    def _install_db(root: Path, data: Path, server_user: str) -> None:
        """mariadb-install-db once; the marker is written last so an interrupted install is redone."""
        marker = root / ".initialized"
        if marker.exists() and (data / "mysql").is_dir():
            return
        shutil.rmtree(data, ignore_errors=True)
        run_as(
            [
                _binary("mariadb-install-db", "mysql_install_db"),
                "--no-defaults",
                *_user_option(server_user),
                f"--datadir={data}",
                "--auth-root-authentication-method=socket",
                f"--auth-root-socket-user={server_user}",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M",
            ],
            None,  # as root it must run as root: it chowns the new datadir to --user itself
            root,
        )
        marker.write_text("")


def _me() -> str:
    """Our OS account name from the uid (not $USER, which sudo -E or su can leave pointing at someone else)."""
    return pwd.getpwuid(os.geteuid()).pw_name


def _user_option(server_user: str) -> list[str]:
    """`--user` only as root: it makes mariadbd (and install-db's files) switch to that account; others can't."""
    return [f"--user={server_user}"] if is_root() else []


def _socket_connect(sock: Path) -> pymysql.connections.Connection[Any]:
    """The server's superuser through the unix socket, authenticated by our OS identity (unix_socket plugin)."""
    return pymysql.connect(unix_socket=str(sock), user=_me(), connect_timeout=3, autocommit=True)


def _ping_socket(sock: Path) -> bool:
    conn = _socket_connect(sock)
    conn.close()
    return True


def _ensure_admin(sock: Path, password: str) -> str:
    """Create `sladmin` for 127.0.0.1 (TCP) and localhost (socket) if missing and (re)set its password, so the
    stored password always works; returns the server version (e.g. 10.11.19)."""
    conn = _socket_connect(sock)
    try:
        with conn.cursor() as cur:
            for host in (HOST, "localhost"):
                account = f"'{ADMIN_USER}'@'{host}'"
                cur.execute(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY %s", (password,))
                cur.execute(f"ALTER USER {account} IDENTIFIED BY %s", (password,))
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
    finally:
        conn.close()
    full = str(row[0]) if row else ""
    m = re.match(r"[\d.]+", full)
    return m.group(0) if m else full


SERVICE = MariaDBService()
