"""ARM resource ids: parse, format, compare case-insensitively, match `{placeholder}` patterns.

ARM treats ids case-insensitively (`resourceGroups` == `resourcegroups`, names too), so `ResourceId` compares and
hashes on the lowercased text while keeping the caller's spelling for display.

Patterns are the CLI's (`_resource_config.py`): literal segments plus `{name}` placeholders, one path segment each.
The CLI matches them as a case-insensitive *prefix* (`re.match`), and on success replaces the input with the
matched prefix, so trailing segments are silently dropped; `IdPattern.match_prefix` and the validators below keep
that behaviour. Unlike the CLI (`[^/]*`), a placeholder here must be non-empty.

Error texts are the CLI's (reference §2.2, §2.3):
  `Resource id is invalid: {id}`,
  `Unsupported source resource id: {id}. Source id pattern should be: {pattern}`,
  `Target resource id is invalid: {id}. Target id pattern should be: {pattern}`,
  `Connection id is invalid: {id}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from servicelinker.model.errors import ArmError, ErrorCode, shown

#: Ids are quoted in errors up to this length (longer ones are not ids a user meant).
ID_QUOTE_LIMIT = 512

#: The AKS source id pattern (reference §2.2).
AKS_SOURCE_PATTERN = (
    "/subscriptions/{subscription}/resourceGroups/{source_resource_group}"
    "/providers/Microsoft.ContainerService/managedClusters/{cluster}"
)
LINKER_PROVIDER = "Microsoft.ServiceLinker"
LINKERS = "linkers"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, eq=False)
class ResourceId:
    """A parsed ARM resource id.

    Grammar: `/subscriptions/{sub}[/resourceGroups/{rg}][/providers/{ns}/{type}/{name}[/{type}/{name}]*]*`,
    where a nested `/providers/{ns}/{type}/{name}` starts an extension resource (e.g. a linker under a cluster).
    """

    text: str
    segments: tuple[str, ...] = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> ResourceId:
        """Parse `text`, raising `ArmError(InvalidResourceId)` with Azure's message if it is not an ARM id."""
        parsed = cls.try_parse(text)
        if parsed is None:
            raise invalid_resource_id(text)
        return parsed

    @classmethod
    def try_parse(cls, text: str) -> ResourceId | None:
        """Parse `text`, or None when it is not a well-formed ARM id."""
        if not isinstance(text, str) or not text.startswith("/"):
            return None
        segments = tuple(text[1:].split("/"))
        if not _well_formed(segments):
            return None
        return cls(text=text, segments=segments)

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResourceId):
            return self.key == other.key
        if isinstance(other, str):
            return self.key == other.lower()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.key)

    @cached_property
    def key(self) -> str:
        """The case-folded form used for comparison and as a storage key."""
        return self.text.lower()

    @property
    def subscription(self) -> str:
        return self.segments[1]

    @property
    def resource_group(self) -> str | None:
        if len(self.segments) >= 4 and self.segments[2].lower() == "resourcegroups":
            return self.segments[3]
        return None

    @cached_property
    def _provider_tail(self) -> tuple[str, ...]:
        """Segments after the last `providers` keyword: (namespace, type, name, child type, child name, ...).

        Keywords sit at even offsets (odd offsets are values), which keeps a resource *named* `providers` from
        being taken for the keyword.
        """
        keyword = [i for i in range(0, len(self.segments), 2) if self.segments[i].lower() == "providers"]
        return self.segments[keyword[-1] + 1 :] if keyword else ()

    @property
    def namespace(self) -> str | None:
        """Provider namespace of the innermost resource, e.g. `Microsoft.Storage`."""
        tail = self._provider_tail
        return tail[0] if tail else None

    @property
    def resource_type(self) -> str | None:
        """Full type of the innermost resource, e.g. `Microsoft.Storage/storageAccounts/blobServices`."""
        tail = self._provider_tail
        if not tail:
            return None
        return "/".join([tail[0], *tail[1::2]])

    @property
    def levels(self) -> list[tuple[str, str]]:
        """(type, name) of each level under the innermost provider: `[("flexibleServers", "s"), ("databases", "d")]`."""
        tail = self._provider_tail
        return list(zip(tail[1::2], tail[2::2], strict=False))

    @property
    def name(self) -> str:
        """Name of the innermost resource (last segment)."""
        return self.segments[-1]

    @property
    def parent(self) -> ResourceId | None:
        """The enclosing resource: a child's parent, an extension resource's scope; None for a subscription."""
        cut = self.segments[:-2]
        if len(cut) >= 2 and cut[-2].lower() == "providers":
            cut = cut[:-2]
        return ResourceId.try_parse("/" + "/".join(cut)) if cut else None

    def top_level(self) -> ResourceId:
        """The top-level resource of the innermost provider, e.g. the storage account of a blob service id."""
        tail = self._provider_tail
        if len(tail) <= 3:
            return self
        extra = len(tail) - 3
        kept = self.segments[: len(self.segments) - extra]
        return ResourceId(text="/" + "/".join(kept), segments=kept)

    def child(self, *type_name_pairs: str) -> ResourceId:
        """Append `type/name` pairs (e.g. `child("providers", "Microsoft.ServiceLinker", "linkers", "x")`)."""
        return ResourceId.parse(self.text.rstrip("/") + "/" + "/".join(type_name_pairs))


