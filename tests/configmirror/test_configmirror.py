"""The ConfigMirror operator on a real API server and a real PostgreSQL: every behaviour of seed 001.

Each test has its own namespaces and ConfigMirrors; the operator and the database are shared by the
session. Cleanup goes through the finalizer, so each test also proves deletion leaves nothing.
"""

from __future__ import annotations

from typing import Any

import allure
import pytest
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster
from fixtures.clusters.workloads import endpoints, kubectl
from fixtures.core.encoding import b64
from fixtures.core.metrics import metric_value
from fixtures.core.waiting import assert_mapping_equal, eventually
from fixtures.plugins.configmirror import ConfigMirrorDeployment
from fixtures.systems.configmirror import SYSTEM, metrics_text
from fixtures.systems.dialects.configmirror import FINALIZER, OWNER_LABEL

from .conftest import SLO, MirrorEnv

pytestmark = [pytest.mark.usefixtures("configmirror"), allure.label("system", SYSTEM)]
SELECT = {"matchLabels": {"app": "myapp", "replicate": "true"}}
MATCHING = {"app": "myapp", "replicate": "true"}


def replica_views(env: MirrorEnv, mirror: dict[str, Any], targets: list[str]) -> dict[str, Any]:
    found = env.system.replicas(mirror, targets)
    return {f"{ns}/{name}": (cm.data or {}, cm.binary_data or {}) for (ns, name), cm in found.items()}


def expect_replicas(
    env: MirrorEnv, mirror: dict[str, Any], targets: list[str], expected: dict[str, tuple[dict, dict]]
) -> None:
    assert_mapping_equal(expected, replica_views(env, mirror, targets), "replica")


def expect_rows(env: MirrorEnv, mirror: dict[str, Any], expected: dict[tuple[str, str], dict]) -> None:
    rows = env.system.rows(mirror["metadata"]["namespace"], mirror["metadata"]["name"])
    assert_mapping_equal(
        {f"{ns}/{n}": d for (ns, n), d in expected.items()},
        {f"{ns}/{n}": d for (ns, n), d in rows.items()},
        "row",
    )


def condition(env: MirrorEnv, mirror: dict[str, Any], type_: str) -> dict[str, Any]:
    return env.system.condition(mirror["metadata"]["namespace"], mirror["metadata"]["name"], type_)


def expect_condition(env: MirrorEnv, mirror: dict[str, Any], type_: str, status: str, reason: str) -> dict:
    def check() -> dict:
        cond = condition(env, mirror, type_)
        assert (cond.get("status"), cond.get("reason")) == (status, reason), f"{type_}: {cond}"
        return cond

    return eventually(check, timeout=SLO, description=f"{type_}={status} ({reason})")


def expect_event(env: MirrorEnv, mirror: dict[str, Any], reason: str) -> None:
    def check() -> None:
        reasons = [e.reason for e in env.system.events(env.ops, mirror["metadata"]["name"])]
        assert reason in reasons, f"events on the ConfigMirror: {reasons}"

    eventually(check, timeout=SLO, description=f"a {reason} Event")


