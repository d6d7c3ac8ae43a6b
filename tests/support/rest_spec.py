"""Microsoft's published ARM REST specifications (Swagger 2.0), vendored under tests/data/rest-spec, as a validator.

Contract tests check what a local endpoint answers against the same documents Microsoft's SDKs are generated from.
This module loads every vendored swagger file once, finds the operation a concrete request maps to, and validates
a response body against the schema declared for its status.

Swagger 2.0 is not JSON Schema, so the documents are adapted — in a copy, the files stay byte-for-byte — the way
AutoRest-generated clients read them (the clients are what the endpoint must satisfy):

* `x-ms-enum.modelAsString: true` enums are *open* (extensible strings): the `enum` is dropped.
* `x-ms-secret` properties are never returned by ARM, so in a response they cannot be required.
* `discriminator` polymorphism: a reference to a base validates the instance as the variant its discriminator
  value names (`x-ms-discriminator-value`, else the variant's definition name), across files.
* `x-nullable: true` admits `null`.
* `$ref` siblings are ignored (JSON Schema Draft 7 semantics, and how Swagger 2.0 defines `$ref` too).

Files are registered by their file URI. A relative `$ref` written for the repository's layout
(`../../../../../../common-types/...` from `specification/<service>/resource-manager/...`) does not land on a
vendored file locally, because the local tree drops `specification/<service>/resource-manager/`
(tests/data/rest-spec/README.md); such a target is aliased to the vendored file whose path is the longest suffix
of it, so every cross-file reference resolves without rewriting a document.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urldefrag, urljoin, urlparse

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT7

#: The vendored specification (tests/data/rest-spec/README.md, LICENSE).
REST_SPEC = Path(__file__).resolve().parents[1] / "data" / "rest-spec"
METHODS = ("get", "put", "patch", "post", "delete", "head", "options")
_PARAM = re.compile(r"\{([^}]+)\}")


def _pointer(*segments: str) -> str:
    """A URI fragment (JSON pointer) for `segments`, escaped as RFC 6901 and percent-encoded."""
    return "/" + "/".join(quote(s.replace("~", "~0").replace("/", "~1"), safe="") for s in segments)


def _is_swagger(doc: Any) -> bool:
    return isinstance(doc, dict) and ("swagger" in doc or "definitions" in doc or "parameters" in doc)


# ------------------------------------------------------------------------------------------ the adaptations


def _bottom_up(node: Any, change: Any) -> Any:
    """`change` applied to every object of a JSON document, children first (the documents stay untouched)."""
    if isinstance(node, dict):
        return change({k: _bottom_up(v, change) for k, v in node.items()})
    if isinstance(node, list):
        return [_bottom_up(v, change) for v in node]
    return node


def _open_enum(out: dict[str, Any]) -> dict[str, Any]:
    """Drop `enum` where `x-ms-enum.modelAsString` is true: such enums are extensible strings."""
    xms = out.get("x-ms-enum")
    if isinstance(xms, dict) and xms.get("modelAsString") and "enum" in out:
        del out["enum"]
    return out


def _write_only_secret(out: dict[str, Any]) -> dict[str, Any]:
    """ARM never returns an `x-ms-secret` property, so in a *response* it cannot be required."""
    props = out.get("properties")
    if isinstance(props, dict) and isinstance(out.get("required"), list):
        secret = {name for name, p in props.items() if isinstance(p, dict) and p.get("x-ms-secret")}
        out["required"] = [r for r in out["required"] if r not in secret]
    return out


def _nullable_one(out: dict[str, Any]) -> Any:
    """`x-nullable: true` admits null (AutoRest clients accept it)."""
    if out.get("x-nullable") is True:
        inner = {k: v for k, v in out.items() if k != "x-nullable"}
        return {"anyOf": [inner, {"type": "null"}]}
    return out


def _open_enums(node: Any) -> Any:
    return _bottom_up(node, _open_enum)


def _write_only_secrets(node: Any) -> Any:
    return _bottom_up(node, _write_only_secret)


def _nullable(node: Any) -> Any:
    return _bottom_up(node, _nullable_one)


def _older_layout(path: Path) -> Path:
    """`<Provider>/<Service>/stable/<version>/...` -> `<Provider>/stable/<version>/...` (same file otherwise)."""
    parts = path.parts
    for i in range(2, len(parts) - 1):
        if parts[i] in ("stable", "preview") and parts[i - 2].startswith("Microsoft."):
            return Path(*parts[: i - 1], *parts[i:])
    return path


# ------------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Example:
    """One `x-ms-examples` entry: its name, file, request `parameters` and `responses` ({status: {"body": ...}})."""

    name: str
    path: Path
    parameters: dict[str, Any]
    responses: dict[str, Any]


@dataclass
class SpecFile:
    path: Path
    uri: str
    raw: dict[str, Any]
    doc: dict[str, Any] = field(default_factory=dict)  # adapted copy, what the registry serves

    @property
    def api_version(self) -> str | None:
        info = self.raw.get("info")
        version = info.get("version") if isinstance(info, dict) else None
        return version if isinstance(version, str) else None

    def raw_operation(self, section: str, path_key: str, method: str) -> dict[str, Any]:
        """The operation object as published (x-ms-examples refs are relative to this file)."""
        item = self.raw.get(section, {}).get(path_key, {})
        found = item.get(method) if isinstance(item, dict) else None
        return found if isinstance(found, dict) else {}


@dataclass
class Operation:
    """One operation of a spec file: `method` (lower case) and `template` (the path key, query part dropped)."""

    specs: SpecSet
    file: SpecFile
    method: str
    template: str
    path_key: str  # the key in `paths` / `x-ms-paths`
    section: str  # "paths" or "x-ms-paths"
    spec: dict[str, Any]  # the operation object, adapted
    _regex: re.Pattern[str] = field(init=False, repr=False)
    literal_segments: int = field(init=False)

    def __post_init__(self) -> None:
        skip = self.specs.skip_encoded_parameters(self)
        regex, literals = "", 0
        for segment in self.template.strip("/").split("/"):
            whole = _PARAM.fullmatch(segment)
            if whole and whole.group(1) in skip:
                regex += "/.+"  # a whole scope / resource id: any number of segments
                continue
            if not _PARAM.search(segment):
                literals += 1
            pos, part = 0, ""
            for m in _PARAM.finditer(segment):
                part += re.escape(segment[pos : m.start()]) + "[^/]+"
                pos = m.end()
            regex += "/" + part + re.escape(segment[pos:])
        self._regex = re.compile((regex or "/") + "/?", re.IGNORECASE)
        self.literal_segments = literals

    @property
    def operation_id(self) -> str:
        return str(self.spec.get("operationId", ""))

    @property
    def api_version(self) -> str | None:
        return self.file.api_version

    def matches(self, url_path: str) -> bool:
        return self._regex.fullmatch(url_path) is not None

    @property
    def responses(self) -> dict[str, Any]:
        responses: dict[str, Any] = self.spec.get("responses", {})
        return responses

    def schema_for(self, status: int) -> tuple[str | None, dict[str, Any] | None]:
        """(the `responses` key that governs `status`, its schema): success statuses must be declared as such,
        error statuses (>= 400) fall back to `default`. (None, None) when the status is not declared."""
        key = str(status)
        if key not in self.responses:
            if status >= 400 and "default" in self.responses:
                key = "default"
            else:
                return None, None
        schema = self.responses[key].get("schema")
        return key, schema if isinstance(schema, dict) else None

    def errors(self, status: int, body: Any) -> list[str]:
        """Validation errors of a response (`body` already parsed from JSON; None or "" for no body)."""
        key, schema = self.schema_for(status)
        if key is None:
            return [f"{self.operation_id}: status {status} is not declared ({sorted(self.responses)})"]
        if schema is None:
            if body in (None, "", b""):
                return []
            return [f"{self.operation_id} {status}: the spec declares no body, got {type(body).__name__}"]
        ref = self.file.uri + "#" + _pointer(self.section, self.path_key, self.method, "responses", key, "schema")
        return [f"{self.operation_id} {status}: {e}" for e in self.specs.validate({"$ref": ref}, body)]

    def example_refs(self) -> dict[str, Path]:
        """Every `x-ms-examples` entry's file (vendored or not)."""
        out: dict[str, Path] = {}
        raw = self.file.raw_operation(self.section, self.path_key, self.method)
        for name, entry in (raw.get("x-ms-examples") or {}).items():
            ref = entry.get("$ref") if isinstance(entry, dict) else None
            if isinstance(ref, str):
                out[name] = (self.file.path.parent / ref).resolve()
        return out

    def examples(self) -> Iterator[Example]:
        """The operation's x-ms-examples whose files are vendored (see `example_refs` for all of them).

        An example missing beside its swagger (`<Provider>/<Service>/stable/<version>/examples/X.json`) is looked
        for in the repository's older folder layout, `<Provider>/stable/<version>/examples/X.json`, where some
        services' examples of the same api-version are kept (tests/data/rest-spec/README.md)."""
        for name, path in self.example_refs().items():
            path = path if path.is_file() else _older_layout(path)
            if path.is_file():
                data = json.loads(path.read_text(encoding="utf-8"))
                yield Example(name, path, data.get("parameters", {}), data.get("responses", {}))


