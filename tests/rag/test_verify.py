"""Citation checks: claims cut from generated text, and each judged against its passage."""

import pytest

from rag.verify import Checker, Claim, Passage, claims, figures, settled

SOURCE = (
    "Putin was accompanied on his trip by Defence Minister Andrei Belousov and Foreign "
    "Minister Sergey Lavrov. The visit to Pyongyang lasted two days.\n"
    "Vietnam and Russia signed 11 agreements in Hanoi. Oil and gas were among the fields."
)
CUT = SOURCE.index("Vietnam")
PASSAGES = [
    Passage(1, "a.txt", "Trip", SOURCE[: CUT - 1], 0, CUT - 1),
    Passage(2, "a.txt", "Trip", SOURCE[CUT:], CUT, len(SOURCE)),
]


@pytest.fixture
def checker(embedder) -> Checker:
    return Checker(PASSAGES, embedder, threshold=0.6)


def test_claims_take_their_markers_wherever_the_model_put_them() -> None:
    found = claims("Lavrov went along [1]. Eleven deals were signed. [2][1] It was hot. [3, 4]")
    assert found == [
        Claim("Lavrov went along.", (1,)),
        Claim("Eleven deals were signed.", (2, 1)),
        Claim("It was hot.", (3, 4)),
    ]


def test_a_sentence_is_settled_only_once_the_next_one_has_begun() -> None:
    assert settled("Lavrov went along. [1") == ([], 0)  # its marker may still be coming
    assert settled("Lavrov went along. [1] The") == ([Claim("Lavrov went along.", (1,))], 1)
    assert settled("Lavrov went along [1].") == ([], 0)


def test_figures_are_numbers_in_any_spelling_months_and_weekdays() -> None:
    assert figures("Trade grew nine times in 2023, to 1,200 units, on Monday in May") == {
        "9",
        "2023",
        "1200",
        "monday",
        "may",
    }
    assert figures("It may rain") == set()


def test_a_paraphrase_of_the_cited_passage_is_kept_with_the_exact_quote(checker) -> None:
    verdict = checker.check(
        Claim("Foreign Minister Sergey Lavrov went with Putin on the trip.", (1,))
    )
    [support] = verdict.supported
    assert support.quote.text == SOURCE[support.quote.start : support.quote.end]
    assert (
        support.quote.text == SOURCE[: SOURCE.index(" The visit")]
    )  # the one sentence that says it
    assert not verdict.attributed


def test_a_true_sentence_citing_the_wrong_passage_is_dropped(checker) -> None:
    verdict = checker.check(
        Claim("Foreign Minister Sergey Lavrov went with Putin on the trip.", (2,))
    )
    assert not verdict.supported and verdict.reason.startswith("[2] does not say it")


def test_an_invented_figure_is_dropped_even_when_the_words_match(checker) -> None:
    verdict = checker.check(Claim("Vietnam and Russia signed 15 agreements in Hanoi.", (2,)))
    assert not verdict.supported and verdict.reason == "gives 15, which [2] does not"
    assert checker.check(Claim("Vietnam and Russia signed 11 agreements in Hanoi.", (2,))).supported


def test_a_source_that_was_not_given_is_never_accepted(checker) -> None:
    verdict = checker.check(Claim("Vietnam and Russia signed 11 agreements in Hanoi.", (7,)))
    assert not verdict.supported and verdict.reason == "cites [7], which was not given"


def test_an_uncited_sentence_is_attributed_only_when_a_passage_says_it(checker) -> None:
    verdict = checker.check(Claim("Russia and Vietnam signed 11 agreements.", ()))
    assert verdict.attributed and [s.passage.number for s in verdict.supported] == [2]
    unsupported = checker.check(Claim("The weather in Hanoi was very hot that week.", ()))
    assert (
        not unsupported.supported and unsupported.reason == "cites no source, and no source says it"
    )


def test_a_sentence_that_only_restates_the_question_is_not_an_answer(embedder) -> None:
    checker = Checker(PASSAGES, embedder, 0.6, question="Who accompanied Putin on his trip?")
    verdict = checker.check(Claim("Putin was accompanied on his trip.", (1,)))
    assert not verdict.supported and verdict.reason == "only repeats the question"
    assert checker.check(Claim("Lavrov accompanied Putin on his trip.", (1,))).supported
