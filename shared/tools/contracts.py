"""Committed documentation of the event contracts, generated from the code.

    python -m shared.tools.contracts            write docs/contracts/*.json and docs/asyncapi/*.json
    python -m shared.tools.contracts --check    exit 1 if the committed files differ from the code

``docs/contracts/`` holds one JSON Schema per registered contract (``<EventType>.v<N>.json``) and
one for the envelope; ``docs/asyncapi/<service>.json`` is an AsyncAPI 3.0 document per service,
built by FastStream from the service's own Kafka subscriptions (without connecting) plus the
streams it publishes through its outbox.

A change to a committed schema is classified by :func:`breaking_changes`: removing a field,
changing a field's type, format, pattern or allowed values, narrowing a limit, or adding a
required field is breaking and needs a new contract (``schema_version = 2`` on a ``.v2``
stream); adding an optional field is not, and only needs this export to be run again. The
export refuses to overwrite a committed schema with a breaking change unless told
``--accept-breaking`` (for a contract that was never released).
"""

from __future__ import annotations

import argparse
import json
import pkgutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Union, cast

from faststream.specification import AsyncAPI
from pydantic import BaseModel, create_model

import shared.kernel.contracts  # noqa: F401  (registers every contract)
from shared.kernel import kafka as kafka_clients
from shared.kernel.consumer import Consumer, ConsumerContext, subscribe
from shared.kernel.envelope import CONTRACTS, Envelope, EventPayload
from shared.kernel.metrics import Metrics
from shared.kernel.runtime import ServiceDefinition
from shared.kernel.topics import Stream, dlq_topic

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = ROOT / "docs" / "contracts"
ASYNCAPI_DIR = ROOT / "docs" / "asyncapi"
EXAMPLE_REGION = "oc02"
Schema = dict[str, Any]


