"""Entry point: ``python -m operator_under_test.configmirror [flags]``.

Every flag also reads ``CONFIGMIRROR_<FLAG>`` from the environment. SIGTERM/SIGINT stop taking
work, finish in-flight writes and release the Lease.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from operator_under_test.replicator import cli, logs

from . import metrics
from .controller import Controller, Options
from .health import health_server, metrics_server
from .kube import Kube

log = logging.getLogger("configmirror")
_env = cli.Env("CONFIGMIRROR")


def build_parser() -> argparse.ArgumentParser:
    p = cli.new_parser(
        "operator_under_test.configmirror",
        "ConfigMirror operator: replicate ConfigMaps by label selector, persist to PostgreSQL.",
        _env,
    )
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
    cli.add_loop_flags(p, _env, resync_seconds="60")
    p.add_argument("--db-connect-timeout", type=int, default=int(_env("db-connect-timeout", "3")))
    cli.add_election_flags(p, _env, lease_name="configmirror-operator", lease_namespace="configmirror-system")
    return p


def options(args: argparse.Namespace) -> Options:
    """The controller's options from the parsed flags."""
    return Options(**cli.loop_options(args), db_connect_timeout=max(1, args.db_connect_timeout))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level)
    logging.getLogger("psycopg").setLevel(logging.WARNING)
    cfg = cli.kube_configuration(args, log)
    if cfg is None:
        return 2
    opts = options(args)
    kube = Kube(cfg, pool_size=opts.write_concurrency + 8)
    controller = Controller(kube, opts)
    health = health_server(args.bind_address, args.health_port, controller.liveness, controller.readiness)
    metrics_http = metrics_server(args.bind_address, args.metrics_port)
    leader_gauge = metrics.LEADER.labels(name=args.lease_name)
    leader_gauge.set(0)

    def on_leading(leading: bool) -> None:
        leader_gauge.set(1 if leading else 0)
        controller.set_leading(leading)

    return cli.run(
        args,
        kube,
        controller,
        [health, metrics_http],
        on_leading,
        log,
        started={"host": cfg.host, "health_port": health.port, "metrics_port": metrics_http.port},
        after_release=lambda: leader_gauge.set(0),
    )


if __name__ == "__main__":
    sys.exit(main())
