"""Switches: named on/off switches in a frozen dataclass, the shape that ``Fixes`` (the four
2013 fixes) and ``Changes`` (KSM's changes since 3.9) share."""

from dataclasses import dataclass, fields

__all__ = ["Switches"]


@dataclass(frozen=True)
class Switches:
    """One bool field a switch; ``_kind`` is what an unknown name is called in errors."""

    _kind = "switch"

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, bool):
                raise TypeError(
                    f"{type(self).__name__}.{f.name} must be a bool, not {type(value).__name__}"
                )

    @classmethod
    def names(cls) -> tuple:
        return tuple(f.name for f in fields(cls))

    def without(self, *names: str):
        """These switches with the named ones turned off."""
        return self._set(names, False)

    def with_(self, *names: str):
        """These switches with the named ones turned on."""
        return self._set(names, True)

    def _set(self, names, value):
        unknown = [n for n in names if n not in self.names()]
        if unknown:
            raise ValueError(
                f"unknown {self._kind} {unknown[0]!r}; known: {', '.join(self.names())}"
            )
        kw = {f: getattr(self, f) for f in self.names()}
        kw.update({n: value for n in names})
        return type(self)(**kw)
