"""``python -m bench [NAME ...] [--quick] [--repeats N] [--keep] [--strict]``.

Runs the named benchmarks (all of them when none is named), prints each one's table and
writes ``bench/out/<name>.json`` (``<name>.quick.json`` with ``--quick``). Missed targets
are reported in the table and the JSON; the exit status is 1 for them only with
``--strict`` (a smoke test runs ``--quick`` and checks that it works, not how fast a shared
machine happened to be).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench import BENCHMARKS
from bench.common import OUT_DIR, log, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the station benchmarks: tables on stdout, JSON in bench/out/.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and fewer repeats, for a smoke test")
    parser.add_argument("--repeats", type=int, default=None,
                        help="repeats of each measurement (default 5, or 3 with --quick)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch stations under bench/out/tmp")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a target is missed")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    names = list(dict.fromkeys(args.names)) or list(BENCHMARKS)
    summary = []
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        log(f"{name}: starting{' (quick)' if args.quick else ''}")
        report = module.run(quick=args.quick, repeats=args.repeats, keep=args.keep)
        report.finish(OUT_DIR)
        summary += [[name, t.metric, t.shown, t.target, "yes" if t.ok else "NO"]
                    for t in report.targets]
    print(table(["bench", "target", "value", "limit", "ok"], summary, title="summary"))
    missed = sum(1 for row in summary if row[-1] != "yes")
    if missed and args.strict:
        print(f"{missed} target(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
