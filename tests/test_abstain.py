"""When `ask` abstains: the signals of bot/abstain.py on real archives, the shipped model, and the
logistic regression and thresholds the benchmarks fit them with (benchmarks/abstention_fit.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.abstention_fit import answered_threshold, fit, margin_threshold, probabilities
from bot.abstain import SIGNALS, names_found, question_names, signals, time_fit, typed_answer
from bot.abstain_model import MODEL
from bot.answer import ask
from index.search import Filters, search
from index.search.time_phrases import find_window
from tests.conftest import utc

JUNE_9 = Filters(as_of=utc(2022, 6, 9))


def test_a_question_the_archive_answers_is_answered(news_archive):
    answer = ask(news_archive, "Which continent will require a common phone charger?", filters=JUNE_9)
    assert not answer.abstained and answer.citations[0].title == "EU agrees common phone charger rule"
    assert not ask(news_archive, "What did the Kremlin say about Macron's visit?").abstained


@pytest.mark.parametrize(
    "question",
    [
        "Which city council voted to replace its buses with cable cars this week?",
        "Which city council voted to ban USB chargers in schools this week?",  # a near miss: the EU charger story
        "How many tons of saffron did Kashmir export to Norway last year?",
    ],
)
def test_a_question_about_something_absent_is_refused(news_archive, question):
    answer = ask(news_archive, question, filters=JUNE_9)
    assert answer.abstained and answer.citations == []


def test_an_explicit_threshold_still_decides_by_the_confidence_floor(news_archive):
    question = "Which city council voted to ban USB chargers in schools this week?"
    assert not ask(news_archive, question, filters=JUNE_9, threshold=-1.0).abstained


def test_signals_of_a_matching_story(news_archive):
    response = search(
        news_archive, "What did the Kremlin say about Macron's visit?", filters=Filters(as_of=utc(2022, 2, 8))
    )
    values = signals(news_archive, response, "Peskov said no breakthrough could be expected.")
    assert set(values) == set(SIGNALS)
    assert values["rare_lede"] == values["rare_article"] == 1.0 and values["names"] == 1.0
    assert 0.9 < values["time_fit"] < 1.0  # published the day before it was asked
    missing = search(news_archive, "What did the Kremlin say about Biden's visit to Kyiv?")
    assert 0.0 < signals(news_archive, missing, None)["rare_article"] < 1.0


def test_the_names_a_question_gives():
    assert question_names("Which car company just unveiled the EQXX, an electric concept vehicle?") == ["EQXX"]
    assert question_names("Denmark's Queen Margrethe stripped four of her grandchildren of what?") == [
        "Denmark",
        "Queen Margrethe",
    ]
    assert question_names("How many people were rescued this week?") == []
    assert names_found(["Queen Margrethe", "Denmark"], "The queen of Denmark spoke.") == 0.5
    assert names_found([], "anything") == 1.0


def test_an_answer_of_the_kind_asked_for():
    question = "Which car company unveiled the EQXX?"
    assert typed_answer(question, "Mercedes unveiled the EQXX on Monday.") == 1.0
    assert typed_answer(question, "the concept car was unveiled on a stage.") == 0.0
    assert typed_answer("What did the Kremlin expect?", None) == 1.0  # no kind to look for


def test_the_date_fits_the_window_or_the_moment_asked(news_archive):
    def fit_of(question: str, as_of) -> float:  # type: ignore[no-untyped-def]
        return time_fit(search(news_archive, question, filters=Filters(as_of=as_of)))

    charger = "What did the EU agree about phone chargers this week?"
    assert find_window(charger, utc(2022, 6, 9)) is not None
    assert fit_of(charger, utc(2022, 6, 9)) == 1.0  # published 7 June, inside "this week"
    assert fit_of(charger, utc(2022, 7, 20)) == 0.0  # six weeks before "this week"
    plain = "What did the EU agree about phone chargers?"
    assert fit_of(plain, utc(2022, 6, 8)) > fit_of(plain, utc(2022, 7, 8)) > 0.0  # fades with age
    before = search(news_archive, plain, filters=Filters(as_of=utc(2022, 6, 1)))  # asked before it was published
    assert all("charger" not in (r.title or "") for r in before.results)
    assert time_fit(before) < 0.01  # only stories months older remain
    assert fit_of(plain, None) == 1.0  # no moment: nothing to hold against it


def test_the_shipped_model_counts_every_story_signal_for_answering_and_a_larger_archive_against():
    assert set(MODEL.signals) <= set(SIGNALS)
    weights = dict(zip(MODEL.signals, MODEL.weights))
    assert all(w > 0 for s, w in weights.items() if s != "log_chunks")
    assert weights["log_chunks"] < 0, "the same overlap says less in a larger archive"
    small = {"log_chunks": math.log(50_000)}
    low, high = dict.fromkeys(MODEL.signals, 0.0) | small, dict.fromkeys(MODEL.signals, 1.0) | small
    assert not MODEL.answers(low) and MODEL.answers(high)


def test_signals_are_held_inside_the_range_the_model_was_fitted_on():
    assert MODEL.low is not None and MODEL.high is not None
    bounds = dict(zip(MODEL.signals, zip(MODEL.low, MODEL.high)))
    smallest, largest = (math.exp(b) for b in bounds["log_chunks"])
    assert 50_000 < smallest < 60_000 and 300_000 < largest < 320_000, "corpus_5k and the full corpus"
    story = dict.fromkeys(MODEL.signals, 0.8)
    at = {n: MODEL.probability(story | {"log_chunks": math.log(n)}) for n in (10, smallest, largest, 10**8)}
    assert at[10] == at[smallest] > at[largest] == at[10**8]


def test_logistic_regression_and_thresholds():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1.0, 0.5, (60, 2)), rng.normal(-1.0, 0.5, (60, 2))])
    y = np.array([1.0] * 60 + [0.0] * 60)
    model = fit(x, y)
    assert (model[2] > 0).all()
    p = probabilities(model, x)
    assert p[:60].mean() > 0.8 > 0.2 > p[60:].mean()
    cut = margin_threshold(p[:60], p[60:])
    assert (p[:60] >= cut).mean() >= 0.95 and (p[60:] < cut).mean() >= 0.9
    dev, others = np.array([0.1, *np.linspace(0.5, 0.9, 23)]), np.array([0.05, 0.2, 0.55])
    # the highest cut answering 95%: the one low dev question given up (23 of 24 answered), 0.05 and 0.2 refused
    assert answered_threshold(dev, others) == pytest.approx(0.35)


def test_answer_benchmark_cross_validates_the_shipped_abstention_signals():
    from benchmarks.abstention_fit import ONE_SIZE_SIGNALS
    from benchmarks.eval_answers import Table, cross_validate, fold_scores, tune

    assert ONE_SIZE_SIGNALS and "log_chunks" not in ONE_SIZE_SIGNALS
    rng = np.random.default_rng(1)
    answerable = [True] * 40 + [False] * 40
    width = len(ONE_SIZE_SIGNALS)
    x = np.vstack([rng.normal(1.0, 0.3, (40, width)), rng.normal(-1.0, 0.3, (40, width))])
    x[0] = -1.0  # one answerable question that looks unanswerable: its quote cannot count
    quoted = [[i < 30 for i in range(80)], [i < 10 for i in range(80)]]  # grid point 0 quotes more
    t = Table([None, None], quoted, quoted, x, answerable)  # type: ignore[list-item]  # points are only counted
    choice = tune(t, list(range(80)))
    assert choice.point == 0
    whole = fold_scores(t, choice, list(range(80)))
    # the widest margin over answering 95% and refusing 90%: at most one unanswerable question answered
    assert whole["answered"] == pytest.approx(39 / 40) and whole["refused"] >= 39 / 40
    assert whole["quoted"] == pytest.approx(29 / 40), "the refused question's quote is not counted"
    held = cross_validate(t)["held_out"]
    assert held["answered"] == pytest.approx(39 / 40) and held["refused"] >= 0.9
