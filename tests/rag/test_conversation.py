"""Follow-ups are made standalone from the conversation; standalone questions are left alone."""

from rag.conversation import Turn, standalone_question


def convo(*questions: str) -> list[Turn]:
    turns = []
    for q in questions:
        turns += [Turn("user", q), Turn("assistant", "An answer. [1]")]
    return turns[:-1]


def test_a_standalone_question_is_unchanged() -> None:
    rewrite = standalone_question(
        convo("Who signed the treaty?", "What is bamboo diplomacy in Vietnam?")
    )
    assert rewrite.question == rewrite.focus == "What is bamboo diplomacy in Vietnam?"


def test_a_follow_up_with_a_pronoun_or_leading_and_carries_the_earlier_question() -> None:
    rewrite = standalone_question(
        convo("What did Putin and Kim sign in Pyongyang?", "and when was it signed?")
    )
    assert rewrite.question == (
        "When was it signed? (follow-up to: What did Putin and Kim sign in Pyongyang?)"
    )
    assert rewrite.focus == "When was it signed?"


def test_follow_ups_chain_back_through_the_conversation() -> None:
    rewrite = standalone_question(
        convo("Who did Putin meet in Vietnam?", "and his ministers?", "what about them?")
    )
    assert "Who did Putin meet in Vietnam?" in rewrite.question
    assert "ministers" in rewrite.question


def test_assistant_and_system_turns_are_not_questions() -> None:
    turns = [Turn("system", "Be brief."), Turn("user", "Who is To Lam?")]
    assert standalone_question(turns).question == "Who is To Lam?"
    assert standalone_question([Turn("system", "x")]).question == ""


def test_he_and_she_become_the_person_the_earlier_question_named() -> None:
    rewrite = standalone_question(convo("Who is To Lam?", "and when did he meet Putin?"))
    assert rewrite.question == rewrite.focus == "When did To Lam meet Putin?"
    rewrite = standalone_question(
        convo("Who is Choe Son Hui?", "what did she say about her visit?")
    )
    assert rewrite.question == "What did Choe Son Hui say about Choe Son Hui's visit?"


def test_it_and_they_become_what_the_earlier_question_asked_about() -> None:
    rewrite = standalone_question(
        convo("What is the Comprehensive Strategic Partnership treaty?", "when was it signed?")
    )
    assert rewrite.question == "When was the Comprehensive Strategic Partnership treaty signed?"
    rewrite = standalone_question(convo("Who are the Houthis?", "what do they want?"))
    assert rewrite.focus == "What do the Houthis want?"


def test_a_pronoun_with_nothing_definite_to_stand_for_is_left_with_the_earlier_question() -> None:
    rewrite = standalone_question(convo("What did Putin sign in Hanoi?", "how many agreements?"))
    assert rewrite.question == "How many agreements? (follow-up to: What did Putin sign in Hanoi?)"


def test_a_follow_up_without_a_pronoun_keeps_the_earlier_question() -> None:
    rewrite = standalone_question(
        convo(
            "Which ministers accompanied Putin to North Korea?",
            "and who was on the North Korean side?",
        )
    )
    assert rewrite.question == (
        "Who was on the North Korean side? (follow-up to: Which "
        "ministers accompanied Putin to North Korea?)"
    )
