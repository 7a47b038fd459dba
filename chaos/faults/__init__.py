"""chaostoolkit actions, one module per experiment (``module: chaos.faults.<experiment>`` in the YAMLs).

Every action takes ``configuration`` (to find its :class:`chaos.context.ChaosContext`) and carries its
own deadline: chaoslib never enforces an activity ``timeout`` (tooling.md 1.1). Outputs are JSON-able
summaries with names, counts and timings; Secret data never leaves the cluster (comparisons are by
digest). How a fault is carried out on each provider lives in :mod:`chaos.faults.local` and
:mod:`chaos.faults.kind`, picked by :mod:`chaos.faults.variants`.
"""
