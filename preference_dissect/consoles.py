"""Where progress goes: one rule for every progress bar of the toolkit."""

from __future__ import annotations

import importlib.util
from typing import Any


def live_bars_work(console: Any) -> bool:
    """Whether ``console`` can show a live progress bar: in a terminal yes; in Jupyter only
    with ``ipywidgets`` (without it rich warns on every refresh, so no bar is shown there)."""
    if not getattr(console, "is_jupyter", False):
        return True
    return importlib.util.find_spec("ipywidgets") is not None
