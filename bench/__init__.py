"""Performance benchmarks (DESIGN §10): ``python -m bench [NAME ...] [--quick]``.

Each benchmark times the station against a bare-SQLite baseline measured in the same run,
takes medians of several repeats (the machines are shared and noisy), prints a table and
writes ``bench/out/<name>.json`` with one ``{"metric", "target", "value", "ok"}`` entry per
target. Targets are read from that JSON, never timed inside unit tests.
"""

BENCHMARKS = {
    "save": "bench.save",
    "import": "bench.import",  # ``import`` is a keyword: loaded with importlib
    "merge": "bench.merge",
    "sync": "bench.sync",
    "tui": "bench.tui",
}
