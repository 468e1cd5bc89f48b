"""Figure of lesson 04's "What makes training fast": the CPU speedrun's recorded trials.

``benchmarks/bench_training.py --levers`` measures, in one run on one machine, nanoGPT's CPU recipe and
then the course's levers one at a time: the wall time each needs to reach nanoGPT's final validation
loss. It writes the table into ``benchmarks/RESULTS.md`` and the numbers into ``data/speedrun.json``,
which this module reads (the lesson shows the record; it does not re-run the sweep).

- :func:`load_record`: the recorded run (machine, date, load, target loss, one entry per trial).
- :func:`time_to_loss_bars`: one bar per trial that ran (a lever that switched itself off on the
  recording machine has none), seconds to the target (process CPU time by default: on a
  shared machine other jobs move wall time between trials), nanoGPT's time and a third of it drawn across.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt

from llmlab.paths import data_dir

RECORD_FILE = "speedrun.json"


def load_record() -> dict:
    """``data/speedrun.json``: {"date", "machine", "threads", "load", "target", "trials": [...]}."""
    return json.loads((data_dir() / RECORD_FILE).read_text(encoding="utf-8"))


def time_to_loss_bars(record: dict, clock: str = "cpu"):
    """Horizontal bars: each trial's time to the target loss (a hatched bar: not reached in its run).

    ``clock="cpu"``: process CPU time (``cpu_to_target``, ``cpu_s``); ``"wall"``: wall time.
    """
    key, total = ("cpu_to_target", "cpu_s") if clock == "cpu" else ("time_to_target", "train_s")
    # a lever that switched itself off on the recording machine gets no bar
    trials = [t for t in record["trials"] if not t.get("skipped")]
    base = trials[0][key]
    labels = [t["name"] for t in trials]
    reached = [t[key] is not None for t in trials]
    longest = max(t[total] for t in trials)
    seconds = [t[key] if ok else t[total] for t, ok in zip(trials, reached, strict=True)]
    colours = []
    for t in trials:
        if t.get("final_recipe"):
            colours.append("#55a868")
        elif t is trials[0]:
            colours.append("#c44e52")
        else:
            colours.append("#4c72b0" if t.get("kept", True) else "0.65")
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(trials) + 1.6))
    y = list(range(len(trials)))[::-1]
    bars = ax.barh(y, seconds, color=colours)
    for bar, ok, s, t in zip(bars, reached, seconds, trials, strict=True):
        if not ok:
            bar.set_hatch("//")
            bar.set_alpha(0.5)
        text = f"{s:.0f} s ({base / s:.2f}x)" if ok else f"not reached in {t[total]:.0f} s"
        ax.text(
            s + longest * 0.01, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8
        )
    ax.axvline(base, color="#c44e52", ls="--", lw=1)
    ax.axvline(base / 3, color="#55a868", ls=":", lw=1.5)
    ax.text(base / 3, len(trials) - 0.4, " goal: 1/3 of nanoGPT", color="#55a868", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, longest * 1.25)
    what = "process CPU time" if clock == "cpu" else "wall time"
    ax.set_xlabel(f"training {what} to validation loss {record['target']:.3f} (s)")
    ax.set_title(
        "Time to nanoGPT's 2,000-step validation loss, all trials in one run\n"
        f"recorded on {record['machine']}, {record['threads']} torch threads, {record['date']} "
        f"(load average {record['load']:.1f} at the start)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
