"""The phrasing corpus: residents' real ways of answering must keep being understood.

``python -m benchmarks.sms_phrasing`` prints the same measure with every miss; this test
fails when the first-try success rate drops below what the dialogue reaches today.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.sms_phrasing import CORPUS, load_cases, report, run_corpus

HOLDOUT = CORPUS.with_name("sms_phrasing_holdout.toml")
#: Share understood on the first try. Today: 100 % of the corpus and 99.3 % of the held-out
#: set ("gérer", an autocorrected Guéret, is missed). At their first runs, the held-out
#: set's two batches scored 94.0 % and 90.8 %.
MIN_FIRST_TRY_RATE = 0.97


def test_the_corpus_covers_every_step_with_many_phrasings() -> None:
    cases = load_cases()
    steps = {case.step for case in cases}
    assert {"commune", "service", "slot", "confirmation", "cancellation", "my bookings"} <= steps
    assert len(cases) >= 200


@pytest.mark.parametrize("corpus", [CORPUS, HOLDOUT], ids=["corpus", "held-out"])
def test_residents_are_understood_on_the_first_try(corpus: Path) -> None:
    outcomes = run_corpus(corpus)
    assert all(o.setup_ok for o in outcomes), report(outcomes)
    rate = sum(o.understood for o in outcomes) / len(outcomes)
    assert rate >= MIN_FIRST_TRY_RATE, report(outcomes)
