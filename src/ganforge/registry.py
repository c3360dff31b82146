"""One tiny name -> object registry used for networks, objectives, penalties, datasets and metrics."""
from __future__ import annotations

import difflib
from typing import Any, Iterator


from .errors import ConfigError


class RegistryError(ConfigError, KeyError):
    """An unknown name was looked up in a registry."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0])


def suggest(name: str, choices: list[str]) -> str:
    """Return ' Did you mean X?' for the closest choice, or ''."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


class Registry:
    """Maps short names to factories; unknown names get a close-match suggestion."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, obj: Any = None, *, help: str = "") -> Any:
        """Register obj under name; usable as a decorator when obj is omitted."""

        def add(item: Any) -> Any:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = item
            self._help[name] = help or (getattr(item, "__doc__", "") or "").strip().split("\n")[0]
            return item

        return add(obj) if obj is not None else add

    def get(self, name: str) -> Any:
        """Look up name, raising RegistryError listing the valid choices."""
        if name not in self._items:
            choices = self.names()
            raise RegistryError(
                f"unknown {self.kind} '{name}'.{suggest(name, choices)} "
                f"Valid {self.kind} names: {', '.join(choices)}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

