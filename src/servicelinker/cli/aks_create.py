"""`servicelinker aks connection create|update <target>`: one command per catalog target, generated from it.

The options mirror az (reference §2.2-2.5): the target's name options (`--server --database`, `--account`, ...) or
`--target-id`; `--secret` bare for keys the service fetches itself, `--secret name=<user> secret=<password>` for
databases; `--kube-namespace`, `--client-type`, `--customized-keys K=V ...`, `--connstr-props K=V ...`,
`--opt-out publicnetwork|configinfo|auth ...`, `--connection`, `--no-wait`, `-o`. Like az, space-separated values
follow one flag (`--secret name=app secret=pw`); `expand_argv` turns that into what click parses.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from servicelinker.catalog import naming
from servicelinker.catalog.auth import SECRET, SECRET_AUTO, SERVICE_PRINCIPAL, WORKLOAD_IDENTITY
from servicelinker.catalog.targets import TARGETS, Target
from servicelinker.cli import common, views
from servicelinker.cli.output import OutputFormat, emit
from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.ids import ResourceId, format_connection_id
from servicelinker.model.linker import LinkerProperties, LinkerResource

if TYPE_CHECKING:
    from servicelinker.engine import Engine

#: Flags that take several space-separated values after them, as in az.
MULTI_VALUE_FLAGS = ("--secret", "--customized-keys", "--connstr-props", "--opt-out", "--service-principal")
BARE = "__bare__"
OPT_OUT_VALUES = ("publicnetwork", "configinfo", "auth")


def expand_argv(argv: Sequence[str]) -> list[str]:
    """`--secret name=a secret=b` -> `--secret name=a --secret secret=b`; a bare `--secret` -> `--secret __bare__`."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in MULTI_VALUE_FLAGS:
            values = []
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                values.append(argv[i])
                i += 1
            for v in values or [BARE]:
                out += [token, v]
            continue
        out.append(token)
        i += 1
    return out


#: Flags whose values may be secret: never echoed, and readable from a file or standard input.
SECRET_FLAGS = ("--secret", "--service-principal")


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for position, v in enumerate(values, 1):
        if v == BARE:
            continue
        if "=" not in v:
            # the token may be a password typed in the wrong place: name its position, never its text
            raise ArmError(
                ErrorCode.INVALID_ARGUMENT_VALUE,
                f"Usage error: {flag} expects KEY=VALUE pairs; value {position} has no '='."
                if flag in SECRET_FLAGS else f"Usage error: {flag} expects KEY=VALUE pairs, got '{shown(v)}'.",
                target=flag,
                remedy=f"Write {flag} key1=value1 key2=value2.",
            )
        k, val = v.split("=", 1)
        out[k] = _read_value(val, flag, k) if flag in SECRET_FLAGS else val
    return out


def _read_value(value: str, flag: str, key: str) -> str:
    """`@path` reads the value from a file, `-` from standard input (so a password need not be on the command
    line, where `ps` shows it); `@@...` stands for a value that begins with `@`. One trailing newline is dropped."""
    if value == "-":
        text = sys.stdin.readline()
    elif value.startswith("@@"):
        return value[1:]
    elif value.startswith("@"):
        try:
            text = Path(value[1:]).expanduser().read_text()
        except OSError as exc:
            raise ArmError(ErrorCode.INVALID_ARGUMENT_VALUE, f"{flag} {key}=@<file>: the file cannot be read "
                           f"({exc.strerror or type(exc).__name__}).", target=flag,
                           remedy="Give a readable file, e.g. secret=@./password.txt.") from None  # fmt: skip
    else:
        return value
    return text[:-1] if text.endswith("\n") else text


def _secret_auth(target: Target, values: Sequence[str]) -> dict[str, Any]:
    pairs = {k.lower(): v for k, v in _pairs(values, "--secret").items()}
    if target.secret_is_auto:
        if pairs:
            raise ArmError(
                ErrorCode.INVALID_ARGUMENT_VALUE,
                f"--secret takes no keys for {target.name}: Service Connector reads the keys from the target itself.",
                target="--secret",
                remedy="Pass --secret alone.",
            )
        return {"authType": "secret"}
    if "secret-uri" in pairs or "secret-name" in pairs:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            "Service Connector does not support secrets from Key Vault for AKS.",
            target="--secret",
            remedy="Pass the password itself: --secret name=<user> secret=<password>.",
        )
    unknown = sorted(set(pairs) - {"name", "secret"})
    if unknown or "name" not in pairs or "secret" not in pairs:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "Required keys missing for parameter --secret. All possible keys are: name, secret/secret-uri/secret-name",
            target="--secret",
            remedy="Pass --secret name=<user> secret=<password>.",
        )
    return {
        "authType": "secret",
        "name": pairs["name"],
        "secretInfo": {"secretType": "rawValue", "value": pairs["secret"]},
    }


