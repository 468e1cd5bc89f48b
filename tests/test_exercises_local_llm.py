"""Lesson 07's checkers accept the worked solutions and reject the usual mistakes."""

import matplotlib

from llmlab.exercises import local_llm as ex
from llmlab.memory import LLAMA2

matplotlib.use("Agg")


def test_solutions_pass(capsys):
    assert ex.check_q4_0_size((18, 4.5))
    assert ex.check_hand_quantization([2, -8, 1, 4, -3, 0, 7, -1])
    assert ex.check_13b_weights(13_015_864_320 / 32 * 18 / 1e9)  # Q4_0: 18-byte blocks of 32
    assert ex.check_kv_cache_70b(2 * 80 * 8 * 128 * 2)
    assert ex.check_speed_bound(100e9 / (6_738_415_616 * 4.5 / 8))
    assert capsys.readouterr().out.count("Correct!") == 5


def test_mistakes_get_hints(capsys):
    assert not ex.check_q4_0_size((16, 4.0))
    assert not ex.check_hand_quantization([2, 8, 1, 4, -3, 0, 7, -1])
    assert not ex.check_13b_weights(LLAMA2["LLaMA 2 13B"].published_params * 0.5 / 1e9)
    assert not ex.check_kv_cache_70b(2 * 80 * 64 * 128 * 2)
    assert not ex.check_speed_bound(100)
    assert not ex.check_speed_bound(None)
    out = capsys.readouterr().out
    assert out.count("Not yet") == 6 and "float16 scale" in out and "8 among its 64" in out


def test_figures_draw():
    import numpy as np

    from llmlab import inference
    from llmlab.plots import local_llm as plots

    runs = [
        {
            "label": "GPT-2 style",
            "evals": [{"step": 0, "val_loss": 4.5}, {"step": 2, "val_loss": 3.0}],
            "step_seconds": [0.1, 0.2],
        },
        {
            "label": "LLaMA style",
            "evals": [{"step": 0, "val_loss": 4.5}, {"step": 2, "val_loss": 2.9}],
            "step_seconds": [0.15, 0.3],
        },
    ]
    assert len(plots.training_curves(runs).axes) == 2
    block = np.linspace(-1, 1, 32)
    assert plots.block_picture(block, {"Q8_0": block, "Q4_0": block}).axes
    errs = {
        "Q8_0": {"a": np.ones(10), "b": np.ones(10)},
        "Q4_0": {"a": np.ones(10), "b": -np.ones(10)},
    }
    assert len(plots.error_histograms(errs, ["a", "b"]).axes) == 2
    fig = plots.layer_errors({"Q8_0": {"a": 0.01}, "Q4_0": {"a": 0.1}})
    assert fig.axes[0].get_xlabel().startswith("linear layer")
    assert plots.memory_bars(inference.inference_memory_table()).axes
