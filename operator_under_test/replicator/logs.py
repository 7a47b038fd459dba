"""One-line JSON logs on stderr, and a rate limiter so a persistent failure logs once, not in a loop.

Secret values never reach a log call: callers pass names, namespaces, annotation names and key names.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

_STD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"ts":..., "level":..., "logger":..., "msg":..., <fields>}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STD and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def setup(level: str = "info") -> None:
    """Route the root logger to stderr as JSON lines (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The client logs full request bodies at debug level; bodies of Secrets hold values.
    for noisy in ("kubernetes", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Once:
    """Allow a message key through at most once per ``interval`` seconds (``reset`` re-arms it)."""

    def __init__(self, interval: float = 300.0) -> None:
        self.interval = interval
        self._last: dict[Any, float] = {}
        self._lock = threading.Lock()

    def __call__(self, key: Any, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return False
            self._last[key] = now
            if len(self._last) > 10000:  # bounded memory
                self._last.clear()
                self._last[key] = now
            return True

    def reset(self, key: Any) -> bool:
        """Forget a key; True if it had been logged (lets callers log a matching 'recovered' line)."""
        with self._lock:
            return self._last.pop(key, None) is not None
