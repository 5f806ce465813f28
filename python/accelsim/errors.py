"""Exceptions raised by accelsim.

Every error derives from :class:`AccelsimError`, and each also derives from the matching
builtin, so ``except ValueError`` keeps working for callers that do not know accelsim.
The native module ``accelsim._core`` imports this module and raises these same classes,
so this module must never import ``accelsim._core`` (that would be an import cycle).

Messages name the offending field and, where there is a fixed set, the valid choices.
"""

from __future__ import annotations

__all__ = ["AccelsimError", "ConfigError", "SimulationError", "WorkloadError"]


class AccelsimError(Exception):
    """Base class of every error accelsim raises on purpose."""


class ConfigError(AccelsimError, ValueError):
    """An invalid accelerator or run configuration (a field, a key, a file)."""


class WorkloadError(AccelsimError, ValueError):
    """An invalid workload: a layer shape, a model name, operand arrays."""


class SimulationError(AccelsimError, RuntimeError):
    """A simulation that could not complete (an internal invariant of the engine failed)."""
