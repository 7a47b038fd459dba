"""Contract traceability: every promise the certificate rests on, and the tests that fail when it
is broken. ``python -m reports.traceability`` writes reports/traceability.{md,json}.

Items come from ../shared/reference/reflector-semantics.md (§1 rules R*, hazards H*, scenarios
C1-C21, chaos/scale K1-K8, the user-reported bugs of §2 as B1-B16) and from
operator_under_test/README.md (behaviour OB*, deliberate deviations OD*, flags OF-*, metrics OM-*).
Each item lists *references*:

* the item's own id, and any label (``C7``, ``C9.allowed``, ``#485``): every test carrying it, through
  ``@pytest.mark.contract(...)`` or the suites' ``@behaviour`` / ``@reflector_issue`` decorators;
* a test id (``path.py::test_name``, or just ``path.py``): those tests, by node id prefix.

An item is *covered* when its references resolve to at least one collected test; an item that
cannot be tested here says why (``untestable``). tests/unit/reports/test_traceability.py fails when
an item has neither, or when a reference names nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fixtures.core.paths import REPO_ROOT, REPORTS_DIR

REPORTS = REPORTS_DIR
COLLECT_PATHS = ("tests", "suites", "properties", "chaos")


@dataclass(frozen=True)
class Item:
    id: str
    source: str  # reflector-semantics.md §… | operator README: …
    text: str
    refs: tuple[str, ...] = ()
    untestable: str = ""  # why no test here can fail when it is violated


RS, RD = "reflector-semantics.md", "operator README"
U = "tests/unit/operator/"
PLAN, RUNTIME, ANN = (
    U + "test_replicator_planning.py",
    U + "test_replicator_runtime.py",
    U + "test_replicator_annotations.py",
)
OPS = "tests/operator/test_replication.py"
GAPS = "suites/conformance/test_operator_gaps.py"
KILL, APISERVER, RBAC = (
    "chaos/test_kill_operator.py",
    "chaos/test_apiserver_restart.py",
    "chaos/test_rbac_revoked.py",
)
LEADER, POISON, CHURN = (
    "chaos/test_leader_failover.py",
    "chaos/test_poison_source.py",
    "chaos/test_namespace_churn.py",
)
PACKAGING = "tests/operator/test_packaging.py"
BENCH = (
    "not a test: `make bench` measures it (replicheck/bench/operator.py), targets are not timed unit tests"
)

ITEMS: tuple[Item, ...] = (
    # --- §1.2 parsing and matching rules ------------------------------------------------------------
    Item("R1", RS + " §1.2", "booleans: trimmed, case-insensitive true; yes/1/other = false", ("C6", ANN)),
    Item("R2", RS + " §1.2", "name lists: split on ',', entries trimmed, empty entries dropped", ("C3", ANN)),
    Item(
        "R3",
        RS + " §1.2",
        "entries are regexes matching the whole name; globs are not globs",
        ("C4", "#430", ANN),
    ),
    Item(
        "R4",
        RS + " §1.2",
        "an invalid regex ('*') is an error of that source only",
        ("C4", "C4.redos", POISON),
    ),
    Item("R5", RS + " §1.2", "missing or empty list = all namespaces", ("C5", ANN)),
    Item(
        "R6", RS + " §1.2", "label selectors ORed with the name lists (Reflector 2026)", ("C2.selector", ANN)
    ),
    Item(
        "R7",
        RS + " §1.2",
        "auto target set = allowed(ns) AND auto-enabled AND auto(ns)",
        ("C2", "C9.auto", ANN),
    ),
    # --- §1.3 lifecycle -----------------------------------------------------------------------------
    Item(
        "R8", RS + " §1.3", "source created: copies in allowed∩auto, never in its own namespace", ("C2", "C1")
    ),
    Item("R9", RS + " §1.3", "source data updated: all copies patched, removed keys removed", ("C7",)),
    Item("R10", RS + " §1.3", "source deleted: auto copies deleted, manual mirrors kept", ("C11", "#485")),
    Item("R11", RS + " §1.3", "namespace created later: copy created", ("C8", "#150")),
    Item("R12", RS + " §1.3", "namespace added to / removed from the allowed list", ("C9",)),
    Item("R13", RS + " §1.3", "namespace removed from the auto list only: copy deleted", ("C9.auto",)),
    Item(
        "R14",
        RS + " §1.3",
        "reflection-allowed turned off: auto copies deleted, manual kept",
        ("C9.allowed",),
    ),
    Item("R15", RS + " §1.3", "reflection-auto-enabled turned off / on", ("C10", "C10.on")),
    Item("R16", RS + " §1.3", "copy deleted by hand", ("C12", "C12.manual")),
    Item("R17", RS + " §1.3", "copy data edited by hand (drift)", ("C13", "C13.manual")),
    Item("R18", RS + " §1.3", "pre-existing unrelated same-name object: skipped", ("C14", "C14.freed")),
    Item(
        "R19", RS + " §1.3", "same-name object reflecting the source outside the auto set (#295)", ("#295",)
    ),
    Item("R20", RS + " §1.3", "source namespace in its own list, list narrowed (#672)", ("C16", "#672")),
    Item(
        "R21",
        RS + " §1.3",
        "Secret type taken at creation; type change = delete + recreate",
        ("C17", "K1.stopped"),
    ),
    Item("R22", RS + " §1.3", "copies: 4 bookkeeping annotations, no labels", ("C18",)),
    Item(
        "R23",
        RS + " §1.3",
        "ConfigMaps: same rules, data and binaryData",
        ("C19", "C19.binary", "C19.one-write"),
    ),
    Item("R24", RS + " §1.3", "Helm release Secrets ignored", ("C21",)),
    Item("R25", RS + " §1.3", "excluded namespaces: sources ignored, copies still land", ("C20",)),
    # --- §1.4 runtime -------------------------------------------------------------------------------
    Item(
        "R26",
        RS + " §1.4",
        "watch sessions end and restart; a re-list replays everything",
        ("K2.gap", "#246", "#150.reconnect"),
    ),
    Item(
        "R27",
        RS + " §1.4",
        "a namespace watcher reconnect must not lose new namespaces (#645)",
        ("#150.reconnect",),
    ),
    Item(
        "R28", RS + " §1.4", "several replicas: same end state (Reflector has no leader election)", (LEADER,)
    ),
    Item(
        "R29",
        RS + " §1.4",
        "cron mode (CronJob every 15 min)",
        untestable="Reflector Helm chart mode; the bundled operator has no cron mode (K8)",
    ),
    Item(
        "R30",
        RS + " §1.4",
        "RBAC: cluster-wide watches; namespace-scoped RBAC gives Forbidden",
        (RBAC, PACKAGING),
    ),
    Item("R31", RS + " §1.4", "health: liveness must not mask a dead watcher", (APISERVER, RUNTIME)),
    Item(
        "R32",
        RS + " §1.4",
        "metrics: Reflector has none (Serilog only)",
        untestable="a fact about Reflector, nothing to violate; the operator's metrics are OM-*",
    ),
    # --- §1.5 hazards -------------------------------------------------------------------------------
    Item("H1", RS + " §1.5", "poison annotation must not stall other sources", ("C4", "C4.redos", POISON)),
    Item(
        "H2",
        RS + " §1.5",
        "unrelated same-name Secret never overwritten (namespace-event path)",
        ("C14", "C14.restart", "#238"),
    ),
    Item("H3", RS + " §1.5", "self-namespace deletion cascade (#672)", ("C16", "#672")),
    Item("H4", RS + " §1.5", "auto-enabled off deletes promptly", ("C10",)),
    Item("H5", RS + " §1.5", "backoff on faults, no hot loop", ("K3.backoff", RBAC)),
    # --- §6 scenarios -------------------------------------------------------------------------------
    *(Item(f"C{i}", RS + " §6", f"conformance scenario C{i}", (f"C{i}",)) for i in range(1, 22)),
    Item(
        "K1",
        RS + " §6",
        "operator killed mid-fan-out: replay converges, nothing unowned deleted",
        (KILL, "K1.stopped", "K1.quiet", "C8.restart"),
    ),
    Item("K2", RS + " §6", "API server restart / watch cut: propagation resumes", (APISERVER, "K2.gap")),
    Item("K3", RS + " §6", "RBAC removed and restored: loud, no hot loop, recovery", (RBAC, "K3.backoff")),
    Item("K4", RS + " §6", "poison source: others keep replicating", (POISON, "C4.redos")),
    Item("K5", RS + " §6", "two replicas: same end state, no flapping, bounded churn", (LEADER,)),
    Item(
        "K6", RS + " §6", "scale: N namespaces x M objects, namespace bursts", ("#150", CHURN), untestable=""
    ),
    Item("K7", RS + " §6", "soak: hours idle, then an update", ("#246",)),
    Item(
        "K8",
        RS + " §6",
        "cron mode latency",
        untestable="Reflector's CronJob mode; the bundled operator has none",
    ),
    # --- §2 user-reported bugs ----------------------------------------------------------------------
    Item(
        "B1",
        RS + " §2 #150/#478",
        "namespaces created later get no copy",
        ("#150", "#150.reconnect", "C8.restart"),
    ),
    Item("B2", RS + " §2 #292", "silently stops after API server restarts", (APISERVER, "K2.gap")),
    Item("B3", RS + " §2 #442", "hangs after an exception", (POISON, "C4.redos")),
    Item("B4", RS + " §2 #246", "idle watches delay updates", ("#246",)),
    Item("B5", RS + " §2 #560/#324", "deleted auto copies not recreated", ("C12",)),
    Item("B6", RS + " §2 #485", "deleting the source leaves copies", ("#485",)),
    Item("B7", RS + " §2 #672", "source deleted when its namespace leaves its list", ("#672",)),
    Item("B8", RS + " §2 #238/#256", "unrelated or same-name sources deleted", ("#238", "#256", "C15")),
    Item("B9", RS + " §2 #295", "manual mirrors deleted", ("#295",)),
    Item(
        "B10",
        RS + " §2 #313/#244",
        "create/delete loops and spurious warnings after restart",
        ("K1.quiet", "C14.restart"),
    ),
    Item("B11", RS + " §2 #298", "Secret type not carried", ("#298", "C17")),
    Item("B12", RS + " §2 #430/#510", "glob vs regex confusion", ("#430", "C4")),
    Item("B13", RS + " §2 #108/#447", "memory, CPU and API load at scale", (CHURN,), untestable=""),
    Item("B14", RS + " §2 #349/#461", "Forbidden errors fault the watchers", (RBAC,)),
    Item("B15", RS + " §2 #257/#360", "labels and annotations not copied (pinned down)", ("C18",)),
    Item(
        "B16",
        RS + " §2 #88",
        "re-applied manual mirror keeps stale data until reflected-version cleared",
        ("C13.manual",),
    ),
    # --- operator README: how it works ----------------------------------------------------------------
    Item(
        "OB1",
        RD + ": How it works",
        "list then watch; 410 Gone re-lists and swaps the cache atomically",
        ("K2.gap", RUNTIME),
    ),
    Item(
        "OB2",
        RD + ": How it works",
        "other watch errors back off; a 403 is logged once; recovery logged",
        (RBAC, APISERVER),
    ),
    Item(
        "OB3",
        RD + ": How it works",
        "events enqueue source keys, incl. unrelated objects appearing or vanishing",
        ("C14.freed", RUNTIME),
    ),
    Item(
        "OB4",
        RD + ": How it works",
        "writes carry uid/resourceVersion preconditions; one write per differing copy",
        (PLAN, "K1.quiet"),
    ),
    Item(
        "OB5",
        RD + ": How it works",
        "failed writes re-queue with capped, jittered backoff",
        ("K3.backoff", RUNTIME),
    ),
    Item(
        "OB6",
        RD + ": How it works",
        "resync re-plans every source from the cache (safety net)",
        untestable="visible only when a watch event is lost, which a real API server does not do on demand",
    ),
    Item(
        "OB7",
        RD + ": How it works",
        "leader election: followers never write; SIGTERM releases; takeover after the lease",
        (LEADER, U + "test_lease_validity.py"),
    ),
    Item(
        "OB8",
        RD + ": How it works",
        "/readyz 503 until synced and while a watch is down; /healthz 500 if a thread died",
        (APISERVER, RBAC),
    ),
    Item(
        "OB9",
        RD + ": Annotations",
        "copies get data/type, no labels, exactly 4 bookkeeping annotations",
        ("C18", "C17"),
    ),
    Item("OB10", RD + ": Annotations", "pattern examples (ns-* vs ^ns-.*, a|ab)", ("#430", ANN)),
    Item(
        "OB11",
        RD + ": Known gaps",
        "copies of a source in an excluded namespace are left as they are",
        ("C20",),
    ),
    # --- operator README: deliberate differences ------------------------------------------------------
    Item(
        "OD1",
        RD + ": differences",
        "H1 poison annotation: only that source skipped, Event, 50 ms match limit",
        ("C4", "C4.redos", POISON),
    ),
    Item(
        "OD2",
        RD + ": differences",
        "H2 unrelated same-name object never written; ReflectionConflict Event",
        ("C14", OPS),
    ),
    Item("OD3", RD + ": differences", "H3/#672 source namespace never a target", ("C16", "#672")),
    Item("OD4", RD + ": differences", "H4 auto-enabled off deletes in the same reconcile", ("C10",)),
    Item(
        "OD5", RD + ": differences", "H5 capped, jittered backoff on watches and writes", ("K3.backoff", RBAC)
    ),
    Item("OD6", RD + ": differences", "#324/#560 deleted copy restored immediately", ("C12",)),
    Item("OD7", RD + ": differences", "C13/#88 drifted copies rewritten", ("C13",)),
    Item("OD8", RD + ": differences", "#238/#256 same name sources independent", ("C15", "#256")),
    Item(
        "OD9",
        RD + ": differences",
        "#295 only auto-reflects copies with the source's name deleted",
        ("#295",),
    ),
    Item("OD10", RD + ": differences", "#246 idle watches: timeout + resume + bookmarks", ("#246",)),
    Item("OD11", RD + ": differences", "a|ab: fullmatch", (ANN,)),
    Item("OD12", RD + ": differences", "label selectors refused as invalid annotation", ("C2.selector", ANN)),
    Item(
        "OD13",
        RD + ": differences",
        "annotation-only source change bumps reflected-version",
        (PLAN, "C10.on"),
    ),
    Item(
        "OD14",
        RD + ": differences",
        "type change: auto copy recreated, manual mirror keeps its type",
        ("C17", "#298", "K1.stopped"),
    ),
    # --- operator README: flags ----------------------------------------------------------------------
    Item("OF-kubeconfig", RD + ": Flags", "--kubeconfig / $KUBECONFIG", ("C1",)),
    Item(
        "OF-health",
        RD + ": Flags",
        "--health-address / --health-port (0 = free port)",
        ("K1.quiet", APISERVER),
    ),
    Item(
        "OF-resync",
        RD + ": Flags",
        "--resync-seconds",
        untestable="see OB6: a resync only matters when an event is lost",
    ),
    Item(
        "OF-watch-timeout",
        RD + ": Flags",
        "--watch-timeout-seconds",
        ("#246", "C14.restart", "#150.reconnect"),
    ),
    Item("OF-ready-down", RD + ": Flags", "--ready-down-threshold-seconds", (APISERVER,)),
    Item(
        "OF-workers",
        RD + ": Flags",
        "--workers / --write-concurrency",
        untestable="throughput knobs: measured by `make bench`, no behaviour to violate",
    ),
    Item("OF-excluded", RD + ": Flags", "--excluded-namespaces", ("C20",)),
    Item(
        "OF-leader",
        RD + ": Flags",
        "--leader-elect, --lease-*, --renew-deadline-seconds, --retry-period-seconds, --identity",
        (LEADER, "C8.restart"),
    ),
    Item("OF-log-level", RD + ": Flags", "--log-level; JSON logs never carry Secret data", (OPS,)),
    # --- operator README: metrics ----------------------------------------------------------------------
    Item("OM-exposed", RD + ": Metrics", "every documented metric is exposed with its labels", (RUNTIME,)),
    Item(
        "OM-watch",
        RD + ": Metrics",
        "replicator_watch_restarts_total / watch_up / relists_total count what happened",
        ("K2.gap", "#246", APISERVER),
    ),
    Item("OM-reconciles", RD + ": Metrics", "replicator_reconciles_total counts reconciles", ("K1.quiet",)),
    Item("OM-leader", RD + ": Metrics", "replicator_is_leader / replicator_ready", (LEADER, APISERVER)),
    Item(
        "OM-errors",
        RD + ": Metrics",
        "replicator_reconcile_errors_total / api_requests_total under faults",
        (RBAC,),
    ),
    Item(
        "OM-latency",
        RD + ": Metrics",
        "propagation_latency_seconds, writes_total, managed_copies, sources, conflicts, queue_depth",
        untestable=BENCH,
    ),
)


def collect(paths: tuple[str, ...] = COLLECT_PATHS) -> dict[str, list[str]]:
    """Node id → labels of every test `make conformance` collects (pytest --collect-only)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "labels.json"
        env = {**os.environ, "REPLICHECK_TRACEABILITY_OUT": str(out)}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "reports.traceability_collect",
                *paths,
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if not out.exists():
            raise RuntimeError(f"test collection failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
        return json.loads(out.read_text())


def resolve(ref: str, tests: dict[str, list[str]]) -> list[str]:
    """The collected tests a reference names (a label, or a node id / file prefix)."""
    if "/" in ref:
        return sorted(t for t in tests if t == ref or t.startswith(ref + "::") or t.startswith(ref + "["))
    return sorted(t for t, labels in tests.items() if ref in labels)


def trace(tests: dict[str, list[str]], items: tuple[Item, ...] = ITEMS) -> list[dict]:
    rows = []
    for item in items:
        found: list[str] = resolve(item.id, tests)  # tests marked @pytest.mark.contract("<id>")
        dangling = []
        for ref in item.refs:
            hit = resolve(ref, tests)
            found += hit
            if not hit:
                dangling.append(ref)
        rows.append(
            {
                "id": item.id,
                "source": item.source,
                "text": item.text,
                "refs": list(item.refs),
                "tests": sorted(set(found)),
                "dangling": dangling,
                "untestable": item.untestable,
                "status": "covered" if found else ("untestable" if item.untestable else "NO TEST"),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    covered = sum(r["status"] == "covered" for r in rows)
    untestable = sum(r["status"] == "untestable" for r in rows)
    lines = [
        "# Contract traceability",
        "",
        f"Generated by `python -m reports.traceability`. {len(rows)} items: {covered} with tests, "
        f"{untestable} not testable here (reason given), {len(rows) - covered - untestable} without a test.",
        "",
        "| id | source | promise | tests that fail when it is violated |",
        "|---|---|---|---|",
    ]
    for r in rows:
        shown = [t.split("::", 1)[0].rsplit("/", 1)[-1] + "::" + t.split("::", 1)[-1] for t in r["tests"][:6]]
        more = f" (+{len(r['tests']) - 6} more)" if len(r["tests"]) > 6 else ""
        cell = (
            "<br>".join(f"`{t}`" for t in shown) + more if shown else f"**{r['status']}**: {r['untestable']}"
        )
        lines.append(f"| {r['id']} | {r['source']} | {r['text'].replace('|', '/')} | {cell} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    rows = trace(collect())
    (REPORTS / "traceability.md").write_text(markdown(rows))
    (REPORTS / "traceability.json").write_text(json.dumps(rows, indent=1) + "\n")
    missing = [r["id"] for r in rows if r["status"] == "NO TEST"]
    print(f"reports/traceability.md: {len(rows)} items, {len(missing)} without a test {missing or ''}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