def _well_formed(segments: tuple[str, ...]) -> bool:
    """Check the ARM grammar: keyword/value pairs, `providers` followed by namespace/type/name."""
    if len(segments) < 2 or any(not s for s in segments):
        return False
    if segments[0].lower() != "subscriptions":
        return False
    i = 2
    if len(segments) > i and segments[i].lower() == "resourcegroups":
        if len(segments) < i + 2:
            return False
        i += 2
    if i == len(segments):
        return True
    return _well_formed_providers(segments[i:])


def _well_formed_providers(rest: tuple[str, ...]) -> bool:
    """`providers/{ns}/{type}/{name}` followed by `{type}/{name}` pairs or another `providers` block."""
    i = 0
    while i < len(rest):
        if rest[i].lower() != "providers" or len(rest) < i + 4:
            return False
        i += 4
        while i < len(rest) and rest[i].lower() != "providers":
            if len(rest) < i + 2:
                return False
            i += 2
    return True


def is_valid_resource_id(text: str) -> bool:
    """True when `text` is a well-formed ARM resource id."""
    return ResourceId.try_parse(text) is not None


def same_id(a: str | ResourceId, b: str | ResourceId) -> bool:
    """Case-insensitive id equality (ARM semantics)."""
    return str(a).lower() == str(b).lower()


@dataclass(frozen=True)
class IdPattern:
    """A resource id pattern with `{placeholder}` segments, e.g. the target patterns of the AKS catalog."""

    pattern: str

    @cached_property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.pattern))

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        parts: list[str] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(self.pattern):
            parts.append(re.escape(self.pattern[pos : m.start()]))
            parts.append(f"(?P<{m.group(1)}>[^/]+)")
            pos = m.end()
        parts.append(re.escape(self.pattern[pos:]))
        return re.compile("".join(parts), re.IGNORECASE)

    @property
    def regex(self) -> str:
        """The regular expression text (placeholders as named groups)."""
        return self._regex.pattern

    def match_prefix(self, text: str) -> tuple[str, dict[str, str]] | None:
        """CLI semantics: case-insensitive prefix match -> (matched prefix, placeholder values), else None.

        The prefix must end at a segment boundary, so `.../vaults/kv` does not match `.../vaults/kv2` as `kv`
        (it matches the whole `kv2`, placeholders being greedy).
        """
        m = self._regex.match(text)
        if m is None:
            return None
        end = m.end()
        if end < len(text) and text[end] != "/":
            return None
        return text[:end], {k: v for k, v in m.groupdict().items() if v is not None}

    def fullmatch(self, text: str) -> dict[str, str] | None:
        """Placeholder values when `text` matches the whole pattern (case-insensitively), else None."""
        m = self._regex.fullmatch(text)
        return {k: v for k, v in m.groupdict().items() if v is not None} if m else None

    def format(self, **values: str) -> str:
        """Fill the placeholders; a missing one raises `KeyError` naming it."""
        missing = [p for p in self.placeholders if not values.get(p)]
        if missing:
            raise KeyError(f"missing value for placeholder(s): {', '.join(missing)}")
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.pattern)

    @cached_property
    def provider_type(self) -> str:
        """The CLI's `targetService` string for configurationNames: literal segments after `providers`.

        (`_connection_preview_configuration`: non-placeholder segments, minus subscriptions/resourceGroups/providers.)
        """
        literal = [s for s in self.pattern.split("/") if s and not s.startswith("{")]
        return "/".join(literal[3:])


AKS_SOURCE = IdPattern(AKS_SOURCE_PATTERN)


def invalid_resource_id(text: str, target: str | None = None) -> ArmError:
    return ArmError(
        ErrorCode.INVALID_RESOURCE_ID,
        f"Resource id is invalid: {shown(text, ID_QUOTE_LIMIT)}",
        target=target,
        remedy="Pass a full ARM resource id such as /subscriptions/<subscription-id>/resourceGroups/<group>"
        "/providers/<Namespace>/<type>/<name>.",
    )