USER_ASSIGNED_IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
AUTH_FLAGS = ("secret", "workload_identity", "service_principal")


def _auth_from_flags(eng: Engine, target: Target, opts: dict[str, Any]) -> dict[str, Any] | None:
    """The authInfo of the one auth flag given (az allows exactly one), or None when there is none."""
    given = [f for f in AUTH_FLAGS if opts.get(f)]
    if opts.get("enable_csi"):
        if not target.csi:
            raise ArmError(
                ErrorCode.INVALID_ARGUMENT_VALUE,
                f"--enable-csi applies to keyvault only, not {target.name}.",
                target="--enable-csi",
                remedy="Drop --enable-csi.",
            )
        if given:
            typer.echo(
                "WARNING: --enable-csi uses the user assigned managed identity generated by AKS "
                "azure-keyvault-secrets-provider add-on; other auth flags are ignored.",
                err=True,
            )
        return None
    if len(given) > 1:
        flags = ", ".join("--" + f.replace("_", "-") for f in given)
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Only one auth info argument is allowed, got {flags}.",
            target="--secret",
            remedy="Pass exactly one of --secret, --workload-identity, --service-principal.",
        )
    if not given:
        return None
    flag = given[0]
    allowed = {
        "secret": (SECRET, SECRET_AUTO),
        "workload_identity": (WORKLOAD_IDENTITY,),
        "service_principal": (SERVICE_PRINCIPAL,),
    }[flag]
    if not set(allowed) & set(target.auth_types):
        raise ArmError(
            ErrorCode.UNSUPPORTED_COMBINATION,
            f"--{flag.replace('_', '-')} is not supported for {target.name} on AKS.",
            target=f"--{flag.replace('_', '-')}",
            remedy=f"Supported: {', '.join(target.auth_types)}.",
        )
    if flag == "secret":
        return _secret_auth(target, opts["secret"])
    if flag == "workload_identity":
        return _workload_identity_auth(eng, opts["workload_identity"])
    return _service_principal_auth(eng, opts["service_principal"])


def _workload_identity_auth(eng: Engine, identity_id: str) -> dict[str, Any]:
    """az resolves the identity's clientId (`az identity show --ids`); the subscription is the id's."""
    rid = ResourceId.try_parse(identity_id)
    if rid is None or (rid.resource_type or "").lower() != USER_ASSIGNED_IDENTITY_TYPE.lower():
        raise ArmError(
            ErrorCode.INVALID_RESOURCE_ID,
            f"Resource id is invalid: {shown(identity_id, 512)}",
            target="--workload-identity",
            remedy="Pass the identity's resource id: /subscriptions/<sub>/resourceGroups/<rg>/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/<name> (`az identity show --query id`).",
        )
    ref = eng.resolve_identity(identity_id)
    return {"authType": "userAssignedIdentity", "clientId": ref.client_id, "subscriptionId": ref.subscription_id}


def _service_principal_auth(eng: Engine, values: Sequence[str]) -> dict[str, Any]:
    pairs = {k.lower(): v for k, v in _pairs(values, "--service-principal").items()}
    if "client-id" not in pairs or "secret" not in pairs:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "Required keys missing for parameter --service-principal. All possible keys are: client-id, "
            "object-id, secret",
            target="--service-principal",
            remedy="Pass --service-principal client-id=<id> secret=<secret>.",
        )
    # az looks the object id up with `az ad sp show --id <client-id>`
    object_id = pairs.get("object-id") or eng.service_principal_object_id(pairs["client-id"])
    return {
        "authType": "servicePrincipalSecret",
        "clientId": pairs["client-id"],
        "principalId": object_id,
        "secret": pairs["secret"],
    }


def _default_auth(target: Target) -> dict[str, Any]:
    if SECRET_AUTO in target.auth_types:
        typer.echo("WARNING: Auth info is not specified, use default one: --secret", err=True)
        return {"authType": "secret"}
    flags = " or ".join(
        sorted({("--secret name=<user> secret=<password>" if a == SECRET else f"--{a}") for a in target.auth_types})
    )
    raise ArmError(
        ErrorCode.MISSING_REQUIRED_ARGUMENT,
        f"Auth info is required for {target.name}.",
        target="--secret",
        remedy=f"Pass {flags}.",
    )


