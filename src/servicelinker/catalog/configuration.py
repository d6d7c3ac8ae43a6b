"""Composing a linker's configurations: each of its service's names (names.py) with its value rendered from the
target's facts and the linker, then `configurationInfo` applied; and the configurationNames listing.

Templates
---------
`{field}` is replaced by a value derived from `TargetFacts` and the linker (see `_FIELDS`); a bracketed segment
`[ port={nondefault_port}]` is dropped when any field inside it is empty. Ports, databases and token scopes fall
back to the service's defaults (services.py). names.py documents the rules the templates follow and the decisions
made where the reference is silent.

Pure data and functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import SecretStr

from servicelinker.catalog import auth
from servicelinker.catalog.names import COMMA, CSI, SEMICOLON, SPACE, NameSpec
from servicelinker.catalog.services import Service
from servicelinker.catalog.targets import Target, check_combination, target_of
from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.ids import ResourceId
from servicelinker.model.linker import (
    ActionType,
    LinkerProperties,
    LinkerResource,
    SecretAuthInfo,
    ServicePrincipalSecretAuthInfo,
    UserAssignedIdentityAuthInfo,
    ValueSecretInfo,
)
from servicelinker.model.records import Configuration, TargetFacts
from servicelinker.model.results import (
    ConfigurationName,
    ConfigurationNameItem,
    ConfigurationNameResult,
    ConfigurationNames,
    ConfigurationResult,
)

COSMOS_KEYS_API_VERSION = "2021-04-15"


# ============================================================================================ composing values


@dataclass(frozen=True)
class _Ctx:
    """Everything a field resolver may look at."""

    service: Service
    facts: TargetFacts
    props: LinkerProperties
    ids: Mapping[str, str]

    @property
    def default_port(self) -> int | None:
        return self.service.default_port

    def secret(self, value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None


def _auth_user(ctx: _Ctx) -> str | None:
    info = ctx.props.auth_info
    return info.name if isinstance(info, SecretAuthInfo) and info.name else ctx.facts.username


def _auth_password(ctx: _Ctx) -> str | None:
    info = ctx.props.auth_info
    if isinstance(info, SecretAuthInfo) and isinstance(info.secret_info, ValueSecretInfo) and info.secret_info.value:
        return info.secret_info.value
    return ctx.secret(ctx.facts.password)


def _client_id(ctx: _Ctx) -> str | None:
    info = ctx.props.auth_info
    if isinstance(info, UserAssignedIdentityAuthInfo | ServicePrincipalSecretAuthInfo) and info.client_id:
        return info.client_id
    return ctx.facts.client_id


def _client_secret(ctx: _Ctx) -> str | None:
    info = ctx.props.auth_info
    if isinstance(info, ServicePrincipalSecretAuthInfo) and info.secret:
        return info.secret
    return ctx.secret(ctx.facts.client_secret)


def _port(ctx: _Ctx) -> str | None:
    port = ctx.facts.port if ctx.facts.port is not None else ctx.default_port
    return str(port) if port is not None else None


def _nondefault_port(ctx: _Ctx) -> str:
    port = ctx.facts.port
    return "" if port is None or port == ctx.default_port else str(port)


def _database(ctx: _Ctx) -> str | None:
    return ctx.facts.database or ctx.ids.get("database") or ctx.service.default_database


def _endpoint(ctx: _Ctx) -> str | None:
    service = ctx.props.target_service
    own = getattr(service, "endpoint", None) if service is not None else None
    return ctx.facts.endpoint or (own if isinstance(own, str) else None)


def _tls(on: str, off: str) -> Callable[[_Ctx], str]:
    return lambda ctx: on if ctx.facts.ssl else off


def _account_arm_id(ctx: _Ctx) -> str | None:
    if ctx.facts.account_id:
        return ctx.facts.account_id
    target_id = ctx.props.target_id
    parsed = ResourceId.try_parse(target_id) if target_id else None
    return str(parsed.top_level()) if parsed else None


def _cosmos_url(action: str) -> Callable[[_Ctx], str | None]:
    def resolve(ctx: _Ctx) -> str | None:
        account = _account_arm_id(ctx)
        if account is None:
            return None
        base = ctx.facts.management_endpoint.rstrip("/")
        return f"{base}{account}/{action}?api-version={COSMOS_KEYS_API_VERSION}"

    return resolve


def _storage_connection_string(ctx: _Ctx) -> str | None:
    """Azure: EndpointSuffix form; anything else (Azurite): explicit endpoints, like Azurite's own string."""
    name = ctx.facts.account_name or ctx.ids.get("account")
    key = ctx.secret(ctx.facts.account_key)
    if not name or key is None:
        return None
    head = f"AccountName={name};AccountKey={key}"
    if ctx.facts.endpoint_suffix:
        return f"DefaultEndpointsProtocol=https;{head};EndpointSuffix={ctx.facts.endpoint_suffix}"
    endpoints = [
        (label, value)
        for label, value in (
            ("BlobEndpoint", ctx.facts.blob_endpoint),
            ("QueueEndpoint", ctx.facts.queue_endpoint),
            ("TableEndpoint", ctx.facts.table_endpoint),
            ("FileEndpoint", ctx.facts.file_endpoint),
        )
        if value
    ]
    if not endpoints:
        return None
    scheme = urlsplit(endpoints[0][1]).scheme or "https"
    return f"DefaultEndpointsProtocol={scheme};{head};" + "".join(f"{k}={v};" for k, v in endpoints)


