"""What every MPCStats server shares: config, errors, JSON bodies, rate limits, logs, signatures, serving.

Only the names re-exported here are the public face; servers import from ``servers.common`` directly.
``servers.common.mpc_pki`` (MPyC's private CA) is imported on its own: it is a deploy-time tool.
"""

from servers.common.config import ConfigError, from_dict, load_config
from servers.common.errors import (
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidField,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    error_response,
    exception_handlers,
)
from servers.common.http import (
    get_bool,
    get_dict,
    get_float,
    get_hex,
    get_int,
    get_list,
    get_str,
    read_body,
    read_json,
)
from servers.common.logging import JSONFormatter, RedactingFilter, configure_logging, redact
from servers.common.ratelimit import RateLimiter, RateLimitMiddleware, TokenBucket
from servers.common.serve import BackgroundServer, ServerStartError, free_port, run_forever, serve_in_thread
from servers.common.signing import (
    SignatureError,
    canonical_json,
    generate_key,
    key_id,
    load_or_create_private_key,
    load_private_key,
    load_public_key,
    public_key_hex,
    sign,
    sign_result,
    verify,
    verify_result,
)

__all__ = [
    "APIError", "BackgroundServer", "BadRequest", "ConfigError", "Conflict", "Forbidden", "InvalidField",
    "JSONFormatter", "NotFound", "PayloadTooLarge", "RateLimitMiddleware", "RateLimited", "RateLimiter",
    "RedactingFilter", "ServerStartError", "ServiceUnavailable", "SignatureError", "TokenBucket",
    "Unauthorized", "canonical_json", "configure_logging", "error_response", "exception_handlers",
    "free_port", "from_dict", "generate_key", "get_bool", "get_dict", "get_float", "get_hex", "get_int",
    "get_list", "get_str", "key_id", "load_config", "load_or_create_private_key", "load_private_key",
    "load_public_key", "public_key_hex", "read_body", "read_json", "redact", "run_forever",
    "serve_in_thread", "sign", "sign_result", "verify", "verify_result",
]