def contract_file(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def contract_schemas() -> dict[str, Schema]:
    """File name -> JSON Schema of every registered contract and of the envelope."""
    files: dict[str, Schema] = {}
    for (event_type, version), model in sorted(CONTRACTS.items()):
        schema = model.model_json_schema()
        schema["x-kotaku"] = {
            "event_type": event_type,
            "schema_version": version,
            "topic": model.stream.topic("<region>"),
            "key": model.key_field,
        }
        files[contract_file(event_type, version)] = schema
    envelope = Envelope.model_json_schema()
    envelope["description"] = (Envelope.__doc__ or "").strip()
    files["Envelope.json"] = envelope
    return files


# --- breaking-change detection -----------------------------------------------------------------


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        target = root.get("$defs", {})[node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _kind(node: Schema, root: Schema) -> Any:
    node = _resolve(node, root)
    for combiner in ("anyOf", "oneOf", "allOf"):
        if combiner in node:
            return (combiner, tuple(sorted(str(_kind(branch, root)) for branch in node[combiner])))
    if "type" in node:
        return node["type"]
    if "const" in node:
        return ("const", json.dumps(node["const"]))
    if "enum" in node:
        return "enum"
    return "any"


_NARROWER_IF_LOWER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")
_NARROWER_IF_HIGHER = ("minLength", "minimum", "exclusiveMinimum", "minItems")


def _compare(old: Schema, new: Schema, path: str, roots: tuple[Schema, Schema], out: list[str]) -> None:
    old, new = _resolve(old, roots[0]), _resolve(new, roots[1])
    old_kind, new_kind = _kind(old, roots[0]), _kind(new, roots[1])
    if old_kind != new_kind:
        out.append(f"{path}: type changed from {old_kind} to {new_kind}")
        return
    for key in ("format", "pattern", "const"):
        if old.get(key) != new.get(key):
            out.append(f"{path}: {key} changed from {old.get(key)!r} to {new.get(key)!r}")
    if "enum" in old or "enum" in new:
        removed = [v for v in old.get("enum", []) if v not in new.get("enum", [])]
        added = [v for v in new.get("enum", []) if v not in old.get("enum", [])]
        if removed or added:
            out.append(f"{path}: allowed values changed (removed {removed}, added {added})")
    for key in _NARROWER_IF_LOWER:
        if key in new and (key not in old or new[key] < old[key]):
            out.append(f"{path}: {key} narrowed from {old.get(key)} to {new[key]}")
    for key in _NARROWER_IF_HIGHER:
        if key in new and (key not in old or new[key] > old[key]):
            out.append(f"{path}: {key} narrowed from {old.get(key)} to {new[key]}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        if name not in new_props:
            out.append(f"{path}.{name}: field removed")
        else:
            _compare(old_prop, new_props[name], f"{path}.{name}", roots, out)
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        out.append(f"{path}.{name}: " + ("new required field" if name not in old_props else "field became required"))
    if old.get("additionalProperties", True) is not False and new.get("additionalProperties", True) is False:
        out.append(f"{path}: no longer accepts additional fields")
    for combiner in ("anyOf", "oneOf", "allOf"):
        if combiner in old:
            by_kind = {str(_kind(b, roots[1])): b for b in new[combiner]}
            for branch in old[combiner]:
                _compare(branch, by_kind[str(_kind(branch, roots[0]))], path, roots, out)
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], f"{path}[]", roots, out)


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Why ``new`` cannot replace ``old`` under the same version; empty if it can."""
    found: list[str] = []
    _compare(old, new, "$", (old, new), found)
    return found


@dataclass
class Drift:
    breaking: dict[str, list[str]] = field(default_factory=dict)  # file -> reasons
    compatible: list[str] = field(default_factory=list)  # files to re-export

    @property
    def clean(self) -> bool:
        return not self.breaking and not self.compatible

    def report(self) -> str:
        lines = []
        for name, reasons in sorted(self.breaking.items()):
            lines.append(f"BREAKING change to {name}:")
            lines += [f"  - {reason}" for reason in reasons]
        if self.breaking:
            lines.append(
                "Do not change a released contract incompatibly: add a new contract with schema_version = 2 on a "
                ".v2 stream (shared/kernel/topics.py) and keep v1 until every consumer has moved."
            )
        if self.compatible:
            lines.append(f"Compatible changes in {', '.join(sorted(self.compatible))}: run make contracts")
        return "\n".join(lines)


def drift(committed: Mapping[str, Schema], current: Mapping[str, Schema]) -> Drift:
    found = Drift()
    for name in sorted(set(committed) | set(current)):
        if name not in current:
            found.breaking[name] = ["contract removed from the code"]
        elif name not in committed:
            found.compatible.append(name)
        elif committed[name] != current[name]:
            reasons = breaking_changes(committed[name], current[name])
            if reasons:
                found.breaking[name] = reasons
            else:
                found.compatible.append(name)
    return found


def committed_schemas(directory: Path | None = None) -> dict[str, Schema]:
    return {p.name: json.loads(p.read_text()) for p in sorted((directory or CONTRACTS_DIR).glob("*.json"))}


# --- AsyncAPI ----------------------------------------------------------------------------------


def _stream_message(stream: Stream) -> type[BaseModel] | None:
    """An envelope model whose payload is one of the contracts published on ``stream``."""
    payloads = tuple(m for m in CONTRACTS.values() if m.stream == stream)
    if not payloads:
        return None
    payload_type: Any = payloads[0] if len(payloads) == 1 else Union[payloads]  # noqa: UP007
    name = "".join(part.capitalize() for part in stream.name.replace(".", "_").split("_")) + f"V{stream.version}Event"
    return cast(
        type[BaseModel],
        create_model(name, __base__=Envelope, __doc__=f"An event on {stream.topic('<region>')}", payload=payload_type),
    )


def model_key(stream: Stream) -> str:
    """The Kafka key of the events on ``stream``: their contracts' key field."""
    return " or ".join(sorted({m.key_field for m in CONTRACTS.values() if m.stream == stream})) or "aggregate id"


def _consumers(definition: ServiceDefinition) -> list[Consumer]:
    # A consumer factory needs the runtime only for settings when it is built; nothing connects.
    stand_in: Any = SimpleNamespace(settings=SimpleNamespace(topic_prefix=""), definition=definition)
    return [c if isinstance(c, Consumer) else c(stand_in) for c in definition.consumers]


def _published_streams(definition: ServiceDefinition, consumers: Iterable[Consumer]) -> list[Stream]:
    owned = {m.stream for m in CONTRACTS.values() if m.stream.publisher == definition.name}
    if any(s.name.endswith(".intake") for c in consumers for s in c.streams):
        owned |= _rejection_streams()
    return sorted(owned, key=lambda s: (s.name, s.version))


def _rejection_streams() -> set[Stream]:
    return {m.stream for (event_type, _), m in CONTRACTS.items() if event_type == "IntakeRejected"}


def asyncapi_document(definition: ServiceDefinition, region: str = EXAMPLE_REGION) -> Schema:
    """The AsyncAPI 3.0 document of one service: FastStream's specification of a broker that has the
    service's subscriptions registered (exactly as at run time, for ``region``) and a publisher per
    stream it writes through its outbox. The broker is never started."""
    broker = kafka_clients.broker("kafka:9092", f"kotaku-{definition.name}")
    ctx = ConsumerContext(
        pool=cast(Any, None),
        broker=broker,
        metrics=Metrics(definition.name),
        topic_prefix="",
        retry_attempts=1,
        retry_backoff_seconds=1.0,
    )
    consumers = _consumers(definition)
    messages: dict[str, str] = {}  # topic -> component schema name
    for consumer in consumers:
        subscribe(broker, consumer, [region], ctx, 500)
    for stream in {s for c in consumers for s in c.streams} | set(_published_streams(definition, consumers)):
        model = _stream_message(stream)
        if model is not None:
            messages[stream.topic(region)] = model.__name__
    for stream in _published_streams(definition, consumers):
        model = _stream_message(stream)
        topic = stream.topic(region)
        description = f"Published through the {definition.name} outbox (acks=all, idempotent); key: aggregate id"
        if stream.national:
            description = description.replace("aggregate id", model_key(stream)) + " (one topic for every region)"
        broker.publisher(topic, title=f"{topic}:publish", description=description, schema=model)
    dead_letterers: dict[str, list[str]] = {}  # a topic read by several consumers has one dead-letter topic
    for consumer in consumers:
        for stream in consumer.streams:
            dead_letterers.setdefault(stream.topic(region), []).append(consumer.name)
    for topic, names in dead_letterers.items():
        broker.publisher(
            dlq_topic(topic),
            title=f"{dlq_topic(topic)}:publish",
            description=f"Dead letters of {', '.join(names)}: the original bytes, the reason in x-dlq-* headers",
            schema=bytes,
        )
    spec = AsyncAPI(
        broker,
        title=definition.title,
        version="1.0.0",
        description=f"{definition.description}\n\nTopics exist once per OC region; {region} is shown. "
        "Every message body is the JSON envelope (docs/contracts/Envelope.json).",
    ).to_specification()
    document = cast(Schema, spec.to_jsonable())
    # Subscriptions are batch handlers of raw records; document the envelope they decode.
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for stream in {s for c in consumers for s in c.streams}:
        model = _stream_message(stream)
        if model is not None:
            for name, sub_schema in (
                model.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}).items()
            ):
                schemas.setdefault(name, sub_schema)
            top = model.model_json_schema(ref_template="#/components/schemas/{model}")
            top.pop("$defs", None)
            schemas[model.__name__] = top
    for channel_name, channel in document.get("channels", {}).items():
        schema_name = messages.get(channel["address"])
        if schema_name is None or channel_name.endswith(":publish"):
            continue
        for ref in channel.get("messages", {}).values():
            message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            message["payload"] = {"$ref": f"#/components/schemas/{schema_name}"}
    return document


