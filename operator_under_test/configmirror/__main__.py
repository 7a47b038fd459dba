"""Entry point: ``python -m operator_under_test.configmirror [flags]``.

Every flag also reads ``CONFIGMIRROR_<FLAG>`` from the environment. SIGTERM/SIGINT stop taking
work, finish in-flight writes and release the Lease.
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

from operator_under_test.replicator import logs
from operator_under_test.replicator.leader import LeaderElector

from . import metrics
from .controller import Controller, Options
from .health import health_server, metrics_server
from .kube import Kube, load_configuration

log = logging.getLogger("configmirror")


def _env(name: str, default: str) -> str:
    return os.environ.get("CONFIGMIRROR_" + name.upper().replace("-", "_"), default)


def _pod_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as fh:
            return fh.read().strip() or "configmirror-system"
    except OSError:
        return os.environ.get("POD_NAMESPACE", "configmirror-system")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m operator_under_test.configmirror",
        description="ConfigMirror operator: replicate ConfigMaps by label selector, persist to PostgreSQL.",
    )
    p.add_argument("--kubeconfig", default=_env("kubeconfig", "") or None)
    p.add_argument("--bind-address", default=_env("bind-address", "0.0.0.0"))  # noqa: S104 (probes)
    p.add_argument(
        "--health-port",
        type=int,
        default=int(_env("health-port", "8081")),
        help="/healthz, /readyz (0 = free port)",
    )
    p.add_argument(
        "--metrics-port", type=int, default=int(_env("metrics-port", "8080")), help="/metrics (0 = free port)"
    )
    p.add_argument("--resync-seconds", type=float, default=float(_env("resync-seconds", "60")))
    p.add_argument("--watch-timeout-seconds", type=int, default=int(_env("watch-timeout-seconds", "300")))
    p.add_argument("--workers", type=int, default=int(_env("workers", "4")))
    p.add_argument("--write-concurrency", type=int, default=int(_env("write-concurrency", "16")))
    p.add_argument("--db-connect-timeout", type=int, default=int(_env("db-connect-timeout", "3")))
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=_env("leader-elect", "true").lower() in {"1", "true", "yes", "on"},
    )
    p.add_argument("--lease-namespace", default=_env("lease-namespace", "") or _pod_namespace())
    p.add_argument("--lease-name", default=_env("lease-name", "configmirror-operator"))
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level)
    logging.getLogger("psycopg").setLevel(logging.WARNING)
    try:
        cfg = load_configuration(args.kubeconfig)
    except Exception as exc:
        log.error(f"cannot load Kubernetes configuration: {exc}; pass --kubeconfig or run in a pod")
        return 2
    opts = Options(
        resync_seconds=args.resync_seconds,
        watch_timeout_seconds=args.watch_timeout_seconds,
        workers=max(1, args.workers),
        write_concurrency=max(1, args.write_concurrency),
        identity=args.identity,
        db_connect_timeout=max(1, args.db_connect_timeout),
    )
    kube = Kube(cfg, pool_size=opts.write_concurrency + 8)
    controller = Controller(kube, opts)
    health = health_server(args.bind_address, args.health_port, controller.liveness, controller.readiness)
    metrics_http = metrics_server(args.bind_address, args.metrics_port)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal received; shutting down", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    leader_gauge = metrics.LEADER.labels(name=args.lease_name)
    leader_gauge.set(0)

    def on_leading(leading: bool) -> None:
        leader_gauge.set(1 if leading else 0)
        controller.set_leading(leading)

    log.info(
        "starting",
        extra={
            "identity": args.identity,
            "leader_elect": args.leader_elect,
            "host": cfg.host,
            "health_port": health.port,
            "metrics_port": metrics_http.port,
        },
    )
    health.start()
    metrics_http.start()
    controller.start()
    elector: LeaderElector | None = None
    if args.leader_elect:
        elector = LeaderElector(
            kube,  # type: ignore[arg-type]  (a subclass of the replicator's Kube)
            args.lease_namespace,
            args.lease_name,
            args.identity,
            on_leading,
            lease_duration=args.lease_duration_seconds,
            renew_deadline=args.renew_deadline_seconds,
            retry_period=args.retry_period_seconds,
        )
        controller.lease_valid = elector.holds_lease
        elector.start()
    else:
        on_leading(True)
    while not stop.wait(1.0):
        pass
    controller.leading.clear()
    if elector is not None:
        elector.release()
    leader_gauge.set(0)
    controller.shutdown()
    health.stop()
    metrics_http.stop()
    kube.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
