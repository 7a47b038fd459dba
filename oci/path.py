"""The seeds' GitOps path, run for real: customer repository → `consolidate-oci-creds` (sops + age)
→ git server → GitRepository + Kustomization (sops decryption with the age key Secret) →
flux-system/oci-creds → copies by the operator under test → an OCIRepository per service namespace
that pulls a chart pushed with `helm push`. Ready=True on it means the registry accepted the pull.

Flux intervals (they bound how fast a change travels; stated in the report): GitRepository,
Kustomization and OCIRepository all every `INTERVAL` seconds.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.admission import create_refused
from fixtures.clusters.binaries import find_tool
from fixtures.core.errors import SetupError
from fixtures.core.stats import summary
from fixtures.core.waiting import eventually
from fixtures.services import flux
from fixtures.services.flux import APPLIER, FLUX_NS
from oci.stack import OciStack
from operator_under_test.consolidate import load_secret, tools
from testing.consolidate import (
    CredsSpec,
    DockerConfig,
    LayoutSpec,
    Registry,
    ServiceSpec,
    age_key_env,
    generate_age_key,
    run_cli,
    write_layout,
)

INTERVAL = 2  # seconds: GitRepository, Kustomization and OCIRepository
CHART = "service-chart"
REPO = "fleet"
CREDS = "oci-creds"  # the Secret name every service references (seed 000)
CUSTOMER, CLUSTER = "acme", "e2e"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
#: the test service's Deployment (a chart with an image, issue 25): one Pod on the host network (the
#: local nodes have no Pod network) that pulls its image with the namespace's `oci-creds` at every
#: start (`Always`), and is replaced whenever the chart version changes (the annotation), so every
#: new chart version also proves a new image pull with the credentials of that moment
SERVICE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app.kubernetes.io/instance: "{{ .Release.Name }}"}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/instance: "{{ .Release.Name }}"}
  template:
    metadata:
      labels: {app.kubernetes.io/instance: "{{ .Release.Name }}"}
      annotations: {replicheck.io/chart-version: "{{ .Chart.Version }}"}
    spec:
      hostNetwork: true
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 2
      imagePullSecrets: [{name: "{{ .Values.pullSecret }}"}]
      containers:
        - name: service
          image: "{{ .Values.image }}"
          imagePullPolicy: Always
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""
AUTH_FAILURE_WORDS = ("401", "unauthorized", "authentication required")


def helm(args: list[str], home: Path, stdin: str | None = None) -> str:
    """The real helm CLI with its config, cache and registry logins kept in `home` (0700)."""
    env = {
        **os.environ,
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_REGISTRY_CONFIG": str(home / "registry.json"),
    }
    proc = subprocess.run(
        [str(find_tool("helm")), *args], input=stdin, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SetupError(f"helm {args[0]} failed: {first}")
    return proc.stdout + proc.stderr


def dockerconfig(host: str, username: str, password: str) -> DockerConfig:
    return DockerConfig((Registry(host, username, password),))


@dataclass
class GitOpsPath:
    """One customer repository wired through Flux into the stack's cluster."""

    stack: OciStack
    work: Path
    customer: str = CUSTOMER
    cluster_name: str = CLUSTER
    chart_version: int = 0
    #: with an image (the nodes' stack, oci/releases.py), every chart version also runs a Pod of it
    with_deployment: bool = False
    key: Path = field(init=False)
    pub: str = field(init=False)

    def __post_init__(self) -> None:
        self.work.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.key, self.pub = generate_age_key(self.work / "age")

    @property
    def repo(self) -> Path:
        return self.work / "repo"

    @property
    def cluster(self):
        assert self.stack.cluster is not None
        return self.stack.cluster

    @property
    def registry(self):
        assert self.stack.registry is not None
        return self.stack.registry

    @property
    def overlay(self) -> Path:
        return self.repo / self.customer / "applications" / "overlays" / self.cluster_name

    @property
    def creds_file(self) -> Path:
        return self.overlay / "flux-system" / "oci-creds.yaml"

    @property
    def chart_url(self) -> str:
        return f"oci://{self.registry.host}/charts/{CHART}"

    # -- the chart ---------------------------------------------------------------------------
    def push_chart(self) -> str:
        """Package and `helm push` a new chart version with the registry's current credentials."""
        self.chart_version += 1
        version = f"0.1.{self.chart_version}"
        src = self.work / "chart" / CHART
        (src / "templates").mkdir(parents=True, exist_ok=True)
        (src / "Chart.yaml").write_text(
            yaml.safe_dump({"apiVersion": "v2", "name": CHART, "version": version, "type": "application"})
        )
        (src / "templates" / "configmap.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
            f'data:\n  version: "{version}"\n'
        )
        if self.with_deployment:
            (src / "templates" / "deployment.yaml").write_text(SERVICE_DEPLOYMENT)
        self.push_package(src, version)
        return version

    def push_package(self, chart_dir: Path, version: str) -> str:
        """`helm package` a chart directory at `version` and `helm push` it to the registry's
        ``charts/`` repository with its current credentials; returns the chart's OCI URL."""
        name = yaml.safe_load((chart_dir / "Chart.yaml").read_text())["name"]
        home = self.work / "helm"
        home.mkdir(mode=0o700, exist_ok=True)
        ca = str(self.registry.ca_cert)
        helm(
            [
                "registry",
                "login",
                self.registry.host,
                "--username",
                self.registry.username,
                "--password-stdin",
                "--ca-file",
                ca,
            ],
            home,
            stdin=self.registry.password,
        )
        out = self.work / "packages"
        out.mkdir(exist_ok=True)
        helm(["package", str(chart_dir), "--version", version, "--destination", str(out)], home)
        helm(
            [
                "push",
                str(out / f"{name}-{version}.tgz"),
                f"oci://{self.registry.host}/charts",
                "--ca-file",
                ca,
            ],
            home,
        )
        return f"oci://{self.registry.host}/charts/{name}"

    # -- the customer repository ---------------------------------------------------------------
    def credentials(self, password: str | None = None) -> DockerConfig:
        """The registry's credentials as a .dockerconfigjson payload."""
        return dockerconfig(self.registry.host, self.registry.username, password or self.registry.password)

    def simple_layout(self, services: list[str], without_creds: list[str] = ()) -> LayoutSpec:
        """Services with the registry's credentials (alternating stringData / sops-encrypted data),
        plus services without credentials."""
        config = self.credentials()
        specs = [
            ServiceSpec(
                f"svc-{i}",
                ns,
                CredsSpec(config, form="data" if i % 2 else "stringData", encrypted=i % 2 == 1),
            )
            for i, ns in enumerate(services)
        ]
        specs += [ServiceSpec(f"plain-{i}", ns, None) for i, ns in enumerate(without_creds)]
        return LayoutSpec(self.customer, self.cluster_name, tuple(specs))

    def write_repository(self, spec: LayoutSpec) -> None:
        """Replace the repository's files by `spec`'s layout (Property 7's writer), then run
        `consolidate-oci-creds` on it as a customer would before committing."""
        tools.ensure_tools_on_path()
        self.customer, self.cluster_name = spec.customer, spec.cluster
        if self.repo.exists():
            for child in self.repo.iterdir():
                if child.is_dir() and child.name != ".git":
                    shutil.rmtree(child)
                elif child.is_file():
                    child.unlink()
        write_layout(self.repo, spec, self.pub)
        with age_key_env(self.key):
            code, _, err = run_cli([spec.customer, spec.cluster, "--repo", str(self.repo)])
        if code != 0:
            raise SetupError(f"consolidate-oci-creds failed: {err.strip()}")

    def write_credentials(self, password: str, username: str | None = None) -> None:
        """Rotate in the repository: decrypt the consolidated file, swap the credentials, re-encrypt."""
        with age_key_env(self.key):
            manifest = load_secret(self.creds_file)
        config = dockerconfig(self.registry.host, username or self.registry.username, password).text()
        manifest.pop("data", None)
        manifest.pop("stringData", None)
        manifest["stringData"] = {".dockerconfigjson": config}
        text = yaml.safe_dump(manifest, sort_keys=False)
        self.creds_file.write_text(tools.sops_encrypt(text, self.creds_file, self.repo / ".sops.yaml"))

    def commit(self, message: str) -> str:
        """Commit and push, refusing a credentials file that is not sops-encrypted."""
        assert self.stack.git is not None
        if self.creds_file.exists():
            assert_encrypted(self.creds_file, self.repo)
        return self.stack.git.push(self.repo, REPO, message)

    # -- Flux objects ---------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """Age key Secret, GitRepository and Kustomization in flux-system (what `flux bootstrap`
        plus the seed's SOPS how-to leave behind)."""
        assert self.stack.git is not None
        self.stack.git.create_repo(REPO)
        self.commit("consolidated OCI credentials")
        self.bootstrap_objects()

    def bootstrap_objects(self) -> None:
        """The age key Secret, the GitRepository and the Kustomization."""
        assert self.stack.git is not None
        core = self.cluster.core
        secret = client.V1Secret(
            metadata=client.V1ObjectMeta(name="sops-age"),
            data={"age.agekey": base64.b64encode(self.key.read_bytes()).decode()},
        )
        _create_or_replace(core, FLUX_NS, secret)
        flux.apply(
            self.cluster,
            {
                "kind": "GitRepository",
                "metadata": {"name": REPO, "namespace": FLUX_NS},
                "spec": {
                    "interval": f"{INTERVAL}s",
                    "url": self.stack.git.url(REPO),
                    "ref": {"branch": "main"},
                },
            },
        )
        self.apply_kustomization()

    def apply_kustomization(self) -> None:
        """The Kustomization for the current overlay's flux-system directory (create or update)."""
        flux.apply(
            self.cluster,
            {
                "kind": "Kustomization",
                "metadata": {"name": "oci-creds", "namespace": FLUX_NS},
                "spec": {
                    "interval": f"{INTERVAL}s",
                    "retryInterval": f"{INTERVAL}s",
                    "path": f"./{self.customer}/applications/overlays/{self.cluster_name}/flux-system",
                    "prune": True,
                    "sourceRef": {"kind": "GitRepository", "name": REPO},
                    "serviceAccountName": APPLIER,
                    "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}},
                    "timeout": "30s",
                },
            },
        )

    def add_source(
        self, namespace: str, pull_secret: str = CREDS, chart: str = CHART, ref: dict | None = None
    ) -> None:
        """What a service's HelmRelease pulls through: the registry CA and an OCIRepository named
        after the chart (``charts/<chart>`` in the registry; by default its newest 0.1+ version)."""
        ca = client.V1Secret(
            metadata=client.V1ObjectMeta(name="registry-ca"),
            data={"ca.crt": base64.b64encode(self.registry.ca_cert.read_bytes()).decode()},
        )
        _create_or_replace(self.cluster.core, namespace, ca)
        flux.apply(
            self.cluster,
            {
                "kind": "OCIRepository",
                "metadata": {"name": chart, "namespace": namespace},
                "spec": {
                    "interval": f"{INTERVAL}s",
                    "timeout": "10s",
                    "url": f"oci://{self.registry.host}/charts/{chart}",
                    "ref": ref or {"semver": ">=0.1.0"},
                    "secretRef": {"name": pull_secret},
                    "certSecretRef": {"name": "registry-ca"},
                    "layerSelector": {"mediaType": HELM_LAYER, "operation": "copy"},
                },
            },
        )

    def create_wrong_credentials(self, namespace: str, name: str) -> str:
        """A ``kubernetes.io/dockerconfigjson`` Secret ``name`` in ``namespace`` with the registry's
        user and a wrong password (the negative controls); returns its name."""
        bad = dockerconfig(self.registry.host, self.registry.username, "not-the-password")
        secret = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name),
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": bad.text()},
        )
        self.cluster.core.create_namespaced_secret(namespace, secret)
        return name

    # -- observations -----------------------------------------------------------------------------
    def source(self, namespace: str) -> dict | None:
        return flux.get(self.cluster, "OCIRepository", namespace, CHART)

    def authenticated(self, namespace: str, version: str) -> bool:
        """Ready=True with the artifact of `version`: a pull the registry accepted after it existed."""
        obj = self.source(namespace)
        cond = flux.ready_condition(obj)
        revision = ((obj or {}).get("status") or {}).get("artifact", {}).get("revision", "")
        return cond.get("status") == "True" and revision.startswith(f"{version}@")

    def bring_up(self, services: list[str]) -> str:
        """Setup shared by the tests: a chart pushed, the repository committed for `services`,
        Flux bootstrapped and every service pulling; returns the chart version pulled."""
        version = self.push_chart()
        self.write_repository(self.simple_layout(services))
        self.bootstrap()
        for ns in services:
            self.add_source(ns)
        self.wait_authenticated(services, version, timeout=60 + 3 * INTERVAL, since=time.monotonic())
        return version

    def wait_authenticated(
        self, namespaces: list[str], version: str, timeout: float, since: float
    ) -> dict[str, float]:
        """Poll until every namespace pulled `version`; return seconds from `since` per namespace."""
        seen: dict[str, float] = {}

        def all_pulled() -> dict[str, float]:
            for ns in namespaces:
                if ns not in seen and self.authenticated(ns, version):
                    seen[ns] = time.monotonic() - since
            missing = [ns for ns in namespaces if ns not in seen]
            assert not missing, (
                "not yet authenticated with chart "
                + version
                + ":\n"
                + "\n".join(flux.describe(self.source(ns)) for ns in missing)
            )
            return dict(seen)

        return eventually(all_pulled, timeout=timeout, interval=0.2, description=f"pulls of chart {version}")

    def copy_diagnosis(self, namespace: str) -> str:
        """One line for a service namespace whose pull fails: Flux's own verdict on its
        OCIRepository, then whether its copy of flux-system/oci-creds exists and, if not, why the
        operator under test cannot write it there (a dry-run create as its ServiceAccount)."""
        head = f"{namespace}: {flux.describe(self.source(namespace))}"
        if self.copy_config(namespace) is not None:
            return f"{head}; Secret {namespace}/{CREDS} is present"
        operator = self.stack.operator
        user = f"system:serviceaccount:{operator.namespace}:{operator.service_account}" if operator else None
        refused = create_refused(self.cluster.api, namespace, user)
        why = f"refused: {refused}" if refused else "allowed (not copied yet)"
        return (
            f"{head}; Secret {namespace}/{CREDS} (copy of {FLUX_NS}/{CREDS}) is missing: "
            f"creating Secrets in {namespace} as {user or 'the test client'} is {why}"
        )

    def kustomization(self) -> dict | None:
        return flux.get(self.cluster, "Kustomization", FLUX_NS, "oci-creds")

    def flux_secret_names(self) -> list[str]:
        return [s.metadata.name for s in self.cluster.core.list_namespaced_secret(FLUX_NS).items]

    def holders(self, namespaces: list[str]) -> list[str]:
        """Which of `namespaces` hold an `oci-creds` Secret."""
        items = self.cluster.core.list_secret_for_all_namespaces(
            field_selector=f"metadata.name={CREDS}"
        ).items
        return sorted({s.metadata.namespace for s in items} & set(namespaces))

    def copy_config(self, namespace: str) -> dict | None:
        """The parsed .dockerconfigjson of the copy in `namespace` (None if absent)."""
        try:
            secret = self.cluster.core.read_namespaced_secret("oci-creds", namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return json.loads(base64.b64decode((secret.data or {}).get(".dockerconfigjson", "")) or b"{}")


def assert_encrypted(path: Path, repo: Path) -> None:
    """One line naming the file and the fix when a credentials file would be committed in plaintext."""
    rel = path.relative_to(repo).as_posix()
    doc = yaml.safe_load(path.read_text())
    if not tools.is_sops_document(doc):
        overlay_rel = "/".join(rel.split("/")[-2:])
        raise SetupError(f"{overlay_rel}: not sops-encrypted; run `sops -e -i {rel}` before committing")


def _create_or_replace(core: client.CoreV1Api, namespace: str, secret: client.V1Secret) -> None:
    try:
        core.create_namespaced_secret(namespace, secret)
    except ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_secret(secret.metadata.name, namespace, secret)


def latency_summary(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 (fixtures.core.stats, nearest rank; None without samples) in ms precision, and n."""
    rounded = {k: None if v is None else round(v, 3) for k, v in summary(values).items()}
    return rounded | {"n": len(values)}
