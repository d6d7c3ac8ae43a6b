"""A private PostgreSQL server for the dev stack: its own cluster, on 127.0.0.1 at `cfg.ports.postgres`, with TLS.

The cluster is created once (initdb) and reused by later `up`s, so a warm start is just the postmaster's start-up.
Clients log in as `sladmin` (password, scram-sha-256, over TCP); the bootstrap superuser `postgres` is reachable
only through the unix socket in a directory that only the server's OS user (and root) can enter.

Why the data directory may live outside the state directory: PostgreSQL refuses to run as root, so as root we run
it as the `postgres` OS user. The state directory is typically under /root (mode 0700), which that user cannot
traverse, so as root the cluster lives in `/var/lib/servicelinker/<hash of the state dir>/postgres`, owned by
`postgres`. Without root, the server runs as the invoking user inside the state directory.

`reload(description)` is for the local cloud: it edits `hbaFile` (firewall rules) and asks the server to re-read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from localcloud.devstack import process
from localcloud.devstack.base import Health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.pki import CertificateAuthority

NAME = "postgres"
ADMIN_USER = "sladmin"
SUPERUSER = "postgres"  # bootstrap superuser, socket-only
OS_USER = "postgres"  # the OS account the server runs as when we are root
PRIVATE_ROOT = Path("/var/lib/servicelinker")
DATABASE = "postgres"
START_TIMEOUT = 60.0

HBA = f"""# Written by servicelinker's dev stack when the cluster was created.
# Over TCP only the admin is admitted; every other user needs a firewall rule, which the local cloud writes
# into its managed block below (as Azure's server firewall admits only listed IPs) and then reloads the server.
# The local line trusts the bootstrap superuser on the unix socket, whose directory (mode 0700, owned by the
# server's OS user) only that OS user and root can enter: socket access is the credential.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       {SUPERUSER}                  trust
host    all       {ADMIN_USER}   127.0.0.1/32   scram-sha-256
"""


# --- helpers the other dev-stack services (mariadb, redis, azurite) use too ----------------------------------------


def is_root() -> bool:
    return os.geteuid() == 0


def private_data_dir(cfg: StackConfig, name: str, os_user: str) -> Path:
    """Where a server that must not run as root keeps its data: a directory `os_user` owns and can reach.

    As root: `/var/lib/servicelinker/<hash>/<name>`, where <hash> is derived from the state directory, so every
    state directory (a developer's stack, a test session's) gets its own cluster, reused by its next `up`. The
    hash directory records its state directory in `owner` so a human can tell what it belongs to.
    Not root: `<state>/<name>/server` (the server runs as us, so the state directory is reachable).
    """
    if not is_root():
        d = cfg.service_dir(name) / "server"
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return d
    top = private_root(cfg)
    if not top.exists():
        prune_orphans()
    top.mkdir(parents=True, exist_ok=True)
    for p in (PRIVATE_ROOT, top):
        p.chmod(0o755)  # traversable by the server users; the per-service directory below is private
    (top / "owner").write_text(f"{cfg.state_dir.resolve()}\n")
    d = top / name
    d.mkdir(exist_ok=True)
    pw = pwd.getpwnam(os_user)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    d.chmod(0o700)
    return d


def private_root(cfg: StackConfig) -> Path:
    """The root-mode directory for this state directory's server data (see `private_data_dir`)."""
    digest = hashlib.sha256(str(cfg.state_dir.resolve()).encode()).hexdigest()[:12]
    return PRIVATE_ROOT / digest


def remove_private_data(cfg: StackConfig) -> bool:
    """Delete this state directory's root-mode server data (PostgreSQL and MariaDB clusters) after `down`.

    Refuses (raises) while a process still works inside it, so a running server's files are never pulled away.
    Returns False when there was nothing to delete. Without root the data lives in the state directory itself.
    """
    top = private_root(cfg)
    if not top.exists():
        return False
    busy = processes_using(top)
    if busy:
        raise RuntimeError(f"{top} is still in use by PIDs {busy}; run `servicelinker devstack down` first")
    shutil.rmtree(top)
    return True


def prune_orphans() -> list[Path]:
    """Delete root-mode server data whose state directory no longer exists (nothing could ever reuse it, and each
    test session's temporary state directory leaves a cluster behind), unless a process still works in it."""
    removed = []
    for owner in PRIVATE_ROOT.glob("*/owner"):
        try:
            state = Path(owner.read_text().strip())
        except OSError:  # another stack pruning it at the same moment
            continue
        if state.exists() or processes_using(owner.parent):
            continue
        shutil.rmtree(owner.parent, ignore_errors=True)
        removed.append(owner.parent)
    return removed


