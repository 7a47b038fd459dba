"""Pure parts of the OCI end-to-end harness: htpasswd entries, registry config, Flux manifests
adapted to local processes, Ready-condition reading, latency percentiles, the git server's CGI glue."""

from __future__ import annotations

import io
from pathlib import Path

import bcrypt

from fixtures.core.stats import percentile
from fixtures.services import flux
from fixtures.services.gitserver import _read_chunked
from fixtures.services.oci_registry import htpasswd_line, registry_config
from oci.path import latency_summary


def test_htpasswd_line_is_a_bcrypt_entry_that_checks_the_password() -> None:
    user, digest = htpasswd_line("bot", "s3cret").rstrip("\n").split(":", 1)
    assert user == "bot"
    assert digest.startswith("$2b$")
    assert bcrypt.checkpw(b"s3cret", digest.encode())
    assert not bcrypt.checkpw(b"wrong", digest.encode())


def test_registry_config_serves_tls_on_loopback_with_htpasswd(tmp_path: Path) -> None:
    cfg = registry_config(tmp_path, 5123, tmp_path / "c.crt", tmp_path / "c.key", tmp_path / "htpasswd")
    assert cfg["http"]["addr"] == "127.0.0.1:5123"
    assert cfg["http"]["tls"] == {"certificate": str(tmp_path / "c.crt"), "key": str(tmp_path / "c.key")}
    assert cfg["auth"] == {"htpasswd": {"realm": "replicheck", "path": str(tmp_path / "htpasswd")}}
    assert cfg["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "data")


def test_local_args_drop_leader_election_and_advertise_loopback_storage(tmp_path: Path) -> None:
    upstream = [
        "--watch-all-namespaces",
        "--enable-leader-election",
        "--storage-path=/data",
        "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.",
    ]
    args = flux.local_args("source-controller", upstream, tmp_path, {"metrics": 1, "storage": 2})
    assert "--watch-all-namespaces" in args
    assert "--enable-leader-election" not in args
    assert "--enable-leader-election=false" in args
    assert f"--storage-path={tmp_path / 'storage'}" in args
    assert "--storage-addr=127.0.0.1:2" in args
    assert "--storage-adv-addr=127.0.0.1:2" in args
    assert not any("svc.cluster.local" in a for a in args)
    kc = flux.local_args("kustomize-controller", ["--enable-leader-election"], tmp_path, {"metrics": 3})
    assert kc == ["--enable-leader-election=false", "--metrics-addr=127.0.0.1:3"]


def test_applier_rbac_grants_impersonation_of_one_service_account_only() -> None:
    docs = flux._applier_rbac("flux-system")
    roles = [d for d in docs if d["kind"] == "Role"]
    impersonate = [r for r in roles if any("impersonate" in rule["verbs"] for rule in r["rules"])]
    assert len(impersonate) == 1
    (rule,) = impersonate[0]["rules"]
    assert rule["resourceNames"] == [flux.APPLIER]
    assert all(d["kind"] not in {"ClusterRole", "ClusterRoleBinding"} for d in docs)


def _obj(generation: int, observed: int, status: str = "True") -> dict:
    return {
        "kind": "OCIRepository",
        "metadata": {"namespace": "ns", "name": "chart", "generation": generation},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": status,
                    "reason": "Succeeded",
                    "message": "ok",
                    "observedGeneration": observed,
                }
            ]
        },
    }


def test_ready_condition_ignores_a_condition_of_an_older_generation() -> None:
    assert flux.ready_condition(_obj(2, 2))["status"] == "True"
    assert flux.ready_condition(_obj(3, 2)) == {}
    assert flux.ready_condition(None) == {}
    assert flux.describe(_obj(1, 1, "False")) == "OCIRepository ns/chart Ready=False Succeeded: ok"
    assert flux.describe(None) == "absent"
    multi = _obj(1, 1, "False")
    multi["status"]["conditions"][0]["message"] = "decryption failed:\n\nGroup 0: FAILED\n  age1x: FAILED"
    assert flux.describe(multi) == (
        "OCIRepository ns/chart Ready=False Succeeded: decryption failed: Group 0: FAILED age1x: FAILED"
    )


