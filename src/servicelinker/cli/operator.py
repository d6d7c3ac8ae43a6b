"""`servicelinker operator run|sync`: the sc-extension operator, in a pod (the chart's Deployment and sc-job) or
as a local process against any API server (the dev stack has no kubelet)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from servicelinker.cli.output import OutputFormat, emit
from servicelinker.kube.contract import SYSTEM_NAMESPACE

app = typer.Typer(help="Run the sc-extension operator (ServiceConnection -> Secret/ServiceAccount) or one sync pass.")

KubeconfigOpt = Annotated[
    Path | None,
    typer.Option("--kubeconfig", help="Kubeconfig to use; default: in-cluster credentials, else $KUBECONFIG."),
]
NamespaceOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace holding the ServiceConnections.")]


@contextmanager
def _logging(level: str) -> Iterator[None]:
    """Log to stderr for the duration of the command, then detach (so no handler outlives the stream)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The HTTP client logs every request at INFO; at INFO that would be most of the operator's log.
    quiet = [logging.getLogger(n) for n in ("httpx2", "httpx", "httpcore2", "httpcore")]
    for lg in quiet:
        lg.setLevel(max(logging.WARNING, root.level))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@app.command()
def run(
    kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = SYSTEM_NAMESPACE,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING.")] = "INFO",
) -> None:
    """Run the operator until interrupted: delivers connections, repairs drift, renews the heartbeat Lease."""
    from servicelinker.operator.sync import run as run_operator

    with _logging(log_level):
        run_operator(kubeconfig, namespace)


@app.command()
def sync(
    once: Annotated[bool, typer.Option("--once", help="One pass over every connection, then exit (sc-job).")] = False,
    kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = SYSTEM_NAMESPACE,
    output: Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")] = OutputFormat.json,
) -> None:
    """Reconcile every connection once and record the result in ConfigMap sc-job-status; exit code 1 if any
    connection failed (so Helm keeps the failed sc-job for inspection, as Azure's extension does)."""
    from servicelinker.operator.sync import run_sync_once

    if not once:
        typer.echo("ERROR: only --once is supported; `servicelinker operator run` syncs continuously.", err=True)
        raise typer.Exit(2)
    try:
        with _logging("WARNING"):
            report = run_sync_once(kubeconfig, namespace)
    except Exception as exc:
        typer.echo(f"ERROR: sync failed before any connection was processed: {exc}", err=True)
        raise typer.Exit(1) from exc
    emit(report.public(), output, table_rows=[f.model_dump() for f in report.failures] or None)
    if not report.ok:
        failed = "; ".join(f"{f.name}: {f.reason}" for f in report.failures)
        typer.echo(f"sc-job: {report.failed} of {report.total} connection(s) failed: {failed}", err=True)
        raise typer.Exit(1)
