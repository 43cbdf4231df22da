"""Server URLs with credentials in them: the one place that strips user info.

A base URL may carry a user name and password (``http://user:pw@host:8080/v1``, e.g. a
reverse proxy with HTTP basic auth in front of a local server). They are needed for the
request and nowhere else: every URL that is recorded or printed (manifests, reports, the
answer cache and its keys, error lines, logs) goes through :func:`strip_userinfo` or
:func:`redact_urls` first.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

#: ``scheme://userinfo@`` anywhere in a text (userinfo: no ``/``, ``@`` or whitespace).
_USERINFO_IN_TEXT = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/@\s\"'<>]+@")


@dataclass(frozen=True)
class SplitURL:
    """A URL without its user info, and that user info.

    Attributes
    ----------
    url : str
        The URL without ``user:password@`` (everything else unchanged).
    username, password : str or None
        The percent-decoded credentials; ``None`` when absent.
    """

    url: str
    username: str | None = None
    password: str | None = None

    @property
    def has_credentials(self) -> bool:
        """Whether the original URL carried a user name or password."""
        return self.username is not None or self.password is not None

    def basic_auth(self) -> str | None:
        """The ``Authorization`` header value for HTTP basic auth (``None`` without user info)."""
        if not self.has_credentials:
            return None
        pair = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


def split_userinfo(url: str) -> SplitURL:
    """Split ``scheme://user:pw@host/...`` into the bare URL and the credentials.

    Parameters
    ----------
    url : str
        Any URL; one without user info comes back unchanged.

    Returns
    -------
    SplitURL
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return SplitURL(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return SplitURL(bare, unquote(user), unquote(password) if sep else None)


def strip_userinfo(url: str | None) -> str | None:
    """``url`` without ``user:password@`` (``None`` stays ``None``)."""
    return None if url is None else split_userinfo(url).url


def redact_urls(text: str) -> str:
    """Remove the user info of every ``scheme://user:pw@host`` URL inside a free text."""
    return _USERINFO_IN_TEXT.sub(r"\1", text)


def host_port(url: str | None, default: str = "api.openai.com") -> str:
    """``host[:port]`` of a URL without user info (``default`` for ``None`` or empty)."""
    if not url:
        return default
    bare = split_userinfo(url).url
    return urlsplit(bare).netloc or bare
