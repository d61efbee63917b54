"""``python -m benchmarks {toptw,vrptw,rural} ...``: routing quality versus PyVRP.

Each sub-command is documented in its module (:mod:`benchmarks.toptw`,
:mod:`benchmarks.vrptw`, :mod:`benchmarks.rural`) and in ``benchmarks/README.md``.
Other benchmarks of this package (``benchmarks.dispatch``...) run as their own modules.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    from benchmarks import rural, toptw, vrptw

    for name, module, help_text in (
        ("toptw", toptw, "team orienteering with time windows (maximise score)"),
        ("vrptw", vrptw, "Solomon / Gehring-Homberger VRPTW (minimise distance, all visits)"),
        ("rural", rural, "synthetic rural territories: the app's full model"),
    ):
        p = sub.add_parser(name, help=help_text, description=module.__doc__.split("\n\n")[0])
        module.add_arguments(p)
        p.set_defaults(main=module.main)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.main(args))


if __name__ == "__main__":
    sys.exit(main())
