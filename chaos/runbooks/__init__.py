"""The "Error Handling" runbooks of the design (shared/seeds/000_aefa967825fe900c.txt), executable.

Each runbook is data: its steps *as written*, and for each step the check that carries it out against
the cluster (a kubectl-equivalent query, a search of the operator's log, a SubjectAccessReview for the
operator's ServiceAccount) or the remedy it prescribes. The runbooks name Reflector's objects
(``reflector-system``, ``deploy/reflector``, ``oci-creds`` in ``flux-system``); the checks apply each
step to this setup's equivalents (the operator in ``replicheck-system``, the experiment's source and
target) and say so in their evidence.

Running a runbook against a fault records which step identifies the injected cause, and whether the
remedy the runbook prescribes restores service: the target gets the current credential *and keeps
following* a further rotation within the SLO. A runbook that cannot identify the cause is a finding.

Remedies are only what the text prescribes: explicit steps ("Rotate credentials if compromised",
"Manually create secret as temporary workaround") and the unambiguous fix of a failed verification
("Verify target namespace is in allowed list" → add it; "Check Reflector RBAC permissions" → grant
them; "Verify Reflector annotations are correct" → correct them), labelled *implied*. Alerts are not
remedies.

The package, by job: :mod:`~chaos.runbooks.catalogue` (the runbooks as data),
:mod:`~chaos.runbooks.patterns` and :mod:`~chaos.runbooks.logs` (evaluating allowed-list entries and
classifying the operator's log), :mod:`~chaos.runbooks.checks` (one function per diagnostic step and
setup: the chaos cluster's, the OCI stack's for "Authentication Failure", which oci/runbook.py
runs against a real registry, and the HelmRelease deployment's for "Pod Not Running" and
"Authentication Failure" on real nodes), :mod:`~chaos.runbooks.remedies`, :mod:`~chaos.runbooks.engine`
(carry the steps out, diagnose, choose and apply a remedy) and :mod:`~chaos.runbooks.entrypoints`
(the chaostoolkit action and probe the experiments name).
"""
