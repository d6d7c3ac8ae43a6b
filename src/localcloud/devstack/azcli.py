"""An az CLI profile for the local stack, in a configuration directory of its own (`<state>/az`), so that a user's
real az configuration (`~/.azure`) is never touched.

The cloud is registered from the ARM endpoint's `/metadata/endpoints` (`az cloud register
--endpoint-resource-manager`), as for any Azure Stack or sovereign cloud; az signs in as the developer's service
principal (its secret read from its 0600 file with az's `@file` syntax, never on a command line); MSAL's instance
discovery is off (it would ask login.microsoftonline.com about a loopback authority). The CA bundle of the ARM
endpoint and token service is what az's HTTP stack trusts (`REQUESTS_CA_BUNDLE`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from localcloud.devstack.config import StackConfig

CLOUD_NAME = "ServicelinkerLocal"
AZ_VENV = "az-venv"


def az_binary(cfg: StackConfig) -> Path | None:
    """az from the cache (`scripts/install-az.sh`), else from PATH."""
    cached = cfg.cache_dir / AZ_VENV / "bin" / "az"
    if cached.is_file():
        return cached
    found = shutil.which("az")
    return Path(found) if found else None


def environment(cfg: StackConfig) -> dict[str, str]:
    """What a shell needs to use the profile: `eval "$(servicelinker devstack az)"`."""
    profile = json.loads((cfg.state_dir / "cloud-profile.json").read_text())
    env = {"AZURE_CONFIG_DIR": str(cfg.state_dir / "az"), "REQUESTS_CA_BUNDLE": profile["caBundle"],
           "AZURE_CORE_COLLECT_TELEMETRY": "false"}  # fmt: skip
    az = az_binary(cfg)
    if az is not None:
        env["PATH_PREPEND"] = str(az.parent)
    return env


def configure(cfg: StackConfig, az: Path) -> dict[str, str]:
    """(Re)create the profile: config, cloud, sign-in. Returns the environment it works in."""
    profile_file = cfg.state_dir / "cloud-profile.json"
    if not profile_file.is_file():
        raise RuntimeError(f"{profile_file} is missing: run `servicelinker devstack up` first")
    profile = json.loads(profile_file.read_text())
    env = environment(cfg)
    config_dir = Path(env["AZURE_CONFIG_DIR"])
    shutil.rmtree(config_dir, ignore_errors=True)
    config_dir.mkdir(parents=True, mode=0o700)
    run_env = {**os.environ, **{k: v for k, v in env.items() if k != "PATH_PREPEND"}}
    steps = [
        ["config", "set", "core.instance_discovery=false", "core.collect_telemetry=false", "core.survey_message=false",
         "core.only_show_errors=true"],
        ["cloud", "register", "-n", CLOUD_NAME, "--endpoint-resource-manager", profile["armEndpoint"] + "/"],
        ["cloud", "set", "-n", CLOUD_NAME],
        ["login", "--service-principal", "-u", profile["clientId"], "-p", f"@{profile['clientSecretFile']}",
         "--tenant", profile["tenantId"], "-o", "none"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run([str(az), *step], env=run_env, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"az {' '.join(step[:2])} failed: {done.stderr.strip()[-600:]}")
    return env
