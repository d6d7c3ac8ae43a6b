"""Live connection tests: reach the target with exactly the configuration delivered into the Kubernetes Secret.

Why: Azure's `az aks connection validate` never looks at the values in the cluster (reference §6.1, §7.7), so a
wrong password or a template a driver misreads only shows when the workload fails. `probe` reads the parameters
back from the key/value pairs (`extract`), connects with the driver an application would use (psycopg, PyMySQL,
redis-py, the Azure Storage SDKs), makes one cheap authenticated call and says what it reached.

Results are `success`, `failure` (reason + remedy, and an `error_code`) or `notTestable` (identity-based
configurations, whose tokens the token service tests; targets with no server on this machine).

Secrets never leave: details are composed from non-secret parameters (host, port, database, user, key names);
driver messages, which can echo a DSN or a user, are only quoted after every secret of the configuration has
been replaced by `***`; nothing is raised out of `probe`. Every network call is bounded by `timeout`.

Modules: `results` (the result, classification, scrubbing), `databases`, `redis_probe`, `storage` (one live
test per service kind); this one dispatches by the catalog's `probe` of each service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from servicelinker.catalog.targets import TARGETS, TARGETS_BY_NAME
from servicelinker.probes.databases import (
    probe_mysql,
    probe_postgres,
)
from servicelinker.probes.extract import (
    ExtractError,
    restore_names,
)
from servicelinker.probes.redis_probe import probe_redis
from servicelinker.probes.results import (
    ProbeContext,
    ProbeErrorCode,
    ProbeResult,
    Scrubber,
    fail,
    first_line,
    identity_result,
    log,
    not_testable,
)
from servicelinker.probes.storage import (
    probe_file,
    storage_probe,
)

# ============================================================================================ entry point


def probe(
    target: str,
    configurations: Mapping[str, str],
    *,
    timeout: float = 5.0,
    ca_file: str | None = None,
    customized_keys: Mapping[str, str] | None = None,
) -> ProbeResult:
    """Test `configurations` (a connection's Secret data) against the `target` (CLI target name) they point at.

    `ca_file` is the trust root for certificate checks (the dev stack's private CAs): used where the
    configuration asks for verification (`verify-ca`/`verify-full`, Go's `tls=true`), for Redis over TLS and
    for HTTPS storage endpoints. `customized_keys` (the linker's default -> custom names) lets renamed keys be
    recognised. Never raises; never puts a secret in the result or the log.
    """
    ctx = ProbeContext(target, restore_names(configurations, customized_keys), max(timeout, 0.5), ca_file)
    scrub = Scrubber.of(ctx.configurations)  # default names, so renamed credentials are still recognised
    try:
        result = _dispatch(ctx)
    except ExtractError as exc:
        result = fail(
            ProbeErrorCode.CONFIGURATION_INVALID,
            f"the configuration is unusable: {exc}",
            "update the connection so the value has the documented shape",
        )
    except Exception as exc:  # a probe reports, it does not crash `validate`
        result = fail(
            ProbeErrorCode.PROBE_ERROR, f"the test itself failed: {type(exc).__name__}: {first_line(str(exc))}"
        )
    result = result.model_copy(update={"detail": scrub(result.detail)})
    log.debug("probe %s: %s %s", target, result.status, result.detail)
    return result


def _dispatch(ctx: ProbeContext) -> ProbeResult:
    known = TARGETS_BY_NAME.get(ctx.target)
    runner = LIVE_PROBES.get(known.probe or "") if known else None
    if runner is not None:
        return runner(ctx)
    identity = identity_result(ctx)
    if identity is not None:
        return identity
    what = known.display if known else ctx.target
    return not_testable(ProbeErrorCode.NO_LOCAL_SERVER, f"no {what} server runs on this machine")




# ============================================================================================ the table

#: A service's `probe` (catalog/services.py) -> the live test. Services without one are notTestable.
LIVE_PROBES: dict[str, Callable[[ProbeContext], ProbeResult]] = {
    "postgresql": probe_postgres,
    "mysql": probe_mysql,
    "redis": probe_redis,
    "storage-blob": storage_probe("blob"),
    "storage-queue": storage_probe("queue"),
    "storage-table": storage_probe("table"),
    "storage-file": probe_file,
}

#: The targets `probe` can test live (the others are notTestable), derived from the catalog.
LIVE_TARGETS: tuple[str, ...] = tuple(t.name for t in TARGETS if t.probe in LIVE_PROBES)
