"""OCI credentials end to end: a real registry, real Flux and the operator under test (issue 13)."""
