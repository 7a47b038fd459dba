"""`make binaries` with progress: which build step runs, for how long, and about how long it takes.

A first run spends minutes compiling the control plane; without this it printed one line and went
quiet. This wrapper runs tools/build-binaries.sh unchanged (its text is part of the binaries' cache
key, so editing it would force every machine to rebuild) and watches the script's child processes
to tell the step: resolving the version, downloading and compiling Kubernetes, then etcd, or
waiting for a build another process already runs. Each step is shown with its elapsed time and an
estimate (what the steps took last time on this machine, else typical 2-core figures); a terminal
gets a rich progress line, a log (CI) one line per step and a heartbeat every minute. A failed
build names its log and the log's last error line. The binary directory is printed on stdout, as
the script does.

    python -m replicheck.build_progress      # stdout: the binary directory; progress on stderr
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from fixtures.clusters.binaries import BUILD_SCRIPT
from fixtures.core.paths import cache_dir

STEPS_FILE = "build-steps.json"
HEARTBEAT_S = 60.0
POLL_S = 0.5


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    typical_s: float  # cold, 2 cores, quiet machine; replaced by this machine's last figures


STEPS = [
    Step("resolve", "resolving the Kubernetes release", 5),
    Step("kube-download", "downloading Kubernetes modules (Go module proxy)", 90),
    Step("kube-build", "compiling kube-apiserver, kube-controller-manager, kube-scheduler and kubelet", 540),
    Step("etcd-download", "downloading etcd modules (Go module proxy)", 20),
    Step("etcd-build", "compiling etcd", 75),
]
BY_KEY = {s.key: s for s in STEPS}
WAITING = Step("wait", "waiting for the build another process is running on this machine", 0)

# Lines that say what went wrong in a Go build log, most specific first.
ERROR_LINE = re.compile(
    r"(^\S+\.go:\d+(:\d+)?: .+)|(^go: .+)"
    r"|(\b(error|fatal|cannot|undefined|not found|no space left|killed|panic)\b)",
    re.IGNORECASE,
)
LOG_PATH = re.compile(r"(?:log: |build log )(\S+?\.log)")


def format_duration(seconds: float) -> str:
    """'42s', '3m05s', '1h02m' — compact and unambiguous in a log line."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def estimate_text(elapsed: float, estimate: float | None) -> str:
    """'2m10s of ~7m30s' while under the estimate, '9m02s (estimate ~7m30s, taking longer)' after."""
    if not estimate:
        return format_duration(elapsed)
    if elapsed <= estimate:
        return f"{format_duration(elapsed)} of ~{format_duration(estimate)}"
    return f"{format_duration(elapsed)} (estimate ~{format_duration(estimate)}, taking longer)"


def last_error_line(log_text: str, limit: int = 240) -> str:
    """The last line of a build log that reads like an error, else its last non-empty line."""
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("go: downloading"):
            continue
        if ERROR_LINE.search(line):
            return line[:limit]
    return lines[-1][:limit] if lines else "(the build log is empty)"


def step_of(cmdline: list[str], cwd: str) -> str | None:
    """Which build step a child process of the build script belongs to (None: not a step)."""
    if not cmdline:
        return None
    name = Path(cmdline[0]).name
    if name == "flock":
        return WAITING.key
    if name != "go" or len(cmdline) < 2:
        return None
    module = (
        "etcd" if cwd.rstrip("/").endswith("tools/etcd") else "kube" if cwd.endswith("tools/kube") else ""
    )
    if cmdline[1] == "mod" and "-json" in cmdline:
        return "resolve"
    if cmdline[1] == "mod" and module:
        return f"{module}-download"
    if cmdline[1] == "build" and module:
        return f"{module}-build"
    return None


def estimates(history: dict[str, float]) -> dict[str, float]:
    """Per step: this machine's last measured time where known, else the typical figure."""
    return {s.key: float(history.get(s.key, s.typical_s)) for s in STEPS}


def remaining_s(current: str, elapsed_in_step: float, est: dict[str, float]) -> float:
    """Estimated seconds left for the whole build while in step `current`."""
    keys = [s.key for s in STEPS]
    if current not in keys:
        return sum(est.values())
    i = keys.index(current)
    return max(0.0, est[current] - elapsed_in_step) + sum(est[k] for k in keys[i + 1 :])


