"""Constants of the Entra v2 token protocol the local token service speaks."""

from __future__ import annotations

import logging
import re

log = logging.getLogger("servicelinker.tokenservice")

GRANT_CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
DEFAULT_SUFFIX = "/.default"
TOKEN_LIFETIME = 3599
#: Entra back-dates iat/nbf by five minutes so that resource servers with a slow clock accept fresh tokens.
BACKDATE = 300
#: Clock skew tolerated on assertions' exp/nbf.
LEEWAY = 60
JWKS_TTL = 300.0
MIN_REFRESH = 10.0
MAX_BODY = 64 * 1024
ASSERTION_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"})
HOST_RE = re.compile(r"^(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
GUID_TAIL = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/?$")
