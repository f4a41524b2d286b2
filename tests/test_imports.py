"""The media seam holds: signaling reaches a media server only through `signaling.media`, a
media backend never imports signaling's services, and no import cycle spans two apps
(docs/architecture.md, Media seam). The contracts are in pyproject.toml, checked by import-linter."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "api", "audioexchange", "chat", "invites", "mediaworker", "moderation", "rooms", "signaling", "sfu")


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def _application_modules(graph: grimp.ImportGraph) -> set[str]:
    return {name for name in graph.modules if ".tests" not in name and ".migrations" not in name}


def _cycles_across_apps(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of modules (imports inside functions count) that hold more than one app."""
    modules = _application_modules(graph)
    edges = {name: graph.find_modules_directly_imported_by(name) & modules for name in modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:  # Tarjan's algorithm
        order[name] = low[name] = len(order)
        stack.append(name)
        for imported in edges[name]:
            if imported not in order:
                visit(imported)
                low[name] = min(low[name], low[imported])
            elif imported in stack:
                low[name] = min(low[name], order[imported])
        if low[name] == order[name]:
            group = [stack.pop()]
            while group[-1] != name:
                group.append(stack.pop())
            if len({module.split(".")[0] for module in group}) > 1:
                found.append(sorted(group))

    for name in sorted(modules):
        if name not in order:
            visit(name)
    return found


def test_no_import_cycle_spans_two_apps() -> None:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*APPS, exclude_type_checking_imports=True)
    assert _cycles_across_apps(graph) == []