def processes_using(directory: Path) -> list[int]:
    """PIDs whose working directory is inside `directory` (postgres and mariadbd chdir into their data dirs)."""
    out = []
    prefix = str(directory.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == prefix or cwd.startswith(prefix + "/"):
            out.append(int(entry.name))
    return out


def stored_password(path: Path) -> str:
    """The password kept in `path` (mode 0600), generated on first use so restarts keep the same credentials."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = secrets.token_urlsafe(24)
    write_secret(path, value + "\n")
    return value


def write_secret(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (created 0600, never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def run_as(argv: list[str], os_user: str | None, cwd: Path, timeout: float = 120.0) -> str:
    """Run a one-shot command (initdb, install-db) as `os_user` when we are root; its output in errors."""
    kwargs: dict[str, Any] = {}
    env = dict(os.environ)
    if os_user is not None and is_root():
        pw = pwd.getpwnam(os_user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        env["HOME"] = pw.pw_dir
    res = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if res.returncode != 0:
        raise process.StartError(f"{' '.join(argv[:1])} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return str(res.stdout)


def stop_previous(cfg: StackConfig, name: str) -> None:
    """Stop a process we recorded earlier under `name` (e.g. alive but unhealthy), so a restart can take its port."""
    rec = process.record(cfg.state_dir, name)
    if rec is not None:
        process.stop(cfg.state_dir, rec)


# --- PostgreSQL ---------------------------------------------------------------------------------------------------


def bin_dir() -> Path:
    """The newest PostgreSQL installed from Debian (/usr/lib/postgresql/<major>/bin), else the one on PATH."""
    candidates = []
    for p in Path("/usr/lib/postgresql").glob("*/bin/postgres"):
        with contextlib.suppress(ValueError):
            candidates.append((int(p.parent.parent.name), p.parent))
    if candidates:
        return max(candidates)[1]
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise process.StartError("PostgreSQL is not installed: run scripts/install-services.sh")


class PostgresService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        stop_previous(cfg, NAME)
        bindir = bin_dir()
        os_user = OS_USER if is_root() else None
        root = private_data_dir(cfg, NAME, OS_USER)
        data, sockets = root / "data", root / "run"
        self._init_cluster(bindir, root, data, os_user)
        self._install_tls(cfg, root, os_user)
        sockets.mkdir(exist_ok=True, mode=0o700)
        if os_user is not None:
            _chown(sockets, os_user)
        argv = [
            str(bindir / "postgres"),
            "-D", str(data),
            "-c", f"listen_addresses={HOST}",
            "-c", f"port={cfg.ports.postgres}",
            "-c", f"unix_socket_directories={sockets}",
            "-c", "unix_socket_permissions=0700",
            "-c", "ssl=on",
            "-c", f"ssl_cert_file={root / 'tls' / 'server.crt'}",
            "-c", f"ssl_key_file={root / 'tls' / 'server.key'}",
        ]  # fmt: skip
        rec = process.spawn(cfg.state_dir, NAME, argv, cwd=root, user=os_user)
        admin = _superuser_conninfo(sockets, cfg.ports.postgres)
        process.wait_until(lambda: _select_one(admin), START_TIMEOUT, "PostgreSQL", rec)
        password = stored_password(cfg.service_dir(NAME) / "admin-password")
        version = _ensure_admin(admin, password)
        return {
            "host": HOST,
            "port": cfg.ports.postgres,
            "database": DATABASE,
            "adminUser": ADMIN_USER,
            "password": password,
            "dataDir": str(data),
            "hbaFile": str(data / "pg_hba.conf"),
            "socketDir": str(sockets),
            "ssl": True,
            "caCert": str(cfg.service_dir(NAME) / "tls" / "ca.crt"),
            "version": version,
            "env": {
                "PGHOST": HOST,
                "PGPORT": str(cfg.ports.postgres),
                "PGUSER": ADMIN_USER,
                "PGDATABASE": DATABASE,
            },
        }

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        try:
            with psycopg.connect(**admin_conninfo(description), connect_timeout=3) as conn:
                row = conn.execute("SELECT 1").fetchone()
                ok = row == (1,)
                tls = conn.pgconn.ssl_in_use
        except psycopg.Error as exc:
            return Health(name=NAME, healthy=False, detail=str(exc).strip())
        detail = f"PostgreSQL {description.get('version', '?')} on {description['host']}:{description['port']}"
        return Health(name=NAME, healthy=ok and tls, detail=detail + (" (TLS)" if tls else " (no TLS)"))

    @staticmethod
    def _init_cluster(bindir: Path, root: Path, data: Path, os_user: str | None) -> None:
        """initdb once; the marker is written last, so an interrupted initdb is redone rather than half-used."""
        marker = root / ".initialized"
        if marker.exists() and (data / "PG_VERSION").exists():
            have, server = (data / "PG_VERSION").read_text().strip(), _major_version(bindir)
            if have != server:
                raise process.StartError(
                    f"{data} holds a PostgreSQL {have} cluster but the server is {server}; "
                    f"stop the stack and delete {root} to recreate it"
                )
            return
        shutil.rmtree(data, ignore_errors=True)
        run_as(
            [
                str(bindir / "initdb"),
                "-D", str(data),
                "-U", SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",  # a dev cluster: skip fsyncing ~1000 files (seconds on slow disks)
            ],
            os_user,
            root,
        )  # fmt: skip
        hba = data / "pg_hba.conf"
        hba.write_text(HBA)
        hba.chmod(0o600)
        if os_user is not None:
            _chown(hba, os_user)
        marker.write_text("")

    @staticmethod
    def _install_tls(cfg: StackConfig, root: Path, os_user: str | None) -> None:
        """A server certificate for 127.0.0.1/localhost from the service's own CA, copied where the server user
        can read it: PostgreSQL refuses a key not owned by it or readable by others (hence 0600)."""
        ca = CertificateAuthority(cfg.service_dir(NAME) / "tls", common_name="servicelinker-devstack-postgres-ca")
        crt, key = ca.issue("server", HOST, dns_names=["localhost"], ip_addresses=[HOST], server=True)
        tls = root / "tls"
        tls.mkdir(exist_ok=True, mode=0o700)
        shutil.copyfile(crt, tls / "server.crt")
        write_secret(tls / "server.key", key.read_text())
        if os_user is not None:
            for p in (tls, tls / "server.crt", tls / "server.key"):
                _chown(p, os_user)


def admin_conninfo(description: dict[str, Any]) -> dict[str, Any]:
    """psycopg.connect() keywords for the admin over TCP; TLS required when the server offers it."""
    return {
        "host": description["host"],
        "port": description["port"],
        "user": description["adminUser"],
        "password": description["password"],
        "dbname": description.get("database", DATABASE),
        "sslmode": "require" if description.get("ssl") else "prefer",
    }


def reload(description: dict[str, Any]) -> None:
    """Make the server re-read its configuration, notably `hbaFile` after firewall rules changed.

    Checks the file first (pg_hba_file_rules parses the file on disk): PostgreSQL keeps the old rules when the new
    file has an error and only logs it, which would make a broken rule look applied. Connects through the unix
    socket as the bootstrap superuser, so a rule change on TCP can never lock the reload itself out.
    """
    info = _superuser_conninfo(Path(description["socketDir"]), int(description["port"]))
    with psycopg.connect(**info, autocommit=True) as conn:
        errors = conn.execute(
            "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number"
        ).fetchall()
        if errors:
            lines = "; ".join(f"line {n}: {e}" for n, e in errors)
            raise ValueError(f"{description['hbaFile']} has errors, not reloaded: {lines}")
        conn.execute("SELECT pg_reload_conf()")


def _major_version(bindir: Path) -> str:
    """ "15" from "postgres (PostgreSQL) 15.18 (Debian ...)": what PG_VERSION of a cluster it can run says."""
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"\) (\d+)", out)
    return m.group(1) if m else out.strip()


def _superuser_conninfo(sockets: Path, port: int) -> dict[str, Any]:
    return {"host": str(sockets), "port": port, "user": SUPERUSER, "dbname": DATABASE, "connect_timeout": 3}


def _select_one(info: dict[str, Any]) -> bool:
    with psycopg.connect(**info) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _ensure_admin(info: dict[str, Any], password: str) -> str:
    """Create `sladmin` if missing and (re)set its password, so the stored password always works; returns the
    server version. SUPERUSER mirrors MariaDB's ALL PRIVILEGES admin: the local cloud creates databases, roles
    and grants with it."""
    with psycopg.connect(**info, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ADMIN_USER,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} WITH LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(ADMIN_USER), sql.Literal(password)
            )
        )
        row = conn.execute("SHOW server_version").fetchone()
    full = str(row[0]) if row else ""
    m = re.match(r"[\d.]+", full)
    return m.group(0) if m else full


def _chown(path: Path, os_user: str) -> None:
    pw = pwd.getpwnam(os_user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


SERVICE = PostgresService()
