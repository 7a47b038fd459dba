"""Flag, signal and run-loop plumbing shared by both bundled operators' ``__main__``.

Each operator keeps its own flags, defaults and wiring of controller and servers; what is the same
for both lives here once: flags read ``<PREFIX>_<FLAG>`` from the environment, the Lease namespace
defaults to the pod's, the flags of the informer/worker loop, of leader election and logging, loading
the Kubernetes configuration, and the run loop (start, elect or lead
alone, wait for SIGTERM/SIGINT, stop taking work, release the Lease, finish in-flight writes).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from kubernetes import client

from .kube import Kube, load_configuration
from .leader import LeaderElector

TRUE = {"1", "true", "yes", "on"}


class Env:
    """Flag defaults from the environment: ``env("lease-name", "x")`` reads ``<PREFIX>_LEASE_NAME``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, name: str, default: str) -> str:
        return os.environ.get(self._key(name), default)

    def flag(self, name: str, default: bool) -> bool:
        raw = os.environ.get(self._key(name))
        return default if raw is None else raw.strip().lower() in TRUE

    def _key(self, name: str) -> str:
        return self.prefix + "_" + name.upper().replace("-", "_")


def pod_namespace(default: str) -> str:
    """The namespace this pod runs in (service account mount, then ``$POD_NAMESPACE``), else ``default``."""
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as fh:
            return fh.read().strip() or default
    except OSError:
        return os.environ.get("POD_NAMESPACE", default)


def new_parser(module: str, description: str, env: Env) -> argparse.ArgumentParser:
    """A parser for ``python -m <module>`` with ``--kubeconfig``."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    p.add_argument(
        "--kubeconfig",
        default=env("kubeconfig", "") or None,
        help="kubeconfig path (default: $KUBECONFIG, then in-cluster config)",
    )
    return p


def add_loop_flags(
    p: argparse.ArgumentParser, env: Env, *, resync_seconds: str, write_concurrency: str = "16"
) -> None:
    """Resync period, watch timeout, workers, write threads and the /readyz watch-down threshold."""
    p.add_argument(
        "--resync-seconds",
        type=float,
        default=float(env("resync-seconds", resync_seconds)),
        help="re-plan every object from the cache this often (0 = never)",
    )
    p.add_argument(
        "--watch-timeout-seconds",
        type=int,
        default=int(env("watch-timeout-seconds", "300")),
        help="server-side watch timeout; the watch resumes from its resourceVersion",
    )
    p.add_argument("--workers", type=int, default=int(env("workers", "4")))
    p.add_argument(
        "--write-concurrency",
        type=int,
        default=int(env("write-concurrency", write_concurrency)),
        help="copy writes in flight at once, shared by every reconcile",
    )
    p.add_argument(
        "--ready-down-threshold-seconds",
        type=float,
        default=float(env("ready-down-threshold-seconds", "30")),
        help="/readyz fails when a watch has been down longer than this",
    )


def loop_options(args: argparse.Namespace) -> dict[str, Any]:
    """The controller options :func:`add_loop_flags` and ``--identity`` set (at least one worker/thread)."""
    return {
        "resync_seconds": args.resync_seconds,
        "watch_timeout_seconds": args.watch_timeout_seconds,
        "workers": max(1, args.workers),
        "write_concurrency": max(1, args.write_concurrency),
        "ready_down_threshold_seconds": args.ready_down_threshold_seconds,
        "identity": args.identity,
    }


def kube_configuration(args: argparse.Namespace, log: logging.Logger) -> client.Configuration | None:
    """``--kubeconfig``, ``$KUBECONFIG`` or the in-cluster configuration; None (after one line) if none."""
    try:
        return load_configuration(args.kubeconfig)
    except Exception as exc:
        log.error(f"cannot load Kubernetes configuration: {exc}; pass --kubeconfig or run in a pod")
        return None


def add_election_flags(
    p: argparse.ArgumentParser, env: Env, *, lease_name: str, lease_namespace: str
) -> None:
    """``--[no-]leader-elect``, the Lease's name, namespace and timings, ``--identity``, ``--log-level``."""
    p.add_argument(
        "--leader-elect", action=argparse.BooleanOptionalAction, default=env.flag("leader-elect", True)
    )
    p.add_argument("--lease-namespace", default=env("lease-namespace", "") or pod_namespace(lease_namespace))
    p.add_argument("--lease-name", default=env("lease-name", lease_name))
    p.add_argument("--lease-duration-seconds", type=float, default=float(env("lease-duration-seconds", "15")))
    p.add_argument("--renew-deadline-seconds", type=float, default=float(env("renew-deadline-seconds", "10")))
    p.add_argument("--retry-period-seconds", type=float, default=float(env("retry-period-seconds", "2")))
    p.add_argument("--identity", default=env("identity", "") or f"{socket.gethostname()}_{os.getpid()}")
    p.add_argument(
        "--log-level", default=env("log-level", "info"), choices=["debug", "info", "warning", "error"]
    )


class _Controller(Protocol):
    leading: threading.Event
    lease_valid: Callable[[], bool]

    def start(self) -> None: ...

    def shutdown(self) -> None: ...


class _Server(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def run(
    args: argparse.Namespace,
    kube: Kube,
    controller: _Controller,
    servers: Sequence[_Server],
    on_leading: Callable[[bool], None],
    log: logging.Logger,
    *,
    started: Mapping[str, Any],
    after_release: Callable[[], None] = lambda: None,
) -> int:
    """Start ``servers`` and ``controller``, lead (by Lease or alone) until SIGTERM/SIGINT, stop cleanly.
    The ``starting`` line names identity and election, plus ``started`` (host, ports, settings)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal received; shutting down", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("starting", extra={"identity": args.identity, "leader_elect": args.leader_elect, **started})
    for server in servers:
        server.start()
    controller.start()
    elector: LeaderElector | None = None
    if args.leader_elect:
        elector = LeaderElector(
            kube,
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
    after_release()
    controller.shutdown()
    for server in servers:
        server.stop()
    kube.close()
    log.info("stopped")
    return 0