def test_latency_figures_use_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([4.0], 99) == 4.0
    assert latency_summary([1.0, 2.0, 3.0, 4.0]) == {"p50": 2.0, "p95": 4.0, "p99": 4.0, "n": 4}


def test_chunked_request_bodies_are_reassembled() -> None:
    body = io.BytesIO(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
    assert _read_chunked(body) == b"hello world"


def test_runbook_reads_credentials_from_username_password_or_auth() -> None:
    import base64
    import json

    import pytest

    from chaos.runbooks.checks import credentials_for

    host = "127.0.0.1:5000"
    plain = json.dumps({"auths": {host: {"username": "u", "password": "p"}}})
    assert credentials_for(plain, host) == ("u", "p")
    packed = json.dumps({"auths": {host: {"auth": base64.b64encode(b"u2:p:2").decode()}}})
    assert credentials_for(packed, host) == ("u2", "p:2")
    for text, words in [
        ("{", "not JSON"),
        ("[]", '"auths"'),
        (json.dumps({"auths": {"ghcr.io": {"username": "u", "password": "p"}}}), "no entry for registry"),
        (json.dumps({"auths": {host: {"auth": "not base64!"}}}), "not base64"),
        (json.dumps({"auths": {host: {"username": "u"}}}), "no username/password"),
    ]:
        with pytest.raises(ValueError, match=words):
            credentials_for(text, host)


def test_realize_swaps_credentials_and_namespaces_but_keeps_the_layout_shape() -> None:
    from properties.test_property7_oci_authentication import realize
    from testing.consolidate import (
        CredsSpec,
        DockerConfig,
        LayoutSpec,
        Registry,
        ServiceSpec,
    )

    fake = DockerConfig((Registry("ghcr.io", "bot", "pw-generated"),))
    real = DockerConfig((Registry("127.0.0.1:5000", "replicheck", "pw-real"),))
    spec = LayoutSpec(
        "acme",
        "c1",
        (
            ServiceSpec("apps/a", "a", CredsSpec(fake, form="data", encrypted=True), comments=True),
            ServiceSpec("b", "b", None),
        ),
        existing=CredsSpec(fake),
        existing_namespaces=("c",),
    )
    out = realize(spec, real, {"a": "rc1-a", "b": "rc1-b", "c": "rc1-c"})
    assert [s.namespace for s in out.services] == ["rc1-a", "rc1-b"]
    assert [s.path for s in out.services] == ["apps/a", "b"]
    assert out.services[0].creds == CredsSpec(real, form="data", encrypted=True)
    assert out.services[0].comments is True
    assert out.services[1].creds is None
    assert out.existing == CredsSpec(real)
    assert out.expected_namespaces() == ["rc1-a", "rc1-c"]
    assert "pw-generated" not in out.secrets()


def test_a_plaintext_credentials_file_is_refused_with_one_line(tmp_path: Path) -> None:
    import pytest

    from fixtures.core.errors import SetupError
    from oci.path import assert_encrypted

    creds = tmp_path / "acme" / "flux-system" / "oci-creds.yaml"
    creds.parent.mkdir(parents=True)
    creds.write_text("apiVersion: v1\nkind: Secret\nstringData:\n  .dockerconfigjson: '{}'\n")
    with pytest.raises(SetupError) as refused:
        assert_encrypted(creds, tmp_path)
    fix = "run `sops -e -i acme/flux-system/oci-creds.yaml` before committing"
    assert str(refused.value) == f"flux-system/oci-creds.yaml: not sops-encrypted; {fix}"
    creds.write_text(
        "apiVersion: v1\nkind: Secret\ndata:\n  x: ENC[AES256_GCM,data:...]\n"
        "sops:\n  mac: ENC[AES256_GCM,data:...]\n  version: 3.11.0\n"
    )
    assert_encrypted(creds, tmp_path)