class SpecSet:
    """Every vendored swagger file, with all cross-file `$ref`s resolvable, and their operations."""

    def __init__(self, files: list[SpecFile], registry: Registry[Any]) -> None:
        self.files = files
        self.registry = registry
        self._by_uri = {f.uri: f for f in files}
        self.operations: list[Operation] = []
        for f in files:
            for section in ("paths", "x-ms-paths"):
                for key, item in (f.doc.get(section) or {}).items():
                    if not isinstance(item, dict):
                        continue
                    for method in METHODS:
                        if isinstance(item.get(method), dict):
                            self.operations.append(
                                Operation(self, f, method, key.split("?", 1)[0], key, section, item[method])
                            )

    # ---------------------------------------------------------------------------------------- loading

    @classmethod
    def load(cls, root: Path = REST_SPEC) -> SpecSet:
        files: list[SpecFile] = []
        for path in sorted(root.rglob("*.json")):
            if "examples" in path.relative_to(root).parts:
                continue
            raw = json.loads(path.read_text(encoding="utf-8"))
            if _is_swagger(raw):
                files.append(SpecFile(path, path.resolve().as_uri(), raw))
        local = {f.uri: f for f in files}
        rel = {PurePosixPath(f.path.relative_to(root).as_posix()): f for f in files}
        aliases = cls._aliases(files, local, rel)
        cls._polymorphic(files, {**local, **aliases})
        resources: list[tuple[str, Resource[Any]]] = []
        for f in files:
            f.doc = _write_only_secrets(_open_enums(f.doc))
            for section in ("definitions", "paths", "x-ms-paths"):  # not `parameters`: those are no schemas
                if section in f.doc:
                    f.doc[section] = _nullable(f.doc[section])
            resources.append((f.uri, DRAFT7.create_resource(f.doc)))
        for alias, f in aliases.items():
            resources.append((alias, DRAFT7.create_resource(f.doc)))
        return cls(files, Registry().with_resources(resources))

    @staticmethod
    def _refs(node: Any) -> Iterator[str]:
        """Every `$ref` in a document."""
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                yield ref
            for v in node.values():
                yield from SpecSet._refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from SpecSet._refs(v)

    @staticmethod
    def _external_refs(node: Any) -> Iterator[str]:
        return (ref for ref in SpecSet._refs(node) if not ref.startswith("#"))

    @staticmethod
    def _aliases(
        files: list[SpecFile], local: dict[str, SpecFile], rel: dict[PurePosixPath, SpecFile]
    ) -> dict[str, SpecFile]:
        """Targets of relative refs that are no vendored file -> the vendored file at their longest suffix."""
        aliases: dict[str, SpecFile] = {}
        for f in files:
            for ref in set(SpecSet._external_refs(f.raw)):
                target = urldefrag(urljoin(f.uri, ref)).url
                if target in local or target in aliases or "/examples/" in target:
                    continue
                parts = PurePosixPath(unquote(urlparse(target).path)).parts
                for i in range(1, len(parts)):
                    hit = rel.get(PurePosixPath(*parts[i:]))
                    if hit is not None:
                        aliases[target] = hit
                        break
        return aliases

    @staticmethod
    def _polymorphic(files: list[SpecFile], by_uri: dict[str, SpecFile]) -> None:
        """Swagger `discriminator`: every `$ref` to a base outside its variants' own `allOf` is redirected to
        `<Base>__dispatch` = base + (if discriminator == value then variant) for each variant, in any file."""
        for f in files:
            f.doc = copy.deepcopy(f.raw)

        def target(f: SpecFile, ref: str) -> tuple[SpecFile, str] | None:
            url, frag = urldefrag(urljoin(f.uri, ref))
            owner = by_uri.get(url)
            if owner is None or not frag.startswith("/definitions/") or frag.count("/") != 2:
                return None
            return owner, unquote(frag.rsplit("/", 1)[-1])

        variants: dict[tuple[str, str], list[tuple[str, SpecFile, str]]] = {}
        for f in files:
            for name, d in (f.raw.get("definitions") or {}).items():
                for parent in d.get("allOf", []) if isinstance(d, dict) else []:
                    ref = parent.get("$ref") if isinstance(parent, dict) else None
                    hit = target(f, ref) if isinstance(ref, str) else None
                    if hit and "discriminator" in (hit[0].raw.get("definitions") or {}).get(hit[1], {}):
                        value = d.get("x-ms-discriminator-value", name)
                        variants.setdefault((hit[0].uri, hit[1]), []).append((value, f, name))

        def redirect(f: SpecFile, node: Any, owner: str | None) -> Any:
            if isinstance(node, dict):
                ref = node.get("$ref")
                hit = target(f, ref) if isinstance(ref, str) else None
                if hit and (hit[0].uri, hit[1]) in variants:
                    own = {(vf.uri, vn) for _, vf, vn in variants[(hit[0].uri, hit[1])]}
                    if (f.uri, owner) not in own:
                        base = ref.split("#", 1)[0] + "#/definitions/" + quote(hit[1] + "__dispatch", safe="")
                        return {**node, "$ref": base}
                return {k: redirect(f, v, owner) for k, v in node.items()}
            if isinstance(node, list):
                return [redirect(f, v, owner) for v in node]
            return node

        for f in files:
            for section in ("paths", "x-ms-paths", "parameters"):
                if section in f.doc:
                    f.doc[section] = redirect(f, f.doc[section], None)
            defs = f.doc.get("definitions") or {}
            f.doc["definitions"] = {name: redirect(f, d, name) for name, d in defs.items()}
        for (uri, base), options in variants.items():
            owner = next(x for x in files if x.uri == uri)
            tag = owner.raw["definitions"][base]["discriminator"]
            owner.doc["definitions"][f"{base}__dispatch"] = {
                "allOf": [{"$ref": "#/definitions/" + quote(base, safe="")}]
                + [
                    {"if": {"properties": {tag: {"const": value}}, "required": [tag]},
                     "then": {"$ref": vf.uri + "#/definitions/" + quote(vn, safe="")}}
                    for value, vf, vn in options
                ]
            }  # fmt: skip

    # ---------------------------------------------------------------------------------------- look-ups

    def skip_encoded_parameters(self, op: Operation) -> set[str]:
        """Names of the operation's path parameters marked `x-ms-skip-url-encoding` (path-level ones too)."""
        item = op.file.doc.get(op.section, {}).get(op.path_key, {})
        params = list(item.get("parameters", [])) + list(op.spec.get("parameters", []))
        names: set[str] = set()
        for p in params:
            resolved = self._resolve(op.file, p)
            if resolved.get("in") == "path" and resolved.get("x-ms-skip-url-encoding"):
                names.add(str(resolved.get("name")))
        return names

    def _resolve(self, f: SpecFile, node: Any) -> dict[str, Any]:
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            try:
                resolved = self.registry.resolver(f.uri).lookup(node["$ref"]).contents
            except Unresolvable:
                return {}  # reported by `unresolved()`
            return resolved if isinstance(resolved, dict) else {}
        return node if isinstance(node, dict) else {}

    def unresolved(self) -> list[str]:
        """Every `$ref` (but x-ms-examples') of every file that does not resolve: vendoring gaps."""
        out: list[str] = []
        for f in self.files:
            raw_examples = set(self._example_refs(f.raw))
            for ref in sorted(set(self._external_refs(f.doc)) | set(self._local_refs(f.doc))):
                if ref in raw_examples:
                    continue
                try:
                    self.registry.resolver(f.uri).lookup(ref)
                except Unresolvable:
                    out.append(
                        f"{f.path.relative_to(REST_SPEC) if f.path.is_relative_to(REST_SPEC) else f.path}: {ref}"
                    )
        return out

    @staticmethod
    def _local_refs(node: Any) -> Iterator[str]:
        return (ref for ref in SpecSet._refs(node) if ref.startswith("#"))

    @staticmethod
    def _example_refs(doc: dict[str, Any]) -> Iterator[str]:
        for section in ("paths", "x-ms-paths"):
            for item in (doc.get(section) or {}).values():
                for op in item.values() if isinstance(item, dict) else []:
                    if isinstance(op, dict):
                        for entry in (op.get("x-ms-examples") or {}).values():
                            if isinstance(entry, dict) and isinstance(entry.get("$ref"), str):
                                yield entry["$ref"]

    def find(self, method: str, url_path: str, api_version: str) -> Operation | None:
        """The operation `method url_path` (no query string) maps to, among the spec files of `api_version`: the
        most specific template (most literal segments) whose literal segments match case-insensitively."""
        method = method.lower()
        path = "/" + url_path.split("?", 1)[0].strip("/")
        candidates = [
            op for op in self.operations
            if op.method == method and op.api_version == api_version and op.matches(path)
        ]  # fmt: skip
        if not candidates:
            return None
        return max(candidates, key=lambda op: (op.literal_segments, len(op.template)))

    def by_id(self, operation_id: str, api_version: str | None = None) -> Operation:
        """The operation of that id (of `api_version` if given); KeyError when absent or ambiguous."""
        hits = [
            op for op in self.operations
            if op.operation_id.lower() == operation_id.lower()
            and (api_version is None or op.api_version == api_version)
        ]  # fmt: skip
        if len(hits) != 1:
            raise KeyError(f"{operation_id} ({api_version}): {len(hits)} operations")
        return hits[0]

    def validate(self, schema: dict[str, Any], instance: Any, base_uri: str | None = None) -> list[str]:
        """Errors of `instance` against `schema`, whose `$ref`s are absolute or relative to `base_uri`."""
        if base_uri is not None and "$ref" in schema:
            schema = {**schema, "$ref": urljoin(base_uri, schema["$ref"])}
        validator = Draft7Validator(schema, registry=self.registry)
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
        ]

    def file(self, relative: str) -> SpecFile:
        """A vendored file by its path below tests/data/rest-spec."""
        for f in self.files:
            if f.path.as_posix().endswith("/" + relative.lstrip("/")):
                return f
        raise KeyError(relative)
