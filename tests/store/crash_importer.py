"""A child process for the import crash test: imports a file, reporting its progress.

It prints ``P <rows validated>`` as the import goes (the writing keeps pace) and ``done`` if
it ever finishes; the parent kills it with SIGKILL half-way and checks nothing of the file
was kept.
"""

import sys
from pathlib import Path

from station.store.importer import import_file
from station.store.service import Station


def main() -> None:
    home, passphrase, path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    station = Station.open(home, passphrase)
    import_file(station, path, progress=lambda done, total: print(f"P {done}", flush=True))
    print("done", flush=True)


if __name__ == "__main__":
    main()
