"""A child process for the G1 test: saves changes in a loop and reports each one saved.

It prints ``S <record id> <hlc of the change>`` only after ``Station`` returned, i.e. after
the commit; the parent kills it with SIGKILL at a random moment and checks every reported
change survived, whole.
"""

import random
import sys
from pathlib import Path

from station.store.service import Station


def main() -> None:
    home, passphrase = Path(sys.argv[1]), sys.argv[2]
    rng = random.Random(int(sys.argv[3]))
    station = Station.open(home, passphrase)
    mine: list[str] = []
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        if mine and rng.random() < 0.5:
            record = station.update(rng.choice(mine),
                                    {"resident.phone": f"139{rng.randrange(10**8):08d}"})
        else:
            record = station.create("resident", {"resident.name": f"居民{i}",
                                                 "resident.address": f"青石村{i}号"})
            mine.append(record.id)
        print(f"S {record.id} {record.updated}", flush=True)


if __name__ == "__main__":
    main()
