"""ConfigMirror: a CRD-driven ConfigMap replicator with PostgreSQL persistence (seed 001)."""
