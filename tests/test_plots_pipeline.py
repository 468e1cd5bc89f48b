"""llmlab.plots.pipeline: the course map figure names the right lessons and the committed PNG is reproducible."""

from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np

from llmlab import course
from llmlab.plots import pipeline

ROOT = Path(__file__).resolve().parents[1]


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts) + fig._suptitle.get_text()


def test_each_step_is_covered_by_a_lesson():
    stems = [pipeline.lesson_for_step(n).stem for n in "1234"]
    assert stems == ["01_word_embeddings", "02_positional_encoding", "03_attention", "04_mini_gpt"]
    assert pipeline.lesson_for_step("9") is None


def test_figure_labels_the_four_steps_and_their_lessons():
    fig = pipeline.draw_pipeline(prompt="Hello", next_token=" world")
    try:
        text = _texts(fig)
        for step in (
            "Word embedding",
            "Positional encoding",
            "Transformer blocks",
            "Text generation",
        ):
            assert step in text
        for part in ("self-attention", "feed-forward", "autoregression"):
            assert part in text
        for n in "1234":
            assert pipeline.lesson_for_step(n).title in text
        assert "Hello" in text and "world" in text
        assert course.LESSONS[0].title not in text  # lesson 00 is the map itself, not a step
    finally:
        plt.close(fig)


def test_committed_png_matches_a_fresh_drawing(tmp_path):
    committed = ROOT / "images" / "transformer_pipeline.png"
    assert committed.is_file(), (
        "run `python -m llmlab.plots.pipeline` to draw images/transformer_pipeline.png"
    )
    fresh = pipeline.save_pipeline(tmp_path / "fresh.png")
    a, b = mpimg.imread(committed), mpimg.imread(fresh)
    assert a.shape == b.shape
    # Byte-identical with the same matplotlib and fonts; allow a little anti-aliasing drift elsewhere.
    assert np.abs(a - b).mean() < 0.01, "images/transformer_pipeline.png is stale: redraw it"