def _target_id(target: Target, opts: dict[str, Any], source: str) -> str:
    if opts.get("target_id"):
        if not target.accepts_target_id:
            raise ArmError(
                ErrorCode.INVALID_ARGUMENT_VALUE,
                f"{target.name} does not accept --target-id.",
                target="--target-id",
                remedy="Use the target's name options.",
            )
        return target.validate_id(opts["target_id"])
    pattern = target.pattern
    assert pattern is not None
    values = {"subscription": ResourceId.parse(source).subscription}
    values.update({p.key: opts.get(p.key) or "" for p in target.name_params})
    try:
        return pattern.format(**values)
    except KeyError:
        needed = " ".join(p.option for p in target.name_params)
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            f"Required arguments are missing for {target.name}: {needed} (or --target-id).",
            target=target.name_params[0].option if target.name_params else "--target-id",
            remedy=f"Pass {needed}, or --target-id <resource id>.",
        ) from None


def _configuration_info(opts: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    info = dict((previous or {}).get("configurationInfo") or {})
    if opts.get("customized_keys"):
        info["customizedKeys"] = _pairs(opts["customized_keys"], "--customized-keys")
    if opts.get("connstr_props"):
        info["additionalConnectionStringProperties"] = _pairs(opts["connstr_props"], "--connstr-props")
    if "configinfo" in (opts.get("opt_out") or ()):
        info["action"] = "optOut"
    return info


def _check_opt_out(values: Sequence[str]) -> None:
    bad = [v for v in values if v not in OPT_OUT_VALUES]
    if bad:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Invalid --opt-out value(s): {', '.join(bad)}.",
            target="--opt-out",
            remedy=f"Allowed values: {', '.join(OPT_OUT_VALUES)}.",
        )


def build_body(
    eng: Engine, target: Target, opts: dict[str, Any], source: str, previous: dict[str, Any] | None
) -> LinkerResource:
    """The PUT body az would send (reference §2.7); on update, unspecified parts come from the existing linker."""
    opt_out = tuple(opts.get("opt_out") or ())
    _check_opt_out(opt_out)
    props: dict[str, Any] = {}
    if previous:
        props["targetService"] = previous["targetService"]
    else:
        props["targetService"] = {"type": "AzureResource", "id": _target_id(target, opts, source)}
    explicit = _auth_from_flags(eng, target, opts)
    csi = bool(opts.get("enable_csi")) or (
        target.csi and explicit is None and not previous and not {"auth", "configinfo"} <= set(opt_out)
    )
    if csi:
        if not opts.get("enable_csi"):
            typer.echo(
                "WARNING: Auth info is not specified, use secrets store csi driver as default: --enable-csi", err=True
            )
        props["authInfo"] = {"authType": "userAssignedIdentity"}
        props["targetService"] = {
            **props["targetService"],
            "resourceProperties": {"type": "KeyVault", "connectAsKubernetesCsiDriver": True},
        }
    elif explicit is not None:
        props["authInfo"] = explicit
    elif previous and previous.get("authInfo"):
        props["authInfo"] = previous["authInfo"]
    elif not {"auth", "configinfo"} <= set(opt_out):
        props["authInfo"] = _default_auth(target)
    if "auth" in opt_out and props.get("authInfo"):
        props["authInfo"]["authMode"] = "optOutAllAuth"
    client = opts.get("client_type") or (previous or {}).get("clientType")
    if client is None:
        typer.echo("WARNING: Client type is not specified, use default one: --client-type none", err=True)
    props["clientType"] = client or "none"
    props["scope"] = opts.get("kube_namespace") or (previous or {}).get("scope") or naming.DEFAULT_NAMESPACE
    props["configurationInfo"] = _configuration_info(opts, previous)
    props["publicNetworkSolution"] = {"action": "optOut"} if "publicnetwork" in opt_out else {}
    return LinkerResource.model_validate({"properties": props})


def _run(target: Target, opts: dict[str, Any], update: bool) -> None:
    eng = common.engine()
    previous: dict[str, Any] | None = None
    if update:
        lid = common.linker_id(eng, opts.get("id"), opts.get("resource_group"), opts.get("name"),
                               opts.get("connection"))  # fmt: skip
        stored = eng.get(lid)
        source = stored.source_id
        previous = stored.body["properties"]
        changes = ("secret", "client_type", "kube_namespace", "workload_identity", "service_principal", "enable_csi")
        if not any(opts.get(k) for k in changes):
            raise ArmError(
                ErrorCode.MISSING_REQUIRED_ARGUMENT,
                "Either client type or auth info should be specified to update",
                target="--client-type",
                remedy="Pass --client-type, --secret or --kube-namespace.",
            )
        name = stored.name
    else:
        source = common.source_id(eng, opts.get("resource_group"), opts.get("name"), opts.get("source_id"))
        name = opts.get("connection") or naming.generate_connection_name(target.name)
        if not opts.get("connection"):
            typer.echo(f"WARNING: Connection name is not specified, use generated one: --connection {name}", err=True)
        naming.validate_connection_name(name)
        lid = format_connection_id(source, name)
    body = build_body(eng, target, opts, source, previous)
    op = eng.begin_create_or_update(lid, body)
    if opts.get("no_wait"):
        eng.hand_off(op.id)
        emit(views.linker_view(eng.get(lid)), OutputFormat(opts.get("output") or "json"))
        return
    done = common.run(eng, op.id)
    if done.status != "Succeeded":
        common.fail(ArmError.from_detail(views.error_detail(done)))
    stored = eng.get(lid)
    configurations = eng.list_configurations(lid)
    view = views.linker_view(stored, configurations=configurations)
    if LinkerProperties.model_validate(stored.body["properties"]).connects_as_csi_driver:
        namespace = stored.properties.get("scope") or naming.DEFAULT_NAMESPACE
        view["secretProviderClass"] = views.secret_provider_class(stored.name, namespace, configurations)
        typer.echo(
            "Mount the vault with the SecretProviderClass in the output's 'secretProviderClass' "
            "(list your secrets under parameters.objects).",
            err=True,
        )
    emit(view, OutputFormat(opts.get("output") or "json"), table_rows=[views.linker_row(view)])