def _load_history(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
        return {k: float(v) for k, v in data.items() if k in BY_KEY}
    except (OSError, ValueError, AttributeError):
        return {}


def _current_step(root: psutil.Process) -> str | None:
    found = None
    try:
        children = root.children(recursive=True)
    except psutil.Error:
        return None
    for child in children:
        try:
            step = step_of(child.cmdline(), child.cwd())
        except psutil.Error:
            continue
        if step == WAITING.key:
            return step
        if step and (
            found is None or [s.key for s in STEPS].index(step) > [s.key for s in STEPS].index(found)
        ):
            found = step
    return found


class Watcher:
    """Follows the script's steps and shows them; records each step's duration."""

    def __init__(self, console: Console, history: dict[str, float]) -> None:
        self.console = console
        self.est = estimates(history)
        self.durations: dict[str, float] = {}
        self.started = time.monotonic()
        self.step: str | None = None
        self.step_started = self.started
        self.announced = False
        self.last_beat = self.started

    def title(self, key: str) -> str:
        return (BY_KEY.get(key) or WAITING).title

    def announce(self, log: str | None) -> None:
        if not self.announced:
            total = format_duration(sum(self.est.values()))
            self.console.print(
                f"building the control-plane binaries once for this machine (about {total} on 2 cores)"
                + (f"; build log: {log}" if log else "")
            )
            self.announced = True

    def switch(self, step: str, now: float) -> None:
        if self.step is not None:
            took = now - self.step_started
            if self.step != WAITING.key:
                self.durations[self.step] = took
            self.console.print(f"  done: {self.title(self.step)} in {format_duration(took)}")
        self.step, self.step_started = step, now
        if step == WAITING.key:
            self.console.print(f"  {self.title(step)} (it is announced in that process's output)")
        else:
            index = [s.key for s in STEPS].index(step) + 1
            self.console.print(
                f"  step {index}/{len(STEPS)}: {self.title(step)} "
                f"(estimate ~{format_duration(self.est[step])}, "
                f"~{format_duration(remaining_s(step, 0, self.est))} left in all)"
            )

    def line(self, now: float) -> str:
        if self.step is None:
            return "starting the build"
        in_step = now - self.step_started
        if self.step == WAITING.key:
            return f"{self.title(self.step)}: {format_duration(in_step)}"
        left = format_duration(remaining_s(self.step, in_step, self.est))
        return (
            f"{self.title(self.step)}: {estimate_text(in_step, self.est[self.step])}"
            f" · total {format_duration(now - self.started)}, ~{left} left"
        )

    def finish(self, now: float) -> None:
        if self.step is not None and self.step != WAITING.key:
            self.durations[self.step] = now - self.step_started
            self.console.print(
                f"  done: {self.title(self.step)} in {format_duration(now - self.step_started)}"
            )


def run(console: Console | None = None) -> int:
    console = console or Console(stderr=True, highlight=False, soft_wrap=True)
    cache = cache_dir()
    history_path = cache / STEPS_FILE
    proc = subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stderr_lines: list[str] = []
    log_path: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_lines.append(line.rstrip("\n"))
            match = LOG_PATH.search(line)
            if match and not log_path:
                log_path.append(match.group(1))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    watcher = Watcher(console, _load_history(history_path))
    root = psutil.Process(proc.pid)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = None
    live = console.is_terminal
    try:
        while proc.poll() is None:
            now = time.monotonic()
            step = _current_step(root)
            if step and step != watcher.step:
                if step != WAITING.key:
                    watcher.announce(log_path[0] if log_path else None)
                if live and task is None:
                    progress.start()
                    task = progress.add_task(watcher.line(now))
                watcher.switch(step, now)
            if task is not None:
                progress.update(task, description=watcher.line(now))
            elif watcher.step and now - watcher.last_beat >= HEARTBEAT_S:
                console.print(f"  … {watcher.line(now)}")
                watcher.last_beat = now
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        proc.terminate()
        raise
    finally:
        if task is not None:
            progress.stop()
    reader.join(timeout=5)
    out = (proc.stdout.read() if proc.stdout else "").strip()
    now = time.monotonic()
    if proc.returncode != 0:
        for line in stderr_lines:
            if not line.startswith("building control-plane binaries"):
                console.print(line)
        log = log_path[0] if log_path else None
        if log and Path(log).exists():
            console.print(
                f"  last error line of {log}:\n    {last_error_line(Path(log).read_text(errors='replace'))}"
            )
        elif watcher.step:
            console.print(f"  it failed during: {watcher.title(watcher.step)}")
        return proc.returncode
    if watcher.step is not None:
        watcher.finish(now)
        if watcher.durations:
            history = {**_load_history(history_path), **watcher.durations}
            history_path.write_text(json.dumps(history, indent=2, sort_keys=True))
        console.print(f"control-plane binaries ready after {format_duration(now - watcher.started)}: {out}")
    print(out.splitlines()[-1] if out else "")
    return 0


# --- one Go tool of tools/<name> (tools/build-tool.sh): its first build counted in packages --------------

#: typical cold builds on 2 cores (this machine's last build replaces them: BUILD_INFO in the cache)
TOOL_TYPICAL_S = {
    "external-secrets": 420.0,
    "source-controller": 900.0,
    "kustomize-controller": 900.0,
    "helm-controller": 300.0,  # measured: 287 s with an empty Go build cache, the machine busy (load 2-7)
}


def compiled_packages(log_text: str) -> int:
    """Packages ``go build -v`` listed in the build log since its last ``== `` header (one import
    path per line; ``go:`` lines and compiler messages are not packages)."""
    lines = log_text.splitlines()
    headers = [i for i, ln in enumerate(lines) if ln.startswith("== ")]
    after = lines[headers[-1] + 1 :] if headers else lines
    return sum(1 for ln in after if ln.strip() and " " not in ln.strip() and not ln.startswith(("go:", "#")))


def tool_estimate(name: str, cache: Path) -> float | None:
    """Seconds this machine's newest build of ``name`` took (any version), else the typical figure."""
    infos = sorted((cache / "bin").glob(f"{name}-*/BUILD_INFO"), key=lambda p: p.stat().st_mtime)
    for info in reversed(infos):
        match = re.search(r"build_seconds=(\d+)", info.read_text())
        if match:
            return float(match.group(1))
    return TOOL_TYPICAL_S.get(name)


def tool_line(name: str, elapsed: float, estimate: float | None, done: int, total: int | None) -> str:
    """``external-secrets: 812 of ~2016 packages · 2m10s of ~7m00s``."""
    count = f"{done} of ~{total} packages" if total else f"{done} packages"
    return f"{name}: {count} · {estimate_text(elapsed, estimate)}"


def _dependencies(name: str) -> int | None:
    """How many packages the tool's build may compile (``go list -deps``; None if Go cannot say)."""
    from fixtures.clusters.binaries import TOOL_BUILD_SCRIPT

    script = TOOL_BUILD_SCRIPT.read_text()
    match = re.search(rf"^\s*{re.escape(name)}\) module=(\S+?); pkg=(\S+?) ;;", script, re.MULTILINE)
    if not match:
        return None
    module = match.group(1)
    pkg = match.group(2).replace("$module", module)
    env = {**os.environ, "GOWORK": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    proc = subprocess.run(
        ["go", "list", "-deps", pkg],
        cwd=TOOL_BUILD_SCRIPT.parent / name,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return len(proc.stdout.split()) if proc.returncode == 0 else None


def run_tool(name: str, console: Console | None = None) -> int:
    """``tools/build-tool.sh NAME`` with progress: nothing when it is cached; on a first build the
    packages compiled so far (its log) of those it may compile, the elapsed time and the estimate,
    a heartbeat every minute in a log. The binary's path on stdout, as the script prints it."""
    from fixtures.clusters.binaries import TOOL_BUILD_SCRIPT

    console = console or Console(stderr=True, highlight=False, soft_wrap=True)
    proc = subprocess.Popen(
        ["bash", str(TOOL_BUILD_SCRIPT), name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stderr_lines: list[str] = []
    log_path: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_lines.append(line.rstrip("\n"))
            match = LOG_PATH.search(line)
            if match and not log_path:
                log_path.append(match.group(1))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    started = last_beat = time.monotonic()
    estimate, total, announced = tool_estimate(name, cache_dir()), None, False
    try:
        while proc.poll() is None:
            now = time.monotonic()
            if log_path and not announced:
                total = _dependencies(name)
                about = f" (about {format_duration(estimate)} on 2 cores)" if estimate else ""
                console.print(f"building {name} once for this machine{about}; build log: {log_path[0]}")
                announced = True
            if announced and now - last_beat >= HEARTBEAT_S:
                text = Path(log_path[0]).read_text(errors="replace") if Path(log_path[0]).exists() else ""
                console.print(
                    f"  … {tool_line(name, now - started, estimate, compiled_packages(text), total)}"
                )
                last_beat = now
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        proc.terminate()
        raise
    reader.join(timeout=5)
    out = (proc.stdout.read() if proc.stdout else "").strip()
    if proc.returncode != 0:
        for line in stderr_lines:
            console.print(line)
        if log_path and Path(log_path[0]).exists():
            last = last_error_line(Path(log_path[0]).read_text(errors="replace"))
            console.print(f"  last error line of {log_path[0]}:\n    {last}")
        return proc.returncode
    if announced:
        console.print(f"{name} ready after {format_duration(time.monotonic() - started)}: {out}")
    print(out.splitlines()[-1] if out else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--tool":
        return run_tool(args[1])
    if args:
        print("usage: python -m replicheck.build_progress [--tool NAME]", file=sys.stderr)
        return 2
    return run()


if __name__ == "__main__":
    sys.exit(main())
