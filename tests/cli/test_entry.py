"""The console script's first second: a Ctrl+C while the command is still loading."""

from __future__ import annotations

import subprocess
import sys

INTERRUPTED_WHILE_LOADING = """
import builtins, sys
real = builtins.__import__
def interrupted(name, *args, **kwargs):
    if name == "station.cli":  # as if Ctrl+C came while click and the store were loading
        raise KeyboardInterrupt
    return real(name, *args, **kwargs)
builtins.__import__ = interrupted
from station.entry import main
main()
"""


def test_ctrl_c_while_the_command_loads_ends_quietly_not_in_a_traceback():
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_WHILE_LOADING],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 130
    assert "Traceback" not in done.stderr and done.stderr == ""


def test_the_console_script_and_python_m_station_start_the_same_command():
    for argv in ([sys.executable, "-m", "station", "--version"],
                 [sys.executable, "-c", "from station.entry import main; main()", "--version"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "version" in done.stdout, done.stderr
