"""mockyard: stateful mock and contract-testing server generated from OpenAPI.

What a workspace's handler modules import lives here.
"""

from mockyard.errors import ApiError, Failure, MockyardError
from mockyard.types import Context, Credentials, Principal, RateLimit

__all__ = [
    "ApiError",
    "Context",
    "Credentials",
    "Failure",
    "MockyardError",
    "Principal",
    "RateLimit",
]
