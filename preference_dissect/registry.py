"""Registries: the plug-in points of the toolkit.

Each plug-in point is one :class:`Registry` (loaders, annotator kinds, priors, likelihoods,
report sections). The built-in entries register themselves with the registry's decorator in
their own module, one file per entry; a third-party package (or a user's module) adds
entries the same way and is found through the entry-point group
``preference_dissect.plugins``::

    # pyproject.toml of the plug-in
    [project.entry-points."preference_dissect.plugins"]
    mine = "my_package.my_module"

Every registry imports the plug-in modules on its first look-up, so the CLI and the Python
API see the same entries. An unknown name is an :class:`~preference_dissect.errors.InputError`
that lists the valid choices.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from preference_dissect.errors import InputError

T = TypeVar("T")
#: The entry-point group whose modules are imported before any registry look-up.
PLUGIN_GROUP = "preference_dissect.plugins"
_PLUGINS_LOADED = False


def load_plugins() -> list[str]:
    """Import every module of the ``preference_dissect.plugins`` entry points (once).

    Returns
    -------
    list of str
        The entry-point names loaded by this call (empty after the first).

    Raises
    ------
    InputError
        A plug-in module that cannot be imported (naming the entry point and the error).
    """
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return []
    _PLUGINS_LOADED = True
    from importlib.metadata import entry_points

    loaded = []
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plug-in must say which one it is
            raise InputError(
                f"plug-in {ep.name!r} ({ep.value}) of {PLUGIN_GROUP} failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        loaded.append(ep.name)
    return loaded


def _same(a: Any, b: Any) -> bool:
    """Whether two entries are the same definition (a module imported twice registers a new
    class object of the same name: that is not a conflict)."""
    if a is b:
        return True
    ka = a if isinstance(a, type) else type(a)
    kb = b if isinstance(b, type) else type(b)
    if ka.__module__ == "builtins":
        return False
    return (ka.__module__, ka.__qualname__) == (kb.__module__, kb.__qualname__)


class Registry(Generic[T]):
    """Named entries of one plug-in point.

    Parameters
    ----------
    noun : str
        What an entry is, for messages (``loader``, ``prior``...).
    field : str
        The parameter that names an entry, for messages (``format``, ``prior``...).
    builtins : tuple of str
        Modules whose import registers the built-in entries (imported on first look-up).
    instantiate : bool
        Store an instance of a registered class (entries are objects, e.g. prior families)
        rather than the class (entries are kinds, e.g. annotator classes).

    Examples
    --------
    >>> shapes = Registry("shape", "shape")
    >>> @shapes.register("square")
    ... def square(x):
    ...     return x * x
    >>> shapes.get("square")(3)
    9
    """

    def __init__(
        self, noun: str, field: str, builtins: tuple[str, ...] = (), *, instantiate: bool = False
    ) -> None:
        self.noun = noun
        self.field = field
        self.builtins = builtins
        self.instantiate = instantiate
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._ready = False

    def register(
        self, name: str, *, aliases: tuple[str, ...] = (), replace: bool = False
    ) -> Callable[[T], T]:
        """Decorator that registers its target under ``name`` (and ``aliases``)."""

        def decorate(obj: T) -> T:
            self.add(name, obj, aliases=aliases, replace=replace)
            return obj

        return decorate

    def add(
        self, name: str, obj: T, *, aliases: tuple[str, ...] = (), replace: bool = False
    ) -> None:
        """Register ``obj`` under ``name``; a second entry of one name needs ``replace``."""
        if self.instantiate and isinstance(obj, type):
            obj = obj()
        if not replace and name in self._entries and not _same(self._entries[name], obj):
            raise ValueError(f"{self.noun} {name!r} is registered already")
        self._entries[name] = obj
        for alias in aliases:
            self._aliases[alias] = name

    def remove(self, name: str) -> None:
        """Take ``name`` (and its aliases) out of the registry; an unknown name is ignored."""
        self._entries.pop(name, None)
        self._aliases = {a: n for a, n in self._aliases.items() if n != name}

    def _prepare(self) -> None:
        if self._ready:
            return
        self._ready = True
        for module in self.builtins:
            importlib.import_module(module)
        load_plugins()

    def canonical(self, name: str) -> str:
        """The registered name behind ``name`` (aliases resolved)."""
        self._prepare()
        return self._aliases.get(name, name)

    def get(self, name: str, *, file: Any = None) -> T:
        """The entry called ``name`` (or an alias of it).

        Raises
        ------
        InputError
            Unknown name, listing the valid choices (and naming ``file``, where the name was
            read from, when given).
        """
        key = self.canonical(name)
        if key not in self._entries:
            raise InputError(
                f"unknown {self.noun} {name!r} (valid: {', '.join(self.names())})",
                file=file,
                field=self.field,
            )
        return self._entries[key]

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        self._prepare()
        return list(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        """``(name, entry)`` pairs, in registration order."""
        self._prepare()
        return iter(list(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.noun!r}, {len(self._entries)} entries)"


def describe(registry: Registry[Any]) -> str:
    """``name, name, ...`` of a registry's entries (for help texts)."""
    return ", ".join(registry.names())