def test_replicates_data_and_binary_data_with_ownership_and_persists_rows(env: MirrorEnv) -> None:
    targets = [env.namespaces("dev"), env.namespaces("prod")]
    env.configmap("app-config", MATCHING, {"config.yaml": "key: value\n"}, {"blob": b64(b"\x00\xff")})
    env.configmap("unrelated", {"app": "myapp"}, {"k": "v"})
    mirror = env.mirror(targets, SELECT)

    expected = {
        f"{t}/app-config": ({"config.yaml": "key: value\n"}, {"blob": b64(b"\x00\xff")}) for t in targets
    }
    eventually(lambda: expect_replicas(env, mirror, targets, expected), timeout=SLO, description="replicas")
    eventually(
        lambda: expect_rows(
            env, mirror, {(t, "app-config"): {"config.yaml": "key: value\n"} for t in targets}
        ),
        timeout=SLO,
        description="rows",
    )
    ready = expect_condition(env, mirror, "Ready", "True", "Replicated")
    expect_condition(env, mirror, "DatabaseSynced", "True", "Synced")
    obj = env.system.get(env.ops, mirror["metadata"]["name"])
    assert obj is not None
    assert obj["status"]["replicatedCount"] == 2
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert ready["observedGeneration"] == obj["metadata"]["generation"]
    assert FINALIZER in obj["metadata"]["finalizers"]
    replica = env.cluster.core.read_namespaced_config_map("app-config", targets[0])
    assert replica.metadata.labels[OWNER_LABEL] == obj["metadata"]["uid"]
    assert replica.metadata.labels["app.kubernetes.io/managed-by"] == "configmirror-operator"
    assert "replicate" not in replica.metadata.labels, "selector labels are not copied (no chains)"
    table = kubectl(env.cluster, "get", "configmirrors", "-n", env.ops)
    header = table.splitlines()[0].split()
    assert header == ["NAME", "SOURCE", "TARGETS", "REPLICATED", "READY", "DATABASE", "AGE"], table
    assert "Synced" in table.splitlines()[1]


def test_source_update_reaches_every_replica_and_row(env: MirrorEnv) -> None:
    targets = [env.namespaces("a"), env.namespaces("b"), env.namespaces("c")]
    env.configmap("settings", MATCHING, {"level": "1"})
    mirror = env.mirror(targets, SELECT)
    eventually(
        lambda: expect_replicas(
            env, mirror, targets, {f"{t}/settings": ({"level": "1"}, {}) for t in targets}
        ),
        timeout=SLO,
        description="first replicas",
    )
    env.cluster.core.patch_namespaced_config_map(
        "settings", env.source, {"data": {"level": "2", "new": "x"}, "binaryData": {"b": b64(b"\x01")}}
    )
    want = {f"{t}/settings": ({"level": "2", "new": "x"}, {"b": b64(b"\x01")}) for t in targets}
    eventually(
        lambda: expect_replicas(env, mirror, targets, want), timeout=SLO, description="updated replicas"
    )
    eventually(
        lambda: expect_rows(env, mirror, {(t, "settings"): {"level": "2", "new": "x"} for t in targets}),
        timeout=SLO,
        description="updated rows",
    )


def test_deleted_or_unmatched_source_takes_its_replicas_and_rows_along(env: MirrorEnv) -> None:
    targets = [env.namespaces("a"), env.namespaces("b")]
    env.configmap("one", MATCHING, {"k": "1"})
    env.configmap("two", MATCHING, {"k": "2"})
    mirror = env.mirror(targets, SELECT)
    both = {f"{t}/{n}": ({"k": v}, {}) for t in targets for n, v in (("one", "1"), ("two", "2"))}
    eventually(lambda: expect_replicas(env, mirror, targets, both), timeout=SLO, description="replicas")

    env.cluster.core.delete_namespaced_config_map("one", env.source)
    env.cluster.core.patch_namespaced_config_map(
        "two", env.source, {"metadata": {"labels": {"replicate": "no"}}}
    )
    eventually(lambda: expect_replicas(env, mirror, targets, {}), timeout=SLO, description="no replicas")
    eventually(lambda: expect_rows(env, mirror, {}), timeout=SLO, description="no rows")
    expect_condition(env, mirror, "Ready", "True", "NoMatchingConfigMaps")


