"""Where profiles live: the per-user data dir, ``LATKIT_HOME``, shipped ones."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def home() -> Path:
    """The per-user latkit data dir; ``LATKIT_HOME`` overrides it."""
    env = os.environ.get("LATKIT_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("latkit", appauthor=False)


def profiles_dir() -> Path:
    """Directory that holds the user's own device profiles."""
    return home() / "profiles"


def cache_dir() -> Path:
    """Directory for exported models, engines and other rebuildable files."""
    return home() / "cache"


def shipped_profiles_dir() -> Path:
    """Directory of the profiles shipped in the ``device_profiles`` package."""
    return Path(str(resources.files("device_profiles")))
