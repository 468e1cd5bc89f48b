"""How long one update of the model explorer takes, for 64-character prompts (a measurement, no pass/fail).

    python benchmarks/bench_widgets.py --threads 2        # writes its section of benchmarks/RESULTS.md

The issue asks that every update of ``llmlab.widgets.model_explorer`` for a 64-character prompt
take under 200 ms on a CPU with the course model. An update is what the kernel does after a
control changes: recompute (a new prompt runs the model once, with forward hooks; the other
controls reuse that pass), build the plotly figure, and turn it into the JSON message the kernel
sends (``_repr_mimebundle_`` with the ``plotly_mimetype`` renderer). The browser's drawing time is
not included (it depends on the learner's machine, not on Python).

Each kind of change is timed on ``--prompts`` different 64-character windows of the course corpus:
a new prompt, another layer/head, another query token, another sampler setting, and the
"next token" button (sample, append, then the update of a new prompt). The table gives the median
and the slowest update of each, and goes into ``benchmarks/RESULTS.md`` between the
``<!-- bench_widgets -->`` markers (the rest of the file is left as it is).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

import plotly.io as pio
import torch

from llmlab import widgets
from llmlab.data import load_text
from llmlab.environment import cpu_name
from llmlab.training import load_course_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import replace_section  # noqa: E402  (benchmarks/results_md.py)

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- bench_widgets -->", "<!-- /bench_widgets -->"


def timed(explorer, change) -> float:
    """Milliseconds for ``change(explorer)`` (which triggers an update) plus the figure's JSON."""
    start = time.perf_counter()
    change(explorer)
    explorer._bundle()
    elapsed = (time.perf_counter() - start) * 1e3
    assert explorer.message.value == "" or "context" in explorer.message.value, (
        explorer.message.value
    )
    return elapsed


def measure(prompts: list[str], model, tokenizer) -> dict[str, list[float]]:
    ex = widgets.model_explorer(model, tokenizer, prompt=prompts[-1])
    ex._bundle()  # the renderer's first use sets itself up: not an update
    L = model.config.n_layer
    changes = {
        "new prompt (forward pass + figure)": lambda e, p: setattr(e.prompt, "value", p),
        "layer (or head)": lambda e, p: setattr(e.layer, "value", (e.layer.value + 1) % L),
        "query token (line view)": lambda e, p: setattr(e.query, "value", (e.query.value + 7) % 64),
        "temperature / top-k / top-p": lambda e, p: setattr(
            e.top_p, "value", 0.5 if e.top_p.value > 0.5 else 0.9
        ),
        "next token button (sample, append, update)": lambda e, p: e.next_token(),
    }
    times: dict[str, list[float]] = {name: [] for name in changes}
    for p in prompts:
        for name, change in changes.items():
            if name != "new prompt (forward pass + figure)":
                ex.prompt.value = p  # same prompt length for each kind of change
            times[name].append(timed(ex, lambda e, c=change, p=p: c(e, p)))
    return times


def section(times: dict[str, list[float]], meta: dict) -> str:
    lines = [
        BEGIN,
        "## Model explorer: time of one update",
        "",
        f"Written by `python benchmarks/bench_widgets.py {meta['argv']}` on {meta['date']}.",
        f"Machine: {meta['cpu']}, {meta['cores']} cores, torch {meta['torch']}, plotly {meta['plotly']}, "
        f"**{meta['threads']} torch thread(s)**; load average {meta['load']:.1f} at the start, "
        f"{meta['load_end']:.1f} at the end"
        + (
            " (shared with other jobs: times are inflated)."
            if max(meta["load"], meta["load_end"]) > 1.5
            else "."
        ),
        "",
        f"Course model, {meta['n']} different 64-character prompts from the course corpus; one update = recompute,",
        "build the figure, make the JSON the kernel sends (the browser's drawing not included). Target: under 200 ms.",
        "",
        "| change | median | slowest |",
        "|---|---:|---:|",
    ]
    for name, ms in times.items():
        lines.append(f"| {name} | {statistics.median(ms):.0f} ms | {max(ms):.0f} ms |")
    slowest = max(max(ms) for ms in times.values())
    lines += [
        "",
        f"Slowest update of all: **{slowest:.0f} ms** ({'under' if slowest < 200 else 'over'} the 200 ms target).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=20, help="how many 64-character prompts")
    parser.add_argument(
        "--out", default=str(HERE / "RESULTS.md"), help="Markdown file to update ('' = print only)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pio.renderers.default = "plotly_mimetype"
    pio.templates.default = "plotly_white"
    ckpt = load_course_model()
    text = load_text("wiki-news")
    known = set(ckpt.tokenizer.chars) if hasattr(ckpt.tokenizer, "chars") else None
    step = len(text) // (args.prompts + 1)
    prompts = [text[i * step : i * step + 64] for i in range(1, args.prompts + 1)]
    prompts = [p for p in prompts if known is None or set(p) <= known]
    meta = dict(
        argv=f"--threads {args.threads} --prompts {args.prompts}",
        n=len(prompts),
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=cpu_name(),
        cores=os.cpu_count(),
        torch=torch.__version__,
        threads=args.threads,
        plotly=__import__("plotly").__version__,
        load=os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0,
    )
    times = measure(prompts, ckpt.model, ckpt.tokenizer)
    meta["load_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    out = section(times, meta)
    print(out)
    if args.out:
        replace_section(Path(args.out), BEGIN, END, out)


if __name__ == "__main__":
    main()
