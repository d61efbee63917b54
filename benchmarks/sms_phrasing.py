"""``python -m benchmarks.sms_phrasing``: how often residents are understood on the first try.

Runs every phrasing of ``tests/data/sms_phrasing.toml`` through the real dialogue (message
bus, SQLite, the test valley, a fixed clock) and prints the share understood on the first
try, per step and overall, and the phrasings that were not (with what the resident read).
A phrasing is understood when what the resident reads next contains the expected text
(or is nothing at all when the expected text is empty).
``--verbose`` prints every phrasing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from sqlmodel import SQLModel

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.sms_simulation import SimulatedPhone
from mobile_services.storage.db import make_engine
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from tests.fixtures.valley import NOW, build_valley

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "sms_phrasing.toml"
SERVICE_NUMBER = "+33939000000"


@dataclass(frozen=True)
class Case:
    step: str
    setup: tuple[str, ...]
    text: str
    expected: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    read: tuple[str, ...]
    setup_ok: bool

    @property
    def understood(self) -> bool:
        if not self.setup_ok:
            return False
        if not self.case.expected:  # the right answer is no SMS at all ("merci" after a booking)
            return not self.read
        return any(self.case.expected in body for body in self.read)


def load_cases(path: Path = CORPUS) -> list[Case]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    cases: list[Case] = []
    for step in data["step"]:
        for phrasing in step["phrasings"]:
            text, expected = (
                (phrasing, step["expected"]) if isinstance(phrasing, str) else (phrasing["text"], phrasing["expected"])
            )
            cases.append(Case(step=step["name"], setup=tuple(step["setup"]), text=text, expected=expected))
    return cases


def run_cases(cases: Sequence[Case], workdir: Path) -> Iterator[Outcome]:
    """Each case on a fresh valley (bookings would otherwise fill its few slots)."""
    numbers = count(1)
    for index, case in enumerate(cases):
        engine = make_engine(f"sqlite:///{(workdir / f'case{index}.db').as_posix()}")
        try:
            SQLModel.metadata.create_all(engine)
            build_valley(engine)
            clock = FixedClock(NOW)
            settings = Settings(data_dir=workdir, public_base_url="https://rdv.example.fr")
            bus = bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=clock)
            phone = SimulatedPhone(
                bus=bus, engine=engine, clock=clock, phone=f"+336123{next(numbers):05d}", to_number=SERVICE_NUMBER
            )
            setup_ok = all(phone.send(text).received or text.upper() == "OUI" for text in case.setup)
            yield Outcome(case=case, read=phone.send(case.text).received, setup_ok=setup_ok)
        finally:
            engine.dispose()


def run_corpus(path: Path = CORPUS) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="sms-phrasing-") as workdir:
        return list(run_cases(load_cases(path), Path(workdir)))


def report(outcomes: Sequence[Outcome], *, verbose: bool = False) -> str:
    lines: list[str] = []
    steps = list(dict.fromkeys(o.case.step for o in outcomes))
    for step in steps:
        mine = [o for o in outcomes if o.case.step == step]
        ok = sum(o.understood for o in mine)
        lines.append(f"{step:<34} {ok:>3}/{len(mine):<3} {100 * ok / len(mine):5.1f} %")
    ok = sum(o.understood for o in outcomes)
    lines.append(f"{'first-try success, all steps':<34} {ok:>3}/{len(outcomes):<3} {100 * ok / len(outcomes):5.1f} %")
    for outcome in outcomes:
        if verbose or not outcome.understood:
            mark = "ok  " if outcome.understood else "MISS"
            read = " | ".join(outcome.read).replace("\n", " / ") or "(nothing)"
            lines.append(f"{mark} [{outcome.case.step}] {outcome.case.text!r} -> {read[:150]}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sms_phrasing", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--verbose", action="store_true", help="print every phrasing, not only the misses")
    args = parser.parse_args(argv)
    print(report(run_corpus(args.corpus), verbose=args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
