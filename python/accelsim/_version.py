"""Package version, and the check that the native module was built from the same version."""

from __future__ import annotations

import re
from importlib import metadata

_SEMVER_PRE = re.compile(r"^(\d+\.\d+\.\d+)-(alpha|beta|rc|a|b|dev)\.?(\d*)$")
_PEP440_TAG = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "rc": "rc", "dev": ".dev"}


def normalize_version(version: str) -> str:
    """Cargo's semver (``0.2.0-beta.1``) in the PEP 440 spelling maturin gives Python
    (``0.2.0b1``), so the two versions of one build compare equal."""
    match = _SEMVER_PRE.match(version)
    if match is None:
        return version
    release, tag, number = match.groups()
    return f"{release}{_PEP440_TAG[tag]}{number or '0'}"


def package_version(fallback: str) -> str:
    """The installed distribution's version, or ``fallback`` when metadata is missing
    (e.g. ``python/`` put on ``sys.path`` by hand)."""
    try:
        return metadata.version("accelsim")
    except metadata.PackageNotFoundError:
        return fallback


def check_core_version(core_version: str, package: str, core_file: str | None = None) -> None:
    """Raise ImportError when the native module is stale (built from another version)."""
    if normalize_version(core_version) != normalize_version(package):
        where = f" ({core_file})" if core_file else ""
        raise ImportError(
            f"accelsim {package} found the native module accelsim._core {core_version}{where}: "
            "a stale build. Rebuild it from the repository root with `pip install .` "
            "(or `maturin develop --release` in a development checkout)."
        )
