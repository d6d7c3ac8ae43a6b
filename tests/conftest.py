"""Session fixtures: the dev stack is brought up once for integration and e2e tests, and stopped at the end.

Tests use their own state directory and port block (SL_TEST_PORT_BASE, default 28000), so they never touch a
stack a developer started with `servicelinker devstack up` (port block 27000). SL_DEVSTACK_ONLY=a,b limits
the services started, for quick local iterations on one service; CI starts all of them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.devstack import postgres, stack
from localcloud.devstack.config import Ports, StackConfig

TEMP_PREFIX = "sl-test-stack-"


def _test_config() -> StackConfig:
    state = os.environ.get("SL_TEST_STATE_DIR") or tempfile.mkdtemp(prefix=TEMP_PREFIX)
    base = int(os.environ.get("SL_TEST_PORT_BASE", "28000"))
    # the ARM endpoint records every response it gives, for the contract test (tests/integration/test_arm_contract.py)
    return StackConfig(state_dir=Path(state), ports=Ports(base=base), arm_record=Path(state) / "arm-responses.jsonl")


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return _test_config()


@pytest.fixture(scope="session")
def devstack(stack_config: StackConfig) -> Iterator[dict[str, Any]]:
    """The running dev stack's description (stack.json), services under ["services"][name]."""
    only_env = os.environ.get("SL_DEVSTACK_ONLY")
    only = [s for s in only_env.split(",") if s] if only_env else None
    try:
        desc = stack.up(stack_config, only=only)
        yield desc
    finally:
        stack.down(stack_config)
        if stack_config.state_dir.name.startswith(TEMP_PREFIX):  # ours: leave no data behind
            postgres.remove_private_data(stack_config)
            shutil.rmtree(stack_config.state_dir, ignore_errors=True)
