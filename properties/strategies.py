"""Hypothesis strategies shared by the property tests.

Small, named and composable. The GitOps-layout strategies (Property 7) build the frozen specs
from :mod:`operator_under_test.consolidate.testing`; they are pure data, nothing touches disk
until a test calls ``write_layout``.
"""

from __future__ import annotations

from hypothesis import strategies as st

from operator_under_test.consolidate.testing import (
    CredsSpec,
    DockerConfig,
    LayoutSpec,
    Registry,
    ServiceSpec,
)

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"

# --------------------------------------------------------------------------------------------
# Kubernetes names


def dns_labels(min_size: int = 1, max_size: int = 20) -> st.SearchStrategy[str]:
    """RFC 1123 labels: lowercase alphanumerics and '-', starting with a letter, ending alphanumeric."""
    assert 1 <= min_size <= max_size
    labels = st.builds(
        lambda first, mid, last: first + mid + last,
        st.sampled_from(_ALNUM[:26]),
        st.text(alphabet=_ALNUM + "-", min_size=max(0, min_size - 2), max_size=max_size - 2),
        st.sampled_from(_ALNUM),
    )
    if min_size == 1:
        return st.one_of(st.sampled_from(_ALNUM[:26]), labels)
    return labels


REALISTIC_SERVICE_NAMESPACES = (
    "cert-manager",
    "metallb-system",
    "kyverno",
    "istio-system",
    "observability",
    "postgres-operator",
    "rbac-system",
    "vmware-system-csi",
    "gateway-api",
    "headlamp",
    "keycloak",
)


def service_namespaces() -> st.SearchStrategy[str]:
    """Namespaces a service might live in (never ``flux-system``)."""
    return st.one_of(st.sampled_from(REALISTIC_SERVICE_NAMESPACES), dns_labels(3, 30)).filter(
        lambda n: n != "flux-system"
    )


# --------------------------------------------------------------------------------------------
# Credentials


def secret_tokens() -> st.SearchStrategy[str]:
    """Distinctive, high-entropy-looking secret values that are easy to scan for."""
    return st.text(alphabet=_ALNUM, min_size=12, max_size=24).map(lambda s: f"pw-{s}")


def registries() -> st.SearchStrategy[Registry]:
    hosts = st.sampled_from(
        ["ghcr.io", "docker.io", "quay.io", "registry.example.com:5000", "harbor.internal"]
    )
    return st.builds(Registry, host=hosts, username=dns_labels(3, 16), password=secret_tokens())


def docker_config_json() -> st.SearchStrategy[DockerConfig]:
    """A ``.dockerconfigjson`` payload with 1-3 registries (distinct hosts)."""
    return st.builds(
        DockerConfig,
        registries=st.lists(registries(), min_size=1, max_size=3, unique_by=lambda r: r.host).map(tuple),
        pretty=st.booleans(),
    )


_KEY_ORDERS = (
    ("apiVersion", "kind", "metadata", "type", "body"),
    ("apiVersion", "kind", "type", "metadata", "body"),
    ("kind", "apiVersion", "metadata", "body", "type"),
    ("metadata", "apiVersion", "kind", "body", "type"),
)


def creds_files(config: DockerConfig) -> st.SearchStrategy[CredsSpec]:
    """One ``oci-creds.yaml`` carrying ``config``: plain or sops-encrypted, data or stringData."""
    return st.builds(
        CredsSpec,
        config=st.just(config),
        form=st.sampled_from(["stringData", "data"]),
        encrypted=st.booleans(),
        key_order=st.sampled_from(_KEY_ORDERS),
        comment=st.booleans(),
    )


