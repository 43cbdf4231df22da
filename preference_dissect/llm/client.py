"""The HTTP side of the engine: the ``openai`` SDK client, its API key and server host.

The API key is read from the environment variable the config names and is never written
anywhere; user info in a base URL is sent as basic auth and stripped from every host string.
"""

from __future__ import annotations

import functools
import sys
from urllib.parse import urlparse

from preference_dissect.errors import InputError
from preference_dissect.urls import host_port

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
DUMMY_LOCAL_KEY = "sk-local-no-key"
CONNECTIONS_PER_CLIENT = 16


@functools.cache
def http_response_class() -> type:
    """The HTTP response class the installed ``openai`` SDK returns raw (httpx2 or httpx)."""
    try:
        import httpx2
        import openai._httpx2  # noqa: F401  (SDK 3.x runs on httpx2)

        return httpx2.Response
    except ImportError:
        import httpx

        return httpx.Response


def server_host(base_url: str | None) -> str:
    """``host[:port]`` of the server, never with user info (``api.openai.com`` by default).

    This is what the cache key, the cache's ``host`` column, manifests and error lines see, so
    a password in the URL is stored nowhere and changing it keeps the cache valid.
    """
    return host_port(base_url)


_WARNED_KEYS: set[str] = set()


def clean_api_key(env_name: str, value: str | None) -> str | None:
    """The API key from ``$env_name`` without surrounding whitespace (``None`` when unset).

    A key pasted with a trailing newline or spaces (``OPENAI_API_KEY=$'sk-...\n'``) is used
    stripped, and one line on stderr says so (once per variable and process): no valid key
    has whitespace around it, and HTTP forbids a newline in a header. Whitespace, control or
    non-ASCII characters *inside* the key cannot be repaired and raise
    :class:`~preference_dissect.errors.InputError` naming the variable (never the key).
    """
    if value is None:
        return None
    key = value.strip()
    if key != value and key and env_name not in _WARNED_KEYS:
        _WARNED_KEYS.add(env_name)
        print(
            f"prefdissect: warning: {env_name} has leading/trailing whitespace or a newline; "
            "using it stripped",
            file=sys.stderr,
        )
    if any(not 33 <= ord(c) < 127 for c in key):
        raise InputError(
            f"{env_name} contains a space, a control character or a non-ASCII character inside "
            "the key: check the value of that environment variable"
        )
    return key or None


def is_local(base_url: str | None) -> bool:
    """Whether ``base_url`` points at this machine."""
    return bool(base_url) and (urlparse(base_url).hostname or "") in LOCAL_HOSTS
