"""Live connection tests of delivered configurations (`aks connection validate`).

`extract` recovers connection parameters from the key/value pairs an application reads (every shape of
reference §4, per client type); `live` reaches the target with them and reports what it reached, never a secret.
"""

from servicelinker.probes.live import probe
from servicelinker.probes.results import ProbeResult

__all__ = ["ProbeResult", "probe"]
