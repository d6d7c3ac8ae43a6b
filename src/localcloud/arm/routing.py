"""ARM's URL space as a table: one `Route` per operation, matched case-insensitively (ARM ids are).

A route's template is written as Microsoft's REST specification writes it (`{scope}` may span several segments,
as `x-ms-skip-url-encoding` scopes do). The action a route needs (`Microsoft.Cache/redis/listKeys/action`) is
derived from the template, as ARM derives it from the resource type, unless the route names one; `None` means the
operation needs no role (listing one's own subscriptions or permissions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.arm.world import World

VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete", "POST": "action"}
DERIVE = "derive"


@dataclass
class Call:
    """One request as a handler sees it."""

    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    headers: Mapping[str, str]
    principal: str
    world: World
    api_version: str = ""

    @property
    def resource_path(self) -> str:
        """The path without a trailing action or collection segment: the scope ARM authorizes."""
        return self.path.rstrip("/")


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply | dict[str, Any] | None]


def _regex(template: str) -> re.Pattern[str]:
    out = []
    for part in re.split(r"(\{[^}]+\})", template):
        if part.startswith("{"):
            name = part[1:-1]
            # a scope spans segments; every other parameter is one segment
            out.append(f"(?P<{name}>.+?)" if name in ("scope", "resourceId", "roleId", "roleAssignmentId")
                       else f"(?P<{name}>[^/]+)")  # fmt: skip
        else:
            out.append(re.escape(part))
    return re.compile("^" + "".join(out) + "/?$", re.IGNORECASE)


def derived_action(template: str, method: str) -> str:
    """`Microsoft.X/a/b/read` from `/.../providers/Microsoft.X/a/{n}/b/{m}` (the last `providers/` wins), and for
    a POST `.../{n}/listKeys` the type plus `listKeys/action`."""
    segments = [s for s in template.split("/") if s]
    lowered = [s.lower() for s in segments]
    start = len(lowered) - 1 - lowered[::-1].index("providers")
    namespace, rest = segments[start + 1], segments[start + 2 :]
    types = [s for s in rest if not s.startswith("{")]
    verb = VERBS[method]
    if method == "POST":
        return "/".join([namespace, *types[:-1], types[-1], "action"])
    if rest and not rest[-1].startswith("{") and method != "GET":
        types = types[:-1]
    return "/".join([namespace, *types, verb])


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    #: The action to authorize: DERIVE (from the template), a fixed one, a function of the call, or None.
    action: str | Callable[[Call], str] | None = DERIVE
    #: Authorize at this parameter's value (a `{scope}` route) instead of the request path.
    scope_param: str | None = None
    #: Served to tokens for this audience family ("arm" or "graph").
    audience: str = "arm"
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _regex(self.template))

    def required_action(self, call: Call) -> str | None:
        if callable(self.action):
            return self.action(call)
        return derived_action(self.template, self.method) if self.action == DERIVE else self.action

    def match(self, method: str, path: str) -> dict[str, str] | None:
        wanted = "GET" if method == "HEAD" and self.method == "GET" else method
        if wanted != self.method:
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None


def resolve(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The most specific route for the request (most literal characters), as ARM prefers a nested type."""
    best: tuple[int, Route, dict[str, str]] | None = None
    for route in routes:
        params = route.match(method, path)
        if params is None:
            continue
        literal = len(re.sub(r"\{[^}]+\}", "", route.template))
        if best is None or literal > best[0]:
            best = (literal, route, params)
    return (best[1], best[2]) if best else None


def path_exists_for_other_method(routes: Iterable[Route], path: str) -> bool:
    return any(route.pattern.match(path) for route in routes)