def test_target_removed_from_the_list_loses_its_replicas_only(env: MirrorEnv) -> None:
    keep, drop = env.namespaces("keep"), env.namespaces("drop")
    env.configmap("cfg", MATCHING, {"k": "v"})
    mirror = env.mirror([keep, drop], SELECT)
    everywhere = {f"{t}/cfg": ({"k": "v"}, {}) for t in (keep, drop)}
    eventually(
        lambda: expect_replicas(env, mirror, [keep, drop], everywhere), timeout=SLO, description="replicas"
    )
    env.system.patch_spec(env.ops, mirror["metadata"]["name"], {"targetNamespaces": [keep]})
    eventually(
        lambda: expect_replicas(env, mirror, [keep, drop], {f"{keep}/cfg": ({"k": "v"}, {})}),
        timeout=SLO,
        description="replica only in the kept namespace",
    )
    eventually(lambda: expect_rows(env, mirror, {(keep, "cfg"): {"k": "v"}}), timeout=SLO, description="rows")


def test_same_name_configmap_it_does_not_own_is_never_overwritten(env: MirrorEnv) -> None:
    mine, theirs = env.namespaces("mine"), env.namespaces("theirs")
    env.configmap("shared-name", {"user": "owned"}, {"precious": "data"}, namespace=theirs)
    env.configmap("shared-name", MATCHING, {"k": "v"})
    mirror = env.mirror([mine, theirs], SELECT)

    expect_condition(env, mirror, "Ready", "False", "ReplicaConflict")
    expect_event(env, mirror, "ReplicaConflict")
    eventually(
        lambda: expect_replicas(env, mirror, [mine, theirs], {f"{mine}/shared-name": ({"k": "v"}, {})}),
        timeout=SLO,
        description="the replica beside the conflict",
    )
    eventually(
        lambda: expect_rows(env, mirror, {(mine, "shared-name"): {"k": "v"}}), timeout=SLO, description="rows"
    )
    foreign = env.cluster.core.read_namespaced_config_map("shared-name", theirs)
    assert foreign.data == {"precious": "data"}
    assert OWNER_LABEL not in (foreign.metadata.labels or {})
    # The user removes their object: the replica takes its place.
    env.cluster.core.delete_namespaced_config_map("shared-name", theirs)
    both = {f"{t}/shared-name": ({"k": "v"}, {}) for t in (mine, theirs)}
    eventually(
        lambda: expect_replicas(env, mirror, [mine, theirs], both), timeout=SLO, description="replicas"
    )
    expect_condition(env, mirror, "Ready", "True", "Replicated")


