"""A module's name says what it holds: no two modules in han_emu/ share a name
while meaning different things.

A name used by several modules is allowed only when it is a role every such
package plays the same way, listed below with its reason.  Modules in
``han_emu/cli/`` are named for the subcommand they handle (the user's word), so
they may share a name with the module the command drives.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "han_emu"
CLI = PACKAGE / "cli"

#: Names several packages use for the same role.
ROLE_NAMES: dict[str, str] = {
    "__init__": "the package itself",
    "app": "the package's framework application: zigpy ControllerApplication of a radio, Textual App of the dashboard",
    "local_zdo": "the ZDO requests one emulated NCP answers itself, in its own wire form (fakencp/ezsp, fakencp/znp)",
    "server": "the TCP server of one emulated NCP (fakencp/ezsp, fakencp/znp)",
    "dutycycle": "duty cycle as its layer sees it: the ledgers (air), a replayed capture's (replay)",
    "onair": "one emulated NCP's radio side on a virtual air (fakencp/ezsp, fakencp/znp)",
    "model": "the layer's data model: the twin-element meter (meter), what a display holds (readout)",
    "recording": "recording a HAN to a capture: the recorder (han), the dashboard's record key (tui)",
    "scenario": "a meter scenario: the simulated household (meter), one read from a capture (replay)",
    "zcl": "the ZCL part of its layer: the header codec (frames), frames as JSON values (replay)",
}


def shared_names() -> dict[str, list[str]]:
    """Module names used more than once outside cli/, with their paths."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        by_name[path.stem].append(str(path.relative_to(REPO)))
    cli_names = {p.stem for p in CLI.glob("*.py") if p.stem != "__init__"}
    shared = {}
    for name, paths in by_name.items():
        outside_cli = [p for p in paths if not (name in cli_names and p.startswith("han_emu/cli/"))]
        if len(outside_cli) > 1:
            shared[name] = paths
    return shared


def test_shared_module_names_are_roles() -> None:
    clashes = {name: paths for name, paths in shared_names().items() if name not in ROLE_NAMES}
    lines = [f"  {name}: {', '.join(paths)}" for name, paths in sorted(clashes.items())]
    assert not clashes, "\n".join(
        ["module names shared by modules that hold different things (rename one, or add a role):", *lines])


def test_role_names_are_still_shared() -> None:
    stale = sorted(set(ROLE_NAMES) - set(shared_names()))
    assert not stale, f"role names no longer shared, remove them from ROLE_NAMES: {stale}"
