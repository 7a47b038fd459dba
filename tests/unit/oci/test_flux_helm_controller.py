"""Pure parts of helm-controller's place among the Flux controllers (fixtures/services/flux.py): its
args as a local process, its own reads, and the per-namespace release account it may impersonate."""

from __future__ import annotations

from pathlib import Path

from fixtures.clusters.binaries import GO_TOOLS
from fixtures.services import flux


def test_every_flux_controller_is_a_built_go_tool() -> None:
    assert set(flux.CONTROLLERS) <= set(GO_TOOLS)
    assert "helm-controller" in flux.CONTROLLERS
    assert flux.KINDS["HelmRelease"] == ("helm.toolkit.fluxcd.io", "v2", "helmreleases")


def test_helm_controller_args_enforce_impersonation_without_leader_election(tmp_path: Path) -> None:
    upstream = [
        "--watch-all-namespaces",
        "--log-level=info",
        "--log-encoding=json",
        "--enable-leader-election",
    ]
    args = flux.local_args("helm-controller", upstream, tmp_path, {"metrics": 7, "storage": 8})
    assert args == [
        "--watch-all-namespaces",
        "--log-level=info",
        "--log-encoding=json",
        "--enable-leader-election=false",
        "--metrics-addr=127.0.0.1:7",
        f"--default-service-account={flux.RELEASE_ACCOUNT}",
    ]
    assert not any(a.startswith("--no-cross-namespace-refs") for a in args)  # see the module docstring


def test_helm_controller_reads_only_configs_and_service_accounts() -> None:
    docs = flux._helm_reads("flux-system")
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    assert role["rules"] == [flux.HELM_READS]
    assert set(flux.HELM_READS["verbs"]) == {"get", "list", "watch"}
    assert "*" not in flux.HELM_READS["resources"]
    (binding,) = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "helm-controller", "namespace": "flux-system"}
    ]
    assert all(binding["roleRef"]["name"] != "cluster-admin" for binding in docs if "roleRef" in binding)


def test_release_account_is_namespace_admin_and_the_only_account_helm_controller_may_become() -> None:
    docs = flux.release_account_manifests("team-a")
    assert all(d["metadata"].get("namespace") == "team-a" for d in docs)
    assert all(d["kind"] not in {"ClusterRole", "ClusterRoleBinding"} for d in docs)
    (account,) = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert account["metadata"]["name"] == flux.RELEASE_ACCOUNT
    bindings = {d["roleRef"]["name"]: d for d in docs if d["kind"] == "RoleBinding"}
    admin = bindings["admin"]
    assert admin["roleRef"]["kind"] == "ClusterRole"  # the built-in role, bound in this namespace only
    assert admin["subjects"] == [
        {"kind": "ServiceAccount", "name": flux.RELEASE_ACCOUNT, "namespace": "team-a"}
    ]
    rules = [rule for d in docs if d["kind"] == "Role" for rule in d["rules"]]
    assert rules == [
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts"],
            "resourceNames": [flux.RELEASE_ACCOUNT],
            "verbs": ["impersonate"],
        }
    ]
    (impersonation,) = [b for name, b in bindings.items() if name != "admin"]
    assert impersonation["subjects"] == [
        {"kind": "ServiceAccount", "name": "helm-controller", "namespace": flux.FLUX_NS}
    ]
