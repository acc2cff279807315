"""The ``station`` command's entry point, kept apart from everything it loads.

Loading the command (click, the store, the crypto libraries) takes a second or two on a
slow laptop. A Ctrl+C in that time would end in a Python traceback, because nothing that
could catch it has loaded yet; here it ends the way a Ctrl+C later does (exit 130).
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from station.cli import main as run
    except KeyboardInterrupt:
        sys.exit(130)
    run()
