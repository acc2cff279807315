"""Worker processes that hold keys end with the process that started them.

The station's pull and import workers hold the vault's data key, the centre's check workers
its seal key. A process pool's workers wait for work on a queue they themselves keep open,
so when the process that started them is killed — a laptop's power button held down,
``kill -9``, the kernel out of memory — they would wait for ever with the keys in memory.
Each worker watches its parent instead, and exits as soon as it is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import threading


def end_with_parent() -> None:
    """Call first in a pool worker's initializer."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the start-up pipe closes
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()
