"""Tests of the lesson-06 checkers: right answers pass, wrong ones get a hint, nothing raises."""

from llmlab.exercises import families as ex

GOOD_CLAIMS = {
    "GPT-2's context was 1024 tokens": True,
    "GPT-3's context was 4096 tokens": False,
    "LLaMA 1 and Llama 2 have the same context length": False,
    "OpenAI published GPT-4's parameter count": False,
    "BERT-Large has twice as many layers as BERT-Base": True,
}


def test_placeholders_get_a_hint(capsys):
    for check in (
        ex.check_family_for_task,
        ex.check_mlm_counts,
        ex.check_span_corruption,
        ex.check_claims,
    ):
        assert check(None) is False
    assert capsys.readouterr().out.count("Not yet") == 4


def test_right_answers_pass(capsys):
    assert ex.check_family_for_task(
        {
            "sentiment of a product review": "encoder",
            "tag the people and places in a sentence (named entities)": "Encoder",
            "translate English to German": "encoder-decoder",
            "summarise a news article": " encoder-decoder",
            "continue a story from its first line": "decoder",
        }
    )
    assert ex.check_mlm_counts((76.8, 61.44))
    assert ex.check_span_corruption(
        (
            "Thank you <X> me to your party <Y> week .".split(),
            "<X> for inviting <Y> last <Z>".split(),
        )
    )
    assert ex.check_claims(GOOD_CLAIMS)
    assert capsys.readouterr().out.count("Correct!") == 4


def test_wrong_answers_fail_with_hints(capsys):
    assert not ex.check_family_for_task({t: "decoder" for t in ex.TASKS})
    assert not ex.check_mlm_counts((76.8, 76.8))
    assert not ex.check_span_corruption(
        ("Thank you <X> me to your party <Y> week .".split(), "<X> for inviting <Y> last".split())
    )
    assert not ex.check_claims({**GOOD_CLAIMS, "GPT-3's context was 4096 tokens": True})
    assert not ex.check_mlm_counts("seventy")  # malformed: a hint, not a traceback
    out = capsys.readouterr().out
    assert out.count("Not yet") == 5 and "Traceback" not in out
