"""Reflector-compatible Secret/ConfigMap replication controller (list+watch on the official client)."""