def _option(name: str, *flags: str, help: str, multiple: bool = False, flag: bool = False) -> inspect.Parameter:
    annotation: Any
    if flag:
        annotation, default = Annotated[bool, typer.Option(*flags, help=help)], False
    elif multiple:
        annotation, default = Annotated[list[str] | None, typer.Option(*flags, help=help)], None
    else:
        annotation, default = Annotated[str | None, typer.Option(*flags, help=help)], None
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _common_options(update: bool) -> list[inspect.Parameter]:
    opts = [
        _option("resource_group", "--resource-group", "-g", help="The resource group of the cluster."),
        _option("name", "--name", "-n", help="Name of the AKS cluster."),
        _option("connection", "--connection", help="Name of the connection ([A-Za-z0-9._]+)."),
        _option(
            "kube_namespace",
            "--kube-namespace",
            help="Kubernetes namespace of the Secret (default 'default'; on update the current one).",
        ),
        _option("client_type", "--client-type", help="The client type used on the cluster."),
        _option("secret", "--secret", multiple=True,
                help="--secret (auto) or --secret name=<user> secret=<pw>; secret=@file or secret=- reads it from "
                "a file or stdin."),
        _option("workload_identity", "--workload-identity", help="Resource id of the user-assigned identity."),
        _option(
            "service_principal",
            "--service-principal",
            multiple=True,
            help="client-id=<id> secret=<secret> [object-id=<id>]; secret=@file or secret=- reads it "
            "from a file or stdin.",
        ),
        _option("enable_csi", "--enable-csi", flag=True, help="keyvault: use the secrets-store CSI driver add-on."),
        _option("customized_keys", "--customized-keys", multiple=True, help="Rename keys: KEY=NEWKEY ..."),
        _option("connstr_props", "--connstr-props", multiple=True, help="Connection-string properties: K=V ..."),
        _option("opt_out", "--opt-out", multiple=True, help="publicnetwork, configinfo and/or auth."),
        _option("no_wait", "--no-wait", flag=True, help="Do not wait for the operation to finish."),
    ]
    opts.append(
        inspect.Parameter(
            "output",
            inspect.Parameter.KEYWORD_ONLY,
            default=OutputFormat.json,
            annotation=Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")],
        )
    )
    if update:
        opts.append(_option("id", "--id", help="The connection id."))
    else:
        opts.append(_option("source_id", "--source-id", help="The cluster's resource id."))
        opts.append(_option("target_id", "--target-id", help="The target's resource id."))
    return opts


def _target_options(target: Target) -> list[inspect.Parameter]:
    return [_option(p.key, *p.options, help=p.help) for p in target.name_params]


def _command(target: Target, update: bool) -> Callable[..., None]:
    def command(**opts: Any) -> None:
        try:
            _run(target, opts, update)
        except ArmError as error:
            given = [f"--{f.replace('_', '-')}" for f in AUTH_FLAGS if opts.get(f)]
            common.fail(error, auth_flag=given[0] if given else None)

    params = _common_options(update) + ([] if update else _target_options(target))
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__name__ = target.name.replace("-", "_")
    verb = "Update" if update else "Create"
    command.__doc__ = f"{verb} a connection from an AKS cluster to {target.display}." + (
        " (deprecated)" if target.deprecated else ""
    )
    return command


def group(update: bool) -> typer.Typer:
    verb = "update" if update else "create"
    app = typer.Typer(help=f"{verb.capitalize()} a connection to a target.", no_args_is_help=True)
    for target in TARGETS:
        if target.accepts_target_id or target.name_params:
            app.command(target.name)(_command(target, update))
    return app