def service_definition(reference: str) -> ServiceDefinition:
    """The definition a caller names, as ``package.module:NAME`` (e.g. the Makefile's
    ``services.registration.app:DEFINITION``): the tool itself knows no service."""
    found = pkgutil.resolve_name(reference)
    if not isinstance(found, ServiceDefinition):
        raise SystemExit(f"{reference} is not a ServiceDefinition")
    return found


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files(definitions: Sequence[ServiceDefinition]) -> dict[Path, str]:
    files = {CONTRACTS_DIR / name: dumps(schema) for name, schema in contract_schemas().items()}
    for definition in definitions:
        files[ASYNCAPI_DIR / f"{definition.name}.json"] = dumps(asyncapi_document(definition))
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.tools.contracts", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if the committed files differ")
    parser.add_argument("--accept-breaking", action="store_true", help="overwrite even on a breaking change")
    parser.add_argument(
        "definitions",
        nargs="+",
        metavar="MODULE:NAME",
        help="the services' definitions, e.g. services.training.app:DEFINITION",
    )
    args = parser.parse_args(argv)
    found = drift(committed_schemas(), contract_schemas())
    files = generated_files([service_definition(ref) for ref in args.definitions])
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    stale += [p for p in CONTRACTS_DIR.glob("*.json") if p not in files]
    if args.check:
        if stale:
            print(found.report() or "", file=sys.stderr)
            print(f"out of date: {', '.join(str(p.relative_to(ROOT)) for p in stale)}", file=sys.stderr)
            return 1
        return 0
    if found.breaking and not args.accept_breaking:
        print(found.report(), file=sys.stderr)
        return 1
    for path in (p for p in CONTRACTS_DIR.glob("*.json") if p not in files):
        path.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(files)} files to docs/contracts and docs/asyncapi")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["EventPayload", "asyncapi_document", "breaking_changes", "contract_schemas", "drift", "main"]