@st.composite
def different_docker_config(draw, config: DockerConfig) -> DockerConfig:
    """A payload that differs from ``config``: a changed password, an extra registry, or a fresh one."""
    how = draw(st.sampled_from(["password", "extra-registry", "fresh"]))
    first = config.registries[0]
    if how == "password":
        changed = Registry(first.host, first.username, first.password + "-rotated")
        return DockerConfig((changed, *config.registries[1:]), config.pretty)
    if how == "extra-registry":
        hosts = {r.host for r in config.registries}
        extra = Registry(f"mirror{len(hosts)}.example.net", "mirror", draw(secret_tokens()))
        return DockerConfig((*config.registries, extra), config.pretty)
    fresh = draw(docker_config_json())
    if fresh.as_dict() == config.as_dict():  # practically never; keep it total without filtering
        return DockerConfig((Registry(first.host, first.username, first.password + "-x"),), fresh.pretty)
    return fresh


# --------------------------------------------------------------------------------------------
# Layouts


@st.composite
def service_dirs(draw, namespace: str, config: DockerConfig | None) -> ServiceSpec:
    """A service directory in ``namespace``; ``config=None`` gives a service without credentials."""
    creds = draw(creds_files(config)) if config is not None else None
    others = draw(
        st.lists(
            st.sampled_from(["helmrelease", "values", "source", "configmap"]),
            unique=True,
            min_size=0 if creds else 1,
            max_size=3,
        )
    )
    prefix = draw(st.sampled_from(["", "services/", "apps/"]))
    decoy_file = None
    if creds is None:
        decoy_file = draw(st.none() | st.sampled_from(["registry-auth.yaml", "pull-secret.yaml"]))
    return ServiceSpec(
        path=prefix + namespace,
        namespace=namespace,
        creds=creds,
        others=tuple(others),
        creds_position=draw(st.integers(0, len(others))),
        creds_entry=draw(st.sampled_from(["oci-creds.yaml", "./oci-creds.yaml"])),
        comments=draw(st.booleans()),
        seq_offset=draw(st.sampled_from([0, 2])),
        has_kustomization=draw(st.booleans()) if creds else True,
        decoy_bak=draw(st.booleans()) if creds else False,
        decoy_secret_file=decoy_file,
    )


@st.composite
def gitops_layouts(
    draw, conflicting: bool = False, max_services: int = 5, min_creds_services: int = 0
) -> LayoutSpec:
    """A customer/cluster overlay with 0-N services (with and without credentials).

    ``min_creds_services`` forces that many services to carry credentials (so few examples still
    exercise consolidation).

    With ``conflicting=True`` at least two credential files (a service's or the pre-existing
    ``flux-system/oci-creds.yaml``) carry different credentials, so consolidation must refuse.
    """
    customer = draw(dns_labels(3, 12))
    cluster = draw(dns_labels(3, 12))
    config = draw(docker_config_json())
    min_size = max(min_creds_services, 2 if conflicting else 0)
    namespaces = draw(st.lists(service_namespaces(), unique=True, min_size=min_size, max_size=max_services))
    has_creds = [i < min_creds_services or draw(st.booleans()) for i in range(len(namespaces))]
    existing = None
    existing_ns: tuple[str, ...] = ()
    if draw(st.booleans()):
        existing = draw(creds_files(config))
        existing_ns = tuple(draw(st.lists(service_namespaces(), unique=True, min_size=1, max_size=3)))
    if conflicting:
        # Make sure two credential files exist, then give one of them different credentials.
        has_creds[0] = True
        if existing is None:
            has_creds[1] = True
    services = [
        draw(service_dirs(ns, config if with_creds else None))
        for ns, with_creds in zip(namespaces, has_creds, strict=True)
    ]
    if conflicting:
        other = draw(different_docker_config(config))
        svc = services[0]
        services[0] = ServiceSpec(
            **{**svc.__dict__, "creds": CredsSpec(**{**svc.creds.__dict__, "config": other})}
        )
    siblings = [c for c in draw(st.lists(dns_labels(3, 12), unique=True, max_size=2)) if c != cluster]
    return LayoutSpec(
        customer=customer,
        cluster=cluster,
        services=tuple(services),
        existing=existing,
        existing_namespaces=existing_ns,
        sibling_clusters=tuple(siblings),
        flux_comments=draw(st.booleans()),
    )
