"""``consolidate-oci-creds <customer> <cluster> [--repo DIR] [--dry-run]``."""

from __future__ import annotations

import argparse
import sys

from .core import consolidate
from .errors import ConsolidationError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="consolidate-oci-creds",
        description="Replace per-service oci-creds.yaml files of a cluster overlay by one "
        "sops-encrypted flux-system/oci-creds.yaml that Reflector copies to the service namespaces.",
    )
    p.add_argument("customer", help="customer directory under the repo root")
    p.add_argument("cluster", help="cluster overlay name (<customer>/applications/overlays/<cluster>)")
    p.add_argument("--repo", default=".", help="repository root (default: current directory)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the diff (secret values redacted), write nothing"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        plan = consolidate(args.repo, args.customer, args.cluster, dry_run=args.dry_run)
    except ConsolidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted; nothing was changed unless 'writing failed' was reported", file=sys.stderr)
        return EXIT_ERROR
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    if plan.noop:
        print("nothing to do: the overlay is already consolidated")
        return EXIT_OK
    if args.dry_run:
        sys.stdout.write(plan.diff())
        print(f"dry run: {len(plan.changes)} file(s) would change; nothing written")
        return EXIT_OK
    if plan.services:
        print(
            f"consolidated {len(plan.services)} service credential file(s) into "
            f"{plan.changes[0].display}; reflection-allowed-namespaces: {','.join(plan.namespaces)}"
        )
    for ch in plan.changes:
        verb = "created" if ch.before is None else "deleted" if ch.after is None else "updated"
        print(f"  {verb} {ch.display}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
