"""Starting and stopping the dev stack's server processes, by PID, and nothing else.

Every process we start is recorded in `<state>/run/<name>.json` (pid, executable, start time as the kernel
reports it). Stopping checks that the PID still belongs to that executable and start time before signalling,
so a recycled PID is never killed.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel


class ProcessRecord(BaseModel):
    name: str
    pid: int
    executable: str
    start_ticks: int
    log: str


class StartError(RuntimeError):
    """A dev-stack server did not start or did not become ready; the message names it and its log."""


def run_dir(state_dir: Path) -> Path:
    return state_dir / "run"


def _start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks since boot (field 22 of /proc/PID/stat), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19])


def is_alive(rec: ProcessRecord) -> bool:
    ticks = _start_ticks(rec.pid)
    if ticks is None or ticks != rec.start_ticks:
        return False
    try:
        state = Path(f"/proc/{rec.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def spawn(
    state_dir: Path,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> ProcessRecord:
    """Start `argv` in its own session with output to `<state>/logs/<name>.log` and record it."""
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    run_dir(state_dir).mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    uid: int | None = None
    gid: int | None = None
    if user is not None and os.geteuid() == 0:
        pw = pwd.getpwnam(user)
        uid, gid = pw.pw_uid, pw.pw_gid
        full_env["HOME"] = pw.pw_dir
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            user=uid,
            group=gid,
            extra_groups=[] if uid is not None else None,
        )
    ticks = None
    for _ in range(50):
        ticks = _start_ticks(proc.pid)
        if ticks is not None:
            break
        time.sleep(0.01)
    rec = ProcessRecord(name=name, pid=proc.pid, executable=argv[0], start_ticks=ticks or 0, log=str(log_path))
    (run_dir(state_dir) / f"{name}.json").write_text(rec.model_dump_json())
    return rec


def records(state_dir: Path) -> list[ProcessRecord]:
    d = run_dir(state_dir)
    if not d.is_dir():
        return []
    out = []
    for f in sorted(d.glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            out.append(ProcessRecord.model_validate_json(f.read_text()))
        except ValueError:
            continue
    return out


def record(state_dir: Path, name: str) -> ProcessRecord | None:
    f = run_dir(state_dir) / f"{name}.json"
    if not f.exists():
        return None
    return ProcessRecord.model_validate_json(f.read_text())


def stop(state_dir: Path, rec: ProcessRecord, timeout: float = 10.0) -> bool:
    """SIGTERM the recorded process group, then SIGKILL after `timeout`; True if it was running."""
    was_alive = is_alive(rec)
    if was_alive:
        _signal(rec, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while is_alive(rec) and time.monotonic() < deadline:
            _reap(rec.pid)
            time.sleep(0.05)
        if is_alive(rec):
            _signal(rec, signal.SIGKILL)
            while is_alive(rec) and time.monotonic() < deadline + 5:
                _reap(rec.pid)
                time.sleep(0.05)
    _reap_fully(rec)
    (run_dir(state_dir) / f"{rec.name}.json").unlink(missing_ok=True)
    return was_alive


def _signal(rec: ProcessRecord, sig: signal.Signals) -> None:
    # The process leads its own session (start_new_session), so its group id is its pid; signalling the
    # group also reaches helpers it forked (e.g. node workers), all of which we started.
    try:
        os.killpg(rec.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(rec.pid, sig)


def _reap(pid: int) -> bool:
    """Collect the exit status of our child `pid` if it has exited; False when it is not our child."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return True


def _reap_fully(rec: ProcessRecord, timeout: float = 5.0) -> None:
    """A multi-threaded child's leader shows as a zombie while its other threads still exit, and cannot be reaped
    until they have: keep reaping (bounded) until the process is gone, so no zombie of ours outlives `down`."""
    deadline = time.monotonic() + timeout
    while _start_ticks(rec.pid) == rec.start_ticks and time.monotonic() < deadline:
        if not _reap(rec.pid):
            return  # not our child: its parent reaps it
        time.sleep(0.02)


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, rec: ProcessRecord | None = None, interval: float = 0.1
) -> None:
    """Poll `check` until true; fail with the tail of the process log if it dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        if rec is not None and not is_alive(rec):
            raise StartError(f"{what} exited during start-up; last log lines:\n{tail(rec.log)}")
        time.sleep(interval)
    detail = f"; last log lines:\n{tail(rec.log)}" if rec else ""
    raise StartError(f"{what} was not ready after {timeout:.0f}s{detail}")


def tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the stack's passwords
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data, indent=2))
    tmp.replace(path)


def respawn(state_dir: Path, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> ProcessRecord:
    """Stop a leftover process of ours under `name` (a crashed or earlier `up`), then spawn `argv` anew."""
    old = record(state_dir, name)
    if old is not None:
        stop(state_dir, old)
    return spawn(state_dir, name, argv, env=env)
