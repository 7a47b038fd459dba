"""Root pytest configuration: Hypothesis profiles and the replicheck plugin (cluster providers)."""

from __future__ import annotations

import os
import sys

# `make mutation` (replicheck/mutation.py): the unit tests import the mutant copy of the operator, not
# the repository's, so a bug in pure planning code is caught without a cluster. Done before any
# plugin or test imports operator_under_test.
if os.environ.get("REPLICHECK_OPERATOR_SRC"):
    if "operator_under_test" in sys.modules:
        raise RuntimeError("operator_under_test was imported before the mutant copy could be put first")
    sys.path.insert(0, os.environ["REPLICHECK_OPERATOR_SRC"])

from hypothesis import HealthCheck, Phase, settings

# Our own profiles. Registering "ci" replaces Hypothesis' built-in one, which it would otherwise
# load silently because CI sets CI=true; the Makefile selects the profile with PROFILE=.
# Cluster examples cost a round trip each: no explain phase (it re-runs failing examples), one bug
# at a time. stateful_step_count only affects the replication state machine.
_COMMON = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow],
    "phases": tuple(p for p in Phase if p is not Phase.explain),
    "report_multiple_bugs": False,
}
settings.register_profile("dev", max_examples=5, stateful_step_count=10, **_COMMON)
settings.register_profile(
    "ci", max_examples=15, stateful_step_count=15, derandomize=True, database=None, **_COMMON
)
settings.register_profile("nightly", max_examples=300, stateful_step_count=30, **_COMMON)
# `make mutation`: few derandomized examples and no shrinking (a mutant only has to be caught, and
# shrinking a timed-out example costs a minute per attempt).
settings.register_profile(
    "mutation",
    max_examples=10,
    stateful_step_count=12,
    derandomize=True,
    database=None,
    **{**_COMMON, "phases": (Phase.explicit, Phase.generate)},
)
# Per-property caps: the cluster replication properties (5, 6, 11) use "<profile>.replication" and the
# state machine "<profile>.machine" when registered (properties.recording.tuned); examples there
# cost ~0.3 s (machine runs ~1 s), so CI affords more of them than of the kustomize-heavy Property 7.
settings.register_profile("ci.replication", settings.get_profile("ci"), max_examples=40)
settings.register_profile("ci.machine", settings.get_profile("ci"), max_examples=25)
settings.register_profile("nightly.machine", settings.get_profile("nightly"), max_examples=150)
# ConfigMirror properties (properties/test_configmirror_properties.py): an example creates several
# namespaces and a CR and waits for the finalizer (~2-4 s), so CI runs fewer of them.
settings.register_profile("ci.configmirror", settings.get_profile("ci"), max_examples=6)
settings.register_profile("mutation.configmirror", settings.get_profile("mutation"), max_examples=6)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pytest_plugins = [
    "fixtures.plugins.verdicts",
    "fixtures.plugins.session",
    "fixtures.plugins.diagnostics",
    "fixtures.plugins.configmirror",
]
