"""llmlab.plots.speedrun: the recorded speedrun as bars, and the shipped record's shape."""

import matplotlib

matplotlib.use("Agg")

from llmlab.plots import speedrun  # noqa: E402

RECORD = {
    "date": "2026-01-01 00:00 UTC",
    "machine": "test CPU, 2 cores",
    "threads": 2,
    "load": 0.5,
    "target": 1.98,
    "trials": [
        {
            "name": "nanoGPT",
            "time_to_target": 90.0,
            "train_s": 90.0,
            "cpu_to_target": 180.0,
            "cpu_s": 180.0,
        },
        {
            "name": "+ lever",
            "time_to_target": 30.0,
            "train_s": 35.0,
            "cpu_to_target": 60.0,
            "cpu_s": 70.0,
            "kept": True,
        },
        {
            "name": "+ loser",
            "time_to_target": None,
            "train_s": 20.0,
            "cpu_to_target": None,
            "cpu_s": 40.0,
            "kept": False,
        },
        {"name": "+ off here", "skipped": "no bfloat16 on this processor", "kept": False},
        {
            "name": "recipe",
            "time_to_target": 29.0,
            "train_s": 33.0,
            "cpu_to_target": 45.0,
            "cpu_s": 50.0,
            "final_recipe": True,
        },
    ],
}


def test_bars_one_per_trial_that_ran_and_unreached_hatched():
    fig = speedrun.time_to_loss_bars(RECORD, clock="wall")
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 4
    widths = [b.get_width() for b in bars]
    assert widths == [90.0, 30.0, 20.0, 29.0]  # an unreached trial: its whole run
    assert bars[2].get_hatch() == "//" and not bars[1].get_hatch()
    labels = [t.get_text() for t in ax.texts]
    assert "3.00x" in " ".join(labels) and "not reached in 20 s" in labels
    assert "1.980" in ax.get_xlabel() and "wall time" in ax.get_xlabel()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "+ off here" not in ticks  # a lever that did not run


def test_bars_in_cpu_time_by_default():
    ax = speedrun.time_to_loss_bars(RECORD).axes[0]
    assert [b.get_width() for b in ax.patches] == [180.0, 60.0, 40.0, 45.0]
    assert "4.00x" in " ".join(t.get_text() for t in ax.texts)
    assert "CPU time" in ax.get_xlabel()


def test_shipped_record_is_complete():
    record = speedrun.load_record()
    assert {"date", "machine", "threads", "load", "target", "trials"} <= set(record)
    first = record["trials"][0]
    assert first["name"].startswith("nanoGPT") and first["time_to_target"] > 0
    assert first["cpu_to_target"] > 0
    assert sum(bool(t.get("final_recipe")) for t in record["trials"]) == 1