def test_finalizer_removes_replicas_then_rows_then_itself(env: MirrorEnv) -> None:
    targets = [env.namespaces("a"), env.namespaces("b")]
    env.configmap("cfg", MATCHING, {"k": "v"})
    mirror = env.mirror(targets, SELECT)
    name = mirror["metadata"]["name"]
    eventually(
        lambda: expect_rows(env, mirror, {(t, "cfg"): {"k": "v"} for t in targets}),
        timeout=SLO,
        description="rows",
    )
    obj = env.system.get(env.ops, name)
    assert obj is not None
    assert obj["metadata"]["finalizers"] == [FINALIZER]

    env.system.delete(env.ops, name)
    env.system.wait_gone(env.ops, name, timeout=SLO)
    assert replica_views(env, mirror, targets) == {}
    assert env.system.rows(env.ops, name) == {}
    source = env.cluster.core.read_namespaced_config_map("cfg", env.source)
    assert source.data == {"k": "v"}, "the source is never touched"


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [
        ({"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["x"]}]}, "Unsupported value"),
        ({"matchExpressions": [{"key": "app", "operator": "In"}]}, "need at least one value"),
        ({"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]}, "take no values"),
        ({"matchLabels": {"bad key!": "x"}}, "valid label keys"),
        ({"matchLabels": {"app": "not a valid value"}}, "should match"),
    ],
)
def test_bad_selector_is_rejected_by_the_api_server(
    env: MirrorEnv, selector: dict[str, Any], fragment: str
) -> None:
    body = env.system.declare("bad-selector", env.ops, env.source, [env.namespaces("t")], selector)
    with pytest.raises(ApiException) as err:
        env.system.create(body)
    assert err.value.status == 422
    assert fragment in str(err.value.body)


def test_selector_matching_nothing_is_ready_with_a_reason_and_an_event(env: MirrorEnv) -> None:
    env.configmap("cfg", {"app": "other"}, {"k": "v"})
    mirror = env.mirror([env.namespaces("t")], {"matchLabels": {"app": "nothing-has-this"}})
    cond = expect_condition(env, mirror, "Ready", "True", "NoMatchingConfigMaps")
    assert env.source in cond["message"]
    expect_event(env, mirror, "NoMatchingConfigMaps")
    expect_condition(env, mirror, "DatabaseSynced", "True", "Synced")


def test_match_expressions_select_in_notin_exists_doesnotexist(env: MirrorEnv) -> None:
    target = env.namespaces("t")
    env.configmap("in-blue", {"color": "blue", "tier": "web"}, {"k": "1"})
    env.configmap("in-red-db", {"color": "red", "tier": "db"}, {"k": "2"})
    env.configmap("green", {"color": "green", "tier": "web"}, {"k": "3"})
    env.configmap("legacy", {"color": "blue", "tier": "web", "legacy": "yes"}, {"k": "4"})
    selector = {
        "matchExpressions": [
            {"key": "color", "operator": "In", "values": ["blue", "red"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},  # no source has "env"
            {"key": "tier", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ]
    }
    mirror = env.mirror([target], selector, database=False)
    want = {f"{target}/in-blue": ({"k": "1"}, {}), f"{target}/in-red-db": ({"k": "2"}, {})}
    eventually(
        lambda: expect_replicas(env, mirror, [target], want), timeout=SLO, description="selected replicas"
    )
    expect_condition(env, mirror, "DatabaseSynced", "False", "Disabled")


def test_missing_secret_keeps_replicating_and_rows_catch_up(env: MirrorEnv) -> None:
    target = env.namespaces("t")
    env.configmap("cfg", MATCHING, {"k": "v"})
    db = {"enabled": True, "secretRef": {"name": "not-there-yet", "namespace": env.ops}}
    mirror = env.mirror([target], SELECT, database=db)
    eventually(
        lambda: expect_replicas(env, mirror, [target], {f"{target}/cfg": ({"k": "v"}, {})}),
        timeout=SLO,
        description="replicas without a database",
    )
    cond = expect_condition(env, mirror, "DatabaseSynced", "False", "SecretNotFound")
    assert "not-there-yet" in cond["message"]
    expect_event(env, mirror, "SecretNotFound")
    expect_condition(env, mirror, "Ready", "True", "Replicated")
    env.system.credentials_secret(env.ops, "not-there-yet")
    expect_condition(env, mirror, "DatabaseSynced", "True", "Synced")
    expect_rows(env, mirror, {(target, "cfg"): {"k": "v"}})


def test_wrong_password_is_reported_without_rows_then_recovers(env: MirrorEnv) -> None:
    target = env.namespaces("t")
    env.configmap("cfg", MATCHING, {"k": "v"})
    env.system.credentials_secret(env.ops, "wrong-pw", password="definitely-wrong")  # noqa: S106 (wrong on purpose)
    db = {"enabled": True, "secretRef": {"name": "wrong-pw", "namespace": env.ops}}
    mirror = env.mirror([target], SELECT, database=db)
    cond = expect_condition(env, mirror, "DatabaseSynced", "False", "AuthenticationFailed")
    assert "definitely-wrong" not in cond["message"], "the password never appears in a condition"
    expect_event(env, mirror, "AuthenticationFailed")
    assert env.system.rows(env.ops, mirror["metadata"]["name"]) == {}
    eventually(
        lambda: expect_replicas(env, mirror, [target], {f"{target}/cfg": ({"k": "v"}, {})}),
        timeout=SLO,
        description="replicas despite the database",
    )
    pg = env.system.postgres
    assert pg is not None
    env.cluster.core.patch_namespaced_secret("wrong-pw", env.ops, {"stringData": {"password": pg.password}})
    expect_condition(env, mirror, "DatabaseSynced", "True", "Synced")
    expect_rows(env, mirror, {(target, "cfg"): {"k": "v"}})


def test_target_namespace_created_after_the_mirror(env: MirrorEnv) -> None:
    later = env.namespaces.name("later")
    env.configmap("cfg", MATCHING, {"k": "v"})
    mirror = env.mirror([later], SELECT)
    cond = expect_condition(env, mirror, "Ready", "False", "TargetNamespaceMissing")
    assert later in cond["message"]
    expect_event(env, mirror, "TargetNamespaceMissing")
    env.cluster.create_namespace(name=later)
    eventually(
        lambda: expect_replicas(env, mirror, [later], {f"{later}/cfg": ({"k": "v"}, {})}),
        timeout=SLO,
        description="the replica in the new namespace",
    )
    expect_condition(env, mirror, "Ready", "True", "Replicated")
    eventually(
        lambda: expect_rows(env, mirror, {(later, "cfg"): {"k": "v"}}), timeout=SLO, description="rows"
    )


def test_table_is_the_seeds_schema(env: MirrorEnv) -> None:
    env.mirror([env.namespaces("t")], SELECT)
    pg = env.system.postgres
    assert pg is not None

    def columns() -> list[tuple[str, str, str]]:
        with pg.connect() as conn:
            rows = conn.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_name = 'configmaps' ORDER BY ordinal_position"
            ).fetchall()
        assert rows, "no configmaps table yet"
        return rows

    cols = eventually(columns, timeout=SLO, description="the configmaps table")
    assert cols == [
        ("id", "integer", "NO"),
        ("name", "character varying", "NO"),
        ("namespace", "character varying", "NO"),
        ("data", "jsonb", "NO"),
        ("labels", "jsonb", "YES"),
        ("annotations", "jsonb", "YES"),
        ("configmirror_name", "character varying", "NO"),
        ("configmirror_namespace", "character varying", "NO"),
        ("created_at", "timestamp without time zone", "NO"),
        ("updated_at", "timestamp without time zone", "NO"),
    ]
    with pg.connect() as conn:
        (unique,) = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'configmaps'::regclass AND contype = 'u'"
        ).fetchone()
    assert unique == "UNIQUE (name, namespace, configmirror_namespace, configmirror_name)"


def test_probes_and_seed_metrics(cluster: Cluster, configmirror_deployment: ConfigMirrorDeployment) -> None:
    (replica,) = endpoints(cluster, configmirror_deployment.operator)
    assert replica.get("/healthz")[0] == 200
    assert replica.get("/readyz")[0] == 200
    text = metrics_text(replica)
    leader = [line for line in text.splitlines() if line.startswith("leader_election_master_status{")]
    assert leader == ['leader_election_master_status{name="configmirror-operator"} 1.0'], leader
    assert metric_value(text, "rest_client_requests_total", method="GET") > 0
    assert "process_resident_memory_bytes" in text
    assert replica.get("/metrics")[0] == 404, "metrics live on their own port, as in the seed"


def test_replicas_of_deleted_namespace_do_not_block_deletion(env: MirrorEnv) -> None:
    doomed = env.namespaces("doomed")
    env.configmap("cfg", MATCHING, {"k": "v"})
    mirror = env.mirror([doomed], SELECT)
    eventually(
        lambda: expect_rows(env, mirror, {(doomed, "cfg"): {"k": "v"}}), timeout=SLO, description="rows"
    )
    env.cluster.delete_namespace(doomed)

    def gone() -> None:
        try:
            env.cluster.core.read_namespace(doomed)
        except ApiException as exc:
            assert exc.status == 404
            return
        raise AssertionError(f"namespace {doomed} still present")

    eventually(gone, timeout=60, description="the target namespace to go")
    expect_condition(env, mirror, "Ready", "False", "TargetNamespaceMissing")
    eventually(
        lambda: expect_rows(env, mirror, {}), timeout=SLO, description="rows of the gone replicas removed"
    )
