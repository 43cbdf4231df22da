"""Transport retry policy: which failures to retry and how long to wait."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

#: HTTP statuses worth retrying (plus every 5xx).
RETRYABLE_STATUS = frozenset({408, 409, 429})
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 120.0


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status is transient (408, 409, 429, 5xx)."""
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(
    headers: Mapping[str, str] | None, now: float | None = None, cap_s: float = RETRY_AFTER_CAP_S
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date).

    Returns ``None`` when absent or unparsable; the value is clipped to ``[0, cap_s]``.
    """
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            return min(max(float(ms) / 1000.0, 0.0), cap_s)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), cap_s)


def backoff_delay(
    attempt: int,
    rng: random.Random | None = None,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""
    rng = rng or random
    return rng.uniform(0.0, min(cap_s, base_s * (2**attempt)))
