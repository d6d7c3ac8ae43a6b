"""The engine: the connection workflow behind one interface.

    from servicelinker.engine import Engine, local_engine
    engine: Engine = local_engine(Settings())

`Engine` (interface.py) is the one Protocol the CLI, the REST API and the runner use; `factory.py` wires an
implementation from settings. This module stays light (no store, cloud or Kubernetes import) so `--help` is fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from servicelinker.engine.interface import Engine, ExtensionReport, IdentityRef, ProgressListener

if TYPE_CHECKING:
    from servicelinker.engine.factory import Engines
    from servicelinker.settings import Settings


def local_engine(settings: Settings) -> Engine:
    """The CLI's engine: over the configured REST endpoint, else in-process."""
    from servicelinker.engine.factory import local_engine as build

    return build(settings)


def engines(settings: Settings) -> Engines:
    """A process's engines (one store; an engine per caller; the durable runner)."""
    from servicelinker.engine.factory import Engines

    return Engines(settings)


__all__ = ["Engine", "ExtensionReport", "IdentityRef", "ProgressListener", "engines", "local_engine"]