def _libpq_quote(value: str) -> str:
    """libpq keyword/value syntax: single-quote (escaping `\\` and `'`) when the value is empty or has blanks/quotes."""
    if value and not any(ch.isspace() or ch in "'\\" for ch in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ado_quote(value: str) -> str:
    """ADO.NET (DbConnectionStringBuilder): double-quote (doubling `"`) a value with `;`, quotes or outer blanks."""
    if not any(ch in ";'\"" for ch in value) and value == value.strip():
        return value
    return '"' + value.replace('"', '""') + '"'


def _mssql_jdbc_quote(value: str) -> str:
    """mssql-jdbc: brace-quote (doubling `}`) when the value has `;`, braces or outer blanks."""
    if not any(ch in ";{}" for ch in value) and value == value.strip():
        return value
    return "{" + value.replace("}", "}}") + "}"


#: Characters kept literally in the userinfo of a URL (RFC 3986 unreserved + sub-delims); `/`, `@`, `:`, `%`, `?`,
#: `#` are percent-encoded, so base64 keys with `/` survive while typical keys stay byte-identical.
_USERINFO_SAFE = "!$&'()*+,;="


def _quoted(resolver: Callable[[_Ctx], str | None], quote_fn: Callable[[str], str]) -> Callable[[_Ctx], str | None]:
    def resolve(ctx: _Ctx) -> str | None:
        value = resolver(ctx)
        return quote_fn(value) if value is not None else None

    return resolve


#: Template field -> resolver. A resolver returns None when the value is unknown ("" is a real, empty value).
_FIELDS: dict[str, Callable[[_Ctx], str | None]] = {
    "host": lambda c: c.facts.host,
    "port": _port,
    "nondefault_port": _nondefault_port,
    "database": _database,
    "user": _auth_user,
    "password": _auth_password,
    "password_url": _quoted(_auth_password, lambda v: quote(v, safe="")),
    "user_url": _quoted(_auth_user, lambda v: quote(v, safe="")),
    "user_pq": _quoted(_auth_user, _libpq_quote),
    "password_pq": _quoted(_auth_password, _libpq_quote),
    "user_ado": _quoted(_auth_user, _ado_quote),
    "password_ado": _quoted(_auth_password, _ado_quote),
    "user_mssql": _quoted(_auth_user, _mssql_jdbc_quote),
    "password_mssql": _quoted(_auth_password, _mssql_jdbc_quote),
    "ssl": _tls("true", "false"),
    "ssl_cap": _tls("True", "False"),
    "pg_sslmode": _tls("require", "disable"),
    "pg_ssl_mode_dotnet": _tls("Require", "Disable"),
    "mysql_sslmode": _tls("required", "disabled"),
    "mysql_ssl_mode_dotnet": _tls("Required", "None"),
    "mysql_php_flag": _tls("MySQL_CLIENT_SSL", ""),
    "redis_scheme": _tls("rediss", "redis"),
    "account_name": lambda c: c.facts.account_name or c.ids.get("account"),
    "account_key": lambda c: c.secret(c.facts.account_key),
    "account_key_url": _quoted(lambda c: c.secret(c.facts.account_key), lambda v: quote(v, safe=_USERINFO_SAFE)),
    "endpoint": _endpoint,
    "blob_endpoint": lambda c: c.facts.blob_endpoint,
    "queue_endpoint": lambda c: c.facts.queue_endpoint,
    "table_endpoint": lambda c: c.facts.table_endpoint,
    "file_endpoint": lambda c: c.facts.file_endpoint,
    "file_endpoint_or_empty": lambda c: c.facts.file_endpoint or "",
    "storage_connection_string": _storage_connection_string,
    "connection_string": lambda c: c.secret(c.facts.connection_string),
    "vault_uri": lambda c: c.facts.vault_uri or c.facts.endpoint,
    "vault_name": lambda c: c.ids.get("vault") or c.facts.account_name,
    "namespace_fqdn": lambda c: c.facts.namespace_fqdn or c.facts.host,
    "namespace_name": lambda c: c.ids.get("namespace") or c.facts.account_name,
    "management_scope": lambda c: c.facts.management_scope,
    "token_scope": lambda c: c.facts.token_scope or c.service.token_scope,
    "list_keys_url": _cosmos_url("listKeys"),
    "list_connection_strings_url": _cosmos_url("listConnectionStrings"),
    "keyspace": lambda c: c.ids.get("key_space") or c.facts.database,
    "graph": lambda c: c.ids.get("graph"),
    "location": lambda c: c.facts.location,
    "client_id": _client_id,
    "client_secret": _client_secret,
    "tenant_id": lambda c: c.facts.tenant_id,
    "openai_endpoint": lambda c: c.facts.openai_endpoint,
    "speech_endpoint": lambda c: c.facts.speech_endpoint,
}

#: Fields the linker's authInfo supplies: a missing one is the caller's error, not the cloud's.
_AUTH_FIELDS: dict[str, str] = {
    **dict.fromkeys(("user", "user_url", "user_pq", "user_ado", "user_mssql"), "properties.authInfo.name"),
    **dict.fromkeys(("password", "password_url", "password_pq", "password_ado", "password_mssql"),
                    "properties.authInfo.secretInfo.value"),
    "client_id": "properties.authInfo.clientId",
    "client_secret": "properties.authInfo.secret",
}  # fmt: skip

_FIELD = re.compile(r"\{([a-z_]+)\}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


class _Missing(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _substitute(text: str, ctx: _Ctx, *, strict: bool) -> str:
    def value(m: re.Match[str]) -> str:
        resolved = _FIELDS[m.group(1)](ctx)
        if resolved is None:
            raise _Missing(m.group(1))
        if not strict and resolved == "":
            raise _Missing(m.group(1))
        return resolved

    return _FIELD.sub(value, text)


def _optional_segment(m: re.Match[str], ctx: _Ctx) -> str:
    try:
        return _substitute(m.group(1), ctx, strict=False)
    except _Missing:
        return ""


def render(template: str, ctx: _Ctx) -> str:
    """Fill a template; bracketed segments vanish when a field inside is empty; `_Missing` for unknown fields."""
    return _substitute(_OPTIONAL.sub(lambda m: _optional_segment(m, ctx), template), ctx, strict=True)


# ============================================================================================ results


_CREDENTIAL_WORDS = re.compile(
    r"(password|secret|token|connection[_\-.]?string|(^|[_\-.])(access)?[_\-.]?key($|[_\-.]))", re.IGNORECASE
)


def looks_like_credential(name: str) -> bool:
    """Heuristic credential test for names the table does not know (`additionalConfigurations`)."""
    return bool(_CREDENTIAL_WORDS.search(name))


def _apply_connstr_props(value: str, style: str | None, props: Mapping[str, str]) -> str:
    if not style or not props:
        return value
    pairs = [f"{k}={v}" for k, v in props.items()]
    if style == SEMICOLON:
        return (value if value.endswith(";") or not value else value + ";") + "".join(p + ";" for p in pairs)
    if style == SPACE:
        return " ".join([value, *pairs])
    if style == COMMA:
        return ",".join([value, *pairs])
    return value + ("&" if "?" in value else "?") + "&".join(pairs)


def _family_selector_value(target: Target, props: LinkerProperties, facts: TargetFacts) -> str | None:
    selectors: dict[str, Callable[[], str | None]] = {
        "fixed": lambda: None,
        "account_kind": lambda: facts.account_kind,
        "target_service_type": lambda: props.target_service.type if props.target_service else None,
    }
    return selectors[target.family_selector]()


def service_of(target: Target, props: LinkerProperties, facts: TargetFacts) -> Service:
    """The service of a linker's target (cognitive: by account kind; confluent: by target service type)."""
    return target.service_for(_family_selector_value(target, props, facts))


def _props_of(linker: LinkerResource | LinkerProperties) -> LinkerProperties:
    return linker.properties if isinstance(linker, LinkerResource) else linker


def _consume_location_props(
    target: Target, props: LinkerProperties, facts: TargetFacts
) -> tuple[TargetFacts, dict[str, str]]:
    """Neon: `Server`/`Database` connection-string properties locate the target; take them as facts."""
    info = props.configuration_info
    extra = dict((info.additional_connection_string_properties or {}) if info else {})
    updates: dict[str, Any] = {}
    for prop, fact in target.connstr_prop_params:
        value = extra.pop(prop, None)
        if value and getattr(facts, fact) is None:
            updates[fact] = value
    return (facts.model_copy(update=updates) if updates else facts), extra


def _missing_error(spec: NameSpec, field: str, target: Target) -> ArmError:
    if field in _AUTH_FIELDS:
        where = _AUTH_FIELDS[field]
        return ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"The configuration {spec.name} needs {where}, which the connection does not provide.",
            target=where,
            remedy="Provide it with the auth argument "
            f"(see `servicelinker aks connection create {target.name} --help`).",
        )
    return ArmError(
        ErrorCode.INTERNAL_SERVER_ERROR,
        f"The configuration {spec.name} of target {target.name} needs '{field}', which was not read from the target.",
        target="properties.targetService",
        remedy="Check that the target exists and that its keys and endpoints can be read, then retry.",
    )


def build_configurations(
    linker: LinkerResource | LinkerProperties,
    facts: TargetFacts,
    *,
    target: Target | None = None,
) -> list[Configuration]:
    """The ordered configurations (Secret keys and values) of a linker, from the catalog and the target's facts.

    Applies `customizedKeys`, `additionalConnectionStringProperties` and `additionalConfigurations`; returns []
    when configuration is opted out (`configurationInfo.action = optOut`) or the linker has no authInfo.
    Raises `ArmError` for a combination the catalog does not allow (`check_combination`) or a value that cannot be
    composed (naming the field).
    """
    props = _props_of(linker)
    target = target or target_of(props)
    info = props.configuration_info
    found = _specs(target, props, facts)
    if found is None:
        return []
    service, specs = found
    facts, connstr_props = _consume_location_props(target, props, facts)
    ctx = _Ctx(service=service, facts=facts, props=props, ids=target.id_values(props.target_id))
    renames = {k.lower(): v for k, v in ((info.customized_keys or {}) if info else {}).items()}
    result: list[Configuration] = []
    for spec in specs:
        try:
            value = render(spec.template, ctx)
        except _Missing as missing:
            raise _missing_error(spec, missing.field, target) from None
        if not spec.required and value == "":
            continue
        value = _apply_connstr_props(value, spec.connstr, connstr_props)
        name = renames.get(spec.name.lower(), spec.name)
        result.append(Configuration(name=name, value=value, credential=spec.credential, description=spec.description))
    return _add_additional(result, (info.additional_configurations or {}) if info else {})


def _specs(target: Target, props: LinkerProperties, facts: TargetFacts) -> tuple[Service, tuple[NameSpec, ...]] | None:
    """The service and its names for this linker; None when it delivers nothing (opted out, or no authInfo)."""
    info = props.configuration_info
    if info is not None and info.action == ActionType.OPT_OUT:
        return None
    auth_key = auth.config_key_for(props)
    if auth_key is None:
        return None
    check_combination(target, props)
    client_type = props.client_type or "none"
    service = service_of(target, props, facts)
    specs = service.names.get(auth_key, client_type)
    if not specs:
        raise ArmError(
            ErrorCode.UNSUPPORTED_COMBINATION,
            f"No configuration names for target {target.name}, auth type "
            f"{auth.CONFIG_KEY_REST_AUTH.get(auth_key, auth_key)} and client type {shown(client_type)}.",
            target="properties.clientType",
            remedy=f"Use a supported combination (`servicelinker aks connection list-configuration-names "
            f"--target-type {target.name}`).",
        )
    return service, specs


def planned_names(linker: LinkerResource | LinkerProperties, facts: TargetFacts, *, target: Target) -> list[str]:
    """The names the linker will deliver (before values are known: every optional name counted), renames and
    additional configurations applied; duplicates kept, so a caller can refuse them."""
    props = _props_of(linker)
    found = _specs(target, props, facts)
    if found is None:
        return []
    info = props.configuration_info
    renames = {k.lower(): v for k, v in ((info.customized_keys or {}) if info else {}).items()}
    names = [renames.get(spec.name.lower(), spec.name) for spec in found[1]]
    extra = [n for n in ((info.additional_configurations or {}) if info else {}) if n not in names]
    return names + extra


def _add_additional(configs: list[Configuration], extra: Mapping[str, str]) -> list[Configuration]:
    out = list(configs)
    index = {c.name: i for i, c in enumerate(out)}
    for name, value in extra.items():
        credential = looks_like_credential(name)
        if name in index:
            old = out[index[name]]
            out[index[name]] = old.model_copy(update={"value": value, "credential": old.credential or credential})
        else:
            index[name] = len(out)
            out.append(
                Configuration(name=name, value=value, credential=credential, description="Additional configuration")
            )
    return out


def to_configuration_result(configs: Sequence[Configuration]) -> ConfigurationResult:
    """The REST `ConfigurationResult` of these configurations."""
    return ConfigurationResult(configurations=[c.to_source_configuration() for c in configs])


# ============================================================================================ configurationNames


def configuration_name_items(
    target: Target,
    *,
    config_keys: Iterable[str] | None = None,
    client_types: Iterable[str] | None = None,
) -> list[ConfigurationNameItem]:
    """ConfigurationNames items of one target: one per (auth, client type), in catalog order.

    Targets with several families (Cognitive Services kinds, Confluent's two linkers) list the union of names,
    each family-specific name marked `required: false` and described with its family.
    """
    keys = [k for k in target.config_keys if config_keys is None or k in set(config_keys)]
    clients = [c for c in target.client_types if client_types is None or c in set(client_types)]
    items: list[ConfigurationNameItem] = []
    for key in keys:
        for client in clients:
            names = _names_of(target, key, client)
            if not names:
                continue
            items.append(ConfigurationNameItem(properties=ConfigurationNames(
                target_service=target.provider_type,
                client_type=client,
                auth_type=auth.CONFIG_KEY_REST_AUTH[key],
                names=names,
            )))  # fmt: skip
    return items


def _names_of(target: Target, key: str, client: str) -> list[ConfigurationName]:
    multi = len(target.services) > 1
    suffix = " (Key Vault secrets store CSI driver)" if key == CSI else ""
    out: list[ConfigurationName] = []
    for service in target.services:
        note = f" (for {service.note or service.key})" if multi else ""
        for spec in service.names.get(key, client):
            out.append(ConfigurationName(
                value=spec.name,
                description=spec.description + note + suffix,
                required=spec.required and not multi,
                credential=spec.credential,
            ))  # fmt: skip
    return out


def configuration_names(
    targets: Iterable[Target],
    *,
    config_keys: Iterable[str] | None = None,
    client_types: Iterable[str] | None = None,
) -> ConfigurationNameResult:
    """The REST `ConfigurationNameResult` for these targets and filters."""
    keys = list(config_keys) if config_keys is not None else None
    clients = list(client_types) if client_types is not None else None
    value: list[ConfigurationNameItem] = []
    for target in targets:
        value.extend(configuration_name_items(target, config_keys=keys, client_types=clients))
    return ConfigurationNameResult(value=value)