def validate_source_id(text: str, *, target: str = "--source-id") -> str:
    """Validate an AKS source id; return the matched prefix (the CLI drops trailing segments).

    Raises `ArmError` with `Resource id is invalid: {id}` or
    `Unsupported source resource id: {id}. Source id pattern should be: {pattern}`.
    """
    if not is_valid_resource_id(text):
        raise invalid_resource_id(text, target)
    matched = AKS_SOURCE.match_prefix(text)
    if matched is None:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Unsupported source resource id: {shown(text, ID_QUOTE_LIMIT)}. Source id pattern should be: "
            f"{AKS_SOURCE_PATTERN}",
            target=target,
            remedy="Pass the id of an AKS cluster (Microsoft.ContainerService/managedClusters), "
            "or use --resource-group and --name.",
        )
    check_source_parts(matched[1], target)
    return matched[0]


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: ARM's resource-group rule: 1-90 letters, digits, `_ - . ( )`, not ending with a period.
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
#: AKS's cluster-name rule: 1-63 letters, digits, `-` and `_`, starting and ending alphanumeric.
_CLUSTER = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_]{0,61}[A-Za-z0-9])?$")


def invalid_subscription_id(subscription: str) -> ArmError:
    return ArmError(
        "InvalidSubscriptionId",
        f"The provided subscription identifier '{shown(subscription)}' is malformed or invalid.",
        target="subscriptionId",
        remedy="Use the subscription's GUID (`az account show --query id -o tsv`).",
        status=400,
    )


def check_subscription(subscription: str) -> str:
    """`InvalidSubscriptionId` unless `subscription` is a GUID."""
    if not _GUID.match(subscription):
        raise invalid_subscription_id(subscription)
    return subscription


def check_source_parts(values: dict[str, str], target: str) -> None:
    """The segments of an AKS cluster id, by Azure's rules (so no id longer than the store holds gets in)."""
    check_subscription(values.get("subscription", ""))
    group = values.get("source_resource_group", "")
    if not _RESOURCE_GROUP.match(group):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Resource group '{shown(group)}' is invalid: a resource group name has 1 to 90 letters, digits, "
            "underscores, hyphens, periods or parentheses and does not end with a period.",
            target=target,
            remedy="Check the resource group of the cluster.",
        )
    cluster = values.get("cluster", "")
    if not _CLUSTER.match(cluster):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Cluster name '{shown(cluster)}' is invalid: an AKS cluster name has 1 to 63 letters, digits, hyphens "
            "or underscores and starts and ends with a letter or digit.",
            target=target,
            remedy="Check the name of the cluster.",
        )


def validate_target_id(text: str, pattern: str, *, target: str = "--target-id") -> str:
    """Validate a target id against one target's pattern; return the matched prefix.

    Raises `ArmError` with `Resource id is invalid: {id}` or
    `Target resource id is invalid: {id}. Target id pattern should be: {pattern}`.
    """
    if not is_valid_resource_id(text):
        raise invalid_resource_id(text, target)
    subscription = ResourceId.parse(text).subscription
    if not _GUID.match(subscription):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Target resource id is invalid: its subscription '{shown(subscription)}' is not a GUID.",
            target=target,
            remedy="Use the id exactly as the target's Properties page (or `az resource show`) gives it.",
        )
    matched = IdPattern(pattern).match_prefix(text)
    if matched is None:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Target resource id is invalid: {shown(text, ID_QUOTE_LIMIT)}. Target id pattern should be: {pattern}",
            target=target,
            remedy="Pass the id of the target in the form shown by the pattern "
            "(for storage, include the service segment such as /blobServices/default).",
        )
    return matched[0]


@dataclass(frozen=True)
class ConnectionId:
    """A linker id split into its source id and connection (linker) name."""

    source_id: str
    name: str

    def __str__(self) -> str:
        return format_connection_id(self.source_id, self.name)


CONNECTION_PATTERN = re.compile(
    "(?P<source>" + AKS_SOURCE.regex + ")"
    + re.escape(f"/providers/{LINKER_PROVIDER}/{LINKERS}/")
    + "(?P<linker>[^/]+)",
    re.IGNORECASE,
)


def format_connection_id(source_id: str, name: str) -> str:
    """`<source id>/providers/Microsoft.ServiceLinker/linkers/<name>`."""
    return f"{source_id.rstrip('/')}/providers/{LINKER_PROVIDER}/{LINKERS}/{name}"


def parse_connection_id(text: str, *, target: str = "--id") -> ConnectionId:
    """Split an AKS connection id; raises `ArmError` with `Connection id is invalid: {id}`."""
    m = CONNECTION_PATTERN.fullmatch(text)
    if m is None:
        raise ArmError(
            ErrorCode.INVALID_RESOURCE_ID,
            f"Connection id is invalid: {shown(text, ID_QUOTE_LIMIT)}",
            target=target,
            remedy="Pass an id of the form <cluster id>/providers/Microsoft.ServiceLinker/linkers/<connection>, "
            "or use --resource-group, --name and --connection.",
        )
    return ConnectionId(source_id=m.group("source"), name=m.group("linker"))
