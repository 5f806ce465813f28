"""Hypothesis profiles: ``dev`` (default, quick) and ``ci`` (more examples, derandomized).

Select with ``HYPOTHESIS_PROFILE=ci`` or ``pytest --hypothesis-profile=ci``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
