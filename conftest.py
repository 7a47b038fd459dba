"""Root pytest configuration: Hypothesis profiles and the replicheck plugin (cluster providers)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Our own profiles. Registering "ci" replaces Hypothesis' built-in one, which it would otherwise
# load silently because CI sets CI=true; the Makefile selects the profile with PROFILE=.
_COMMON = {"deadline": None, "print_blob": True, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("dev", max_examples=5, **_COMMON)
settings.register_profile("ci", max_examples=15, derandomize=True, database=None, **_COMMON)
settings.register_profile("nightly", max_examples=300, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pytest_plugins = ["fixtures.plugin", "fixtures.diagnostics"]
