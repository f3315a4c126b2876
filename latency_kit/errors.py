"""Exceptions that mean "the user asked for something we cannot do".

The CLI turns any :class:`LatkitError` into one line on stderr and a non-zero
exit code, with no traceback. Every other exception is a bug and propagates
normally.
"""

from __future__ import annotations


class LatkitError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""


class UnknownNameError(LatkitError, KeyError):
    """A name (device, space, backend, source) that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]):
        self.kind, self.name, self.known = kind, name, list(known)
        listing = ", ".join(sorted(self.known)) or "(none)"
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {listing}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class ArchError(LatkitError, ValueError):
    """A malformed or invalid architecture string or JSON."""


class MissingExtraError(LatkitError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, module: str, extra: str):
        super().__init__(
            f"{module} is not installed; install it with: pip install 'latkit[{extra}]'"
        )


class CorruptFileError(LatkitError):
    """A stored table or profile cannot be read."""


class MissingEntryError(LatkitError, KeyError):
    """A lookup-table key that the profile does not contain."""

    def __init__(self, key: str, profile: str):
        self.key, self.profile = key, profile
        super().__init__(
            f"block {key!r} is missing from profile {profile!r}; "
            "re-run `latkit profile` for this space and resolution"
        )

    def __str__(self) -> str:
        return self.args[0]


class DeviceError(LatkitError):
    """A device is absent, was unplugged, or failed while measuring."""
