"""``replicheck`` command line (thin: argument parsing and exit codes only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replicheck", description="Secret-replication certification tools")
    sub = parser.add_subparsers(dest="command", required=True)
    lint = sub.add_parser("lint", help="lint Reflector annotations and plaintext Secrets in manifests")
    lint.add_argument("path", type=Path, help="a directory (scanned recursively) or a single YAML file")
    lint.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    lint.add_argument(
        "--check-namespaces",
        action="store_true",
        help="report listed namespaces without a Namespace manifest even if the tree has none (RC006)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_CLEAN
    if args.command == "lint":
        from .lint import lint_path, render

        try:
            findings = lint_path(args.path, check_namespaces=args.check_namespaces)
        except OSError as exc:
            print(f"replicheck lint: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        sys.stdout.write(render(findings, args.format))
        return EXIT_FINDINGS if findings else EXIT_CLEAN
    return EXIT_USAGE  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
