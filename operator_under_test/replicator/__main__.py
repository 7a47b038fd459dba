"""Entry point: ``python -m operator_under_test.replicator [flags]``.

Every flag also reads an environment variable (``REPLICATOR_<FLAG>``), so a Deployment can use either.
SIGTERM/SIGINT shut down gracefully: stop taking work, finish in-flight writes, release the Lease.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence

from . import logs
from .controller import Controller, Options
from .health import HealthServer
from .kube import Kube, load_configuration
from .leader import LeaderElector

log = logging.getLogger("replicator")


def _env(name: str, default: str) -> str:
    return os.environ.get("REPLICATOR_" + name.upper().replace("-", "_"), default)


def _bool_env(name: str, default: bool) -> bool:
    raw = os.environ.get("REPLICATOR_" + name.upper().replace("-", "_"))
    return default if raw is None else raw.strip().lower() in {"1", "true", "yes", "on"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m operator_under_test.replicator",
        description="Reflector-compatible Secret/ConfigMap replication controller.",
    )
    p.add_argument(
        "--kubeconfig",
        default=_env("kubeconfig", "") or None,
        help="kubeconfig path (default: $KUBECONFIG, then in-cluster config)",
    )
    p.add_argument("--health-address", default=_env("health-address", "0.0.0.0"))  # noqa: S104 (probes)
    p.add_argument(
        "--health-port",
        type=int,
        default=int(_env("health-port", "8080")),
        help="port for /healthz, /readyz, /metrics (0 = pick a free port)",
    )
    p.add_argument(
        "--resync-seconds",
        type=float,
        default=float(_env("resync-seconds", "300")),
        help="re-plan every source from the cache this often (0 = never)",
    )
    p.add_argument(
        "--watch-timeout-seconds",
        type=int,
        default=int(_env("watch-timeout-seconds", "300")),
        help="server-side watch timeout; the watch resumes from its resourceVersion",
    )
    p.add_argument(
        "--ready-down-threshold-seconds",
        type=float,
        default=float(_env("ready-down-threshold-seconds", "30")),
        help="/readyz fails when a watch has been down longer than this",
    )
    p.add_argument("--workers", type=int, default=int(_env("workers", "4")))
    p.add_argument("--write-concurrency", type=int, default=int(_env("write-concurrency", "16")))
    p.add_argument(
        "--excluded-namespaces",
        default=_env("excluded-namespaces", ""),
        help="comma list of globs; sources there are ignored (copies still land there)",
    )
    p.add_argument(
        "--leader-elect", action=argparse.BooleanOptionalAction, default=_bool_env("leader-elect", True)
    )
    p.add_argument("--lease-namespace", default=_env("lease-namespace", "") or _pod_namespace())
    p.add_argument("--lease-name", default=_env("lease-name", "replicheck-replicator"))
    p.add_argument(
        "--lease-duration-seconds", type=float, default=float(_env("lease-duration-seconds", "15"))
    )
    p.add_argument(
        "--renew-deadline-seconds", type=float, default=float(_env("renew-deadline-seconds", "10"))
    )
    p.add_argument("--retry-period-seconds", type=float, default=float(_env("retry-period-seconds", "2")))
    p.add_argument("--identity", default=_env("identity", "") or f"{socket.gethostname()}_{os.getpid()}")
    p.add_argument(
        "--log-level", default=_env("log-level", "info"), choices=["debug", "info", "warning", "error"]
    )
    return p


def _pod_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as fh:
            return fh.read().strip() or "replicheck-system"
    except OSError:
        return os.environ.get("POD_NAMESPACE", "replicheck-system")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level)
    excluded = tuple(x.strip() for x in args.excluded_namespaces.split(",") if x.strip())
    opts = Options(
        resync_seconds=args.resync_seconds,
        watch_timeout_seconds=args.watch_timeout_seconds,
        workers=max(1, args.workers),
        write_concurrency=max(1, args.write_concurrency),
        excluded_namespaces=excluded,
        ready_down_threshold_seconds=args.ready_down_threshold_seconds,
        identity=args.identity,
    )
    try:
        cfg = load_configuration(args.kubeconfig)
    except Exception as exc:
        log.error(f"cannot load Kubernetes configuration: {exc}")
        return 2
    kube = Kube(cfg, pool_size=opts.write_concurrency + 8)
    kube.api.user_agent += f" ({args.identity})"  # audit logs tell the replicas apart
    controller = Controller(kube, opts)
    kube.write_gate = controller.may_write  # asked again right before each copy write is sent
    health = HealthServer(args.health_address, args.health_port, controller.liveness, controller.readiness)

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal received; shutting down", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log.info(
        "starting",
        extra={
            "identity": args.identity,
            "leader_elect": args.leader_elect,
            "host": cfg.host,
            "resync_seconds": opts.resync_seconds,
            "watch_timeout_seconds": opts.watch_timeout_seconds,
            "excluded_namespaces": list(excluded),
        },
    )
    health.start()
    controller.start()
    elector: LeaderElector | None = None
    if args.leader_elect:
        elector = LeaderElector(
            kube,
            args.lease_namespace,
            args.lease_name,
            args.identity,
            controller.set_leading,
            lease_duration=args.lease_duration_seconds,
            renew_deadline=args.renew_deadline_seconds,
            retry_period=args.retry_period_seconds,
        )
        controller.lease_valid = elector.holds_lease
        elector.start()
    else:
        controller.set_leading(True)

    while not stop.wait(1.0):
        pass
    controller.leading.clear()
    if elector is not None:
        elector.release()
    controller.shutdown()
    health.stop()
    kube.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
