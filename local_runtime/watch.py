"""`make up` follows your edits: a change under a service's folder replaces that service's functions'
execution environments, a change under ``shared/`` (the layer) replaces every function's, so the next request
runs the new code in about a second, without a restart. A change to the infrastructure (``infra/``) needs a
new synth, which a restart does: that is said, not guessed at."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from watchfiles import watch

from local_runtime.assembly import REPO_ROOT
from local_runtime.functions import FunctionRuntime
from local_runtime.logbook import short_name

WATCHED = ("services", "shared", "infra")


def affected(
    changed: Iterable[Path], functions: Mapping[str, FunctionRuntime]
) -> tuple[list[FunctionRuntime], bool]:
    """The functions whose code changed, and whether the infrastructure did."""
    hit: dict[str, FunctionRuntime] = {}
    infrastructure = False
    for path in changed:
        if path.suffix != ".py":
            continue
        if path.is_relative_to(REPO_ROOT / "infra"):
            infrastructure = True
        elif path.is_relative_to(REPO_ROOT / "shared"):
            hit.update(functions)
        else:
            hit.update({key: f for key, f in functions.items() if path.is_relative_to(f.spec.code_dir)})
    return list(hit.values()), infrastructure


def follow_edits(
    functions: Mapping[str, FunctionRuntime],
    say: Callable[[str], None],
    stop: threading.Event,
    roots: Iterable[Path] | None = None,
) -> threading.Thread:
    """Watch the source folders in a thread of its own until ``stop`` is set."""
    folders = [str(root) for root in (roots or (REPO_ROOT / name for name in WATCHED)) if Path(root).exists()]

    def run() -> None:
        for changes in watch(*folders, stop_event=stop, debounce=300, raise_interrupt=False):
            refreshed, infrastructure = affected((Path(path) for _, path in changes), functions)
            for function in refreshed:
                function.refresh()
            if refreshed:
                say(
                    f"reloaded {', '.join(sorted(short_name(f.spec.name) for f in refreshed))}: the next request runs the new code"
                )
            if infrastructure:
                say("infrastructure changed: restart make up to synthesize it")

    thread = threading.Thread(target=run, name="watch", daemon=True)
    thread.start()
    return thread
