"""Training benchmark: nanoGPT's CPU recipe with llmlab, its FLOP/s, and the course recipe.

    python benchmarks/bench_training.py --threads 2            # compare + speedrun, ~6 min on 2 free cores
    python benchmarks/bench_training.py --threads 2 --levers   # + the lever sweep (~15 min), data/speedrun.json

Writes its own marked section of benchmarks/RESULTS.md (``<!-- bench_training -->``) and RESULTS.json.

What it measures, all on the embedded corpus (``wiki-news``, char-level, last 10% held out):

1. The CPU's practical peak: the best FLOP/s of a large float32 matmul (``n x n @ n x n``,
   ``2 n^3`` flops) with the same thread count, by wall clock and per CPU-second.
2. Training throughput of ``llmlab.gpt.GPT`` against a faithful copy of nanoGPT's own model
   (``NanoGPT`` below, from https://github.com/karpathy/nanoGPT/blob/master/model.py, MIT),
   same shape, each with its own training step (llmlab's fused AdamW; nanoGPT's optimizer as its
   ``configure_optimizers`` builds it on a CPU), and llmlab's model with nanoGPT's step, timed in
   interleaved rounds so that all see the same load.
3. nanoGPT's CPU recipe (README: ``--device=cpu --compile=False --eval_iters=20
   --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
   --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0``, lr 1e-3) trained with
   ``llmlab.training.train``: tokens/s, achieved FLOP/s, share of peak, final losses.
4. The course's quick recipe (``llmlab.configs.QUICK_TRAIN``) on the same corpus (``--stages quick``).
5. The speedrun (default stages ``compare,speedrun``): wall and CPU time until a fixed validation probe
   reaches the loss nanoGPT's recipe ends at (nanoGPT's model and step), for ``configs.SPEEDRUN_TRAIN``
   and, with ``--levers``, for each lever in turn (``LEVERS``).

FLOPs per trained token follow nanoGPT's ``estimate_mfu`` (PaLM paper, Chowdhery et al.
2022, appendix B): ``6 N + 12 L T d`` with N the parameters without the position embedding
(forward + backward of every weight: 2 + 4 flops per parameter per token) and the second term
the attention score and value matmuls (L layers, context T, width d).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from llmlab import configs, data, speedups, tokenizers, training
from llmlab.environment import cpu_name
from llmlab.gpt import GPT, GPTConfig

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results_md import replace_section  # noqa: E402  (benchmarks/results_md.py)

BEGIN, END = "<!-- bench_training -->", "<!-- /bench_training -->"
NANOGPT_RECIPE = training.TrainConfig()  # the defaults are nanoGPT's CPU recipe
# nanoGPT's MLP uses the exact GELU (nn.GELU()); gelu_approximate="none" makes llmlab's GPT the same model.
NANOGPT_SHAPE = dict(
    n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, bias=True, gelu_approximate="none"
)


# --- nanoGPT's model, for a same-machine reference ---------------------------


class _NanoAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.n_head, self.n_embd = c.n_head, c.n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class _NanoBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.attn = _NanoAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(self.gelu(self.c_fc(self.ln_2(x))))


class NanoGPT(nn.Module):
    """nanoGPT's GPT (model.py) with its initialisation, without dropout modules (the recipe uses dropout 0)."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.h = nn.ModuleList([_NanoBlock(c) for _ in range(c.n_layer)])
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight
        self.config = c
        # nanoGPT's initialisation: N(0, 0.02), zero biases, residual projections scaled by 1/sqrt(2 L)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        pos = torch.arange(idx.size(1), device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = F.cross_entropy(
            logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1
        )
        return logits, loss


# --- measurements --------------------------------------------------------------


def flops_per_token(model: nn.Module, cfg: GPTConfig) -> float:
    """nanoGPT's estimate: 6 N + 12 L T d (N without position embeddings)."""
    n = sum(p.numel() for p in model.parameters()) - cfg.block_size * cfg.n_embd
    return 6 * n + 12 * cfg.n_layer * cfg.block_size * cfg.n_embd


def matmul_peak(n: int = 1024, repeats: int = 12) -> dict:
    """Best float32 matmul rate: FLOP/s by wall clock and per CPU-second of this process."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best_wall = best_cpu = 0.0
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        a @ b
        w, c = time.perf_counter() - w0, time.process_time() - c0
        best_wall = max(best_wall, 2 * n**3 / w)
        if c > 0:
            best_cpu = max(best_cpu, 2 * n**3 / c)
    return {"n": n, "flops_wall": best_wall, "flops_per_cpu_s": best_cpu}


def nanogpt_optimizer(model: nn.Module, config: training.TrainConfig) -> torch.optim.AdamW:
    """AdamW as nanoGPT's ``configure_optimizers`` builds it: the same two weight-decay groups,
    ``fused=True`` only when training on CUDA, so on a CPU torch's default kernel."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    extra = {"fused": True} if params[0].device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2), **extra)


#: The training step as each project writes it: (optimizer factory, foreach argument of the clipping).
#: llmlab.training.train clips with foreach=True; nanoGPT's train.py calls clip_grad_norm_ with
#: torch's default.
LLMLAB_STEP = (training.configure_optimizer, True)
NANOGPT_STEP = (nanogpt_optimizer, None)


def step_rate(model, stream, batch_size, steps, gen, opt, clip_foreach):
    """Train ``steps`` steps; (tokens per wall second, tokens per CPU-second)."""
    model.train()
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        x, y = stream.sample("train", batch_size, gen)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=clip_foreach)
        opt.step()
    tokens = steps * batch_size * stream.block_size
    return tokens / (time.perf_counter() - w0), tokens / max(time.process_time() - c0, 1e-9)


def optimizer_step_ms(model: nn.Module, repeats: int = 50) -> dict:
    """Median milliseconds of one AdamW step on ``model``'s parameters, for each of torch's kernels."""
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    out = {}
    for label, kernel in [
        ("for-loop (torch's CPU default)", {"foreach": False}),
        ("foreach", {"foreach": True}),
        ("fused", {"fused": True}),
    ]:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, **kernel)
        for _ in range(5):
            opt.step()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            opt.step()
            times.append(time.perf_counter() - t)
        out[label] = 1000 * statistics.median(times)
    model.zero_grad(set_to_none=True)
    return out


def compare_with_nanogpt(stream, vocab_size, rounds: int, steps: int) -> dict:
    """Interleaved rounds of training steps: llmlab's GPT and training step against nanoGPT's.

    A third arm runs llmlab's model with nanoGPT's optimizer and clipping, to separate what the
    model costs from what the optimizer kernel saves.
    """
    cfg = GPTConfig(vocab_size=vocab_size, **NANOGPT_SHAPE)
    torch.manual_seed(0)
    arms = {
        "llmlab": (GPT(cfg), LLMLAB_STEP),
        "nanoGPT": (NanoGPT(cfg), NANOGPT_STEP),
        "llmlab's model, nanoGPT's optimizer and clipping": (GPT(cfg), NANOGPT_STEP),
        "llmlab, GPT-2's tanh GELU": (
            GPT(dataclasses.replace(cfg, gelu_approximate="tanh")),
            LLMLAB_STEP,
        ),
    }
    opts = {k: make_opt(m, NANOGPT_RECIPE) for k, (m, (make_opt, _)) in arms.items()}
    rates: dict = {k: {"wall": [], "cpu": []} for k in arms}
    gen = torch.Generator().manual_seed(0)
    for k, (m, (_, clip)) in arms.items():  # warm-up
        step_rate(m, stream, 12, 3, gen, opts[k], clip)
    for _ in range(rounds):
        for k, (m, (_, clip)) in arms.items():
            wall, cpu = step_rate(m, stream, 12, steps, gen, opts[k], clip)
            rates[k]["wall"].append(wall)
            rates[k]["cpu"].append(cpu)
    return {
        "flops_per_token": flops_per_token(arms["llmlab"][0], cfg),
        "optimizer_step_ms": optimizer_step_ms(GPT(cfg)),
        "models": {
            k: {
                "tokens_per_s": statistics.median(v["wall"]),
                "tokens_per_cpu_s": statistics.median(v["cpu"]),
            }
            for k, v in rates.items()
        },
    }


def run_recipe(name, shape, config, stream, vocab_size, final_eval_iters, extra_streams=()):
    torch.manual_seed(config.seed)
    cfg = GPTConfig(vocab_size=vocab_size, **shape)
    model = GPT(cfg)
    result = training.train(model, stream, config, show_progress=True)
    final = training.estimate_loss(model, stream, 16, final_eval_iters, seed=1234)
    out = {
        "name": name,
        "shape": shape,
        "config": config.to_dict(),
        "params": sum(p.numel() for p in model.parameters()),
        "summary": result.summary(),
        "train_s": result.train_s,
        "final_train_loss": final["train"],
        "final_val_loss": final["val"],
        "flops_per_token": flops_per_token(model, cfg),
    }
    for label, other in extra_streams:  # the same model judged on shorter windows
        out[f"val_loss_{label}"] = training.estimate_loss(
            model, other, 16, final_eval_iters, seed=1234, splits=("val",)
        )["val"]
    return out, model


def generation_speed(model, tok, n_new: int = 100) -> dict | None:
    try:
        from llmlab.generation import generate

        idx = torch.tensor([tok.encode("The ")])
        out = {}
        for cache in (False, True):
            generate(model, idx, 5, seed=0, use_cache=cache)
            t = time.perf_counter()
            generate(model, idx, n_new, seed=0, use_cache=cache)
            out["with_cache" if cache else "without_cache"] = n_new / (time.perf_counter() - t)
        return out
    except Exception as e:  # the generation module is another helper's; report, don't crash
        print(f"generation speed not measured: {type(e).__name__}: {e}")
        return None


# --- the speedrun: wall time to nanoGPT's validation loss ----------------------------------


class ValProbe:
    """Mean loss on fixed validation windows, the same for every trial of a run.

    ``batches`` batches of ``batch_size`` windows drawn once with a seeded generator from the held-out
    split (16 x 32 x 64 = 32,768 tokens by default), evaluated in float32 with the model in eval mode.
    """

    def __init__(self, stream, batches: int = 16, batch_size: int = 32, seed: int = 1234):
        g = torch.Generator().manual_seed(seed)
        self.batches = [stream.sample("val", batch_size, g) for _ in range(batches)]

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> float:
        was_training = model.training
        model.eval()
        loss = sum(model(x, y)[1].item() for x, y in self.batches) / len(self.batches)
        model.train(was_training)
        return loss


class TrialClock:
    """The training wall time of a trial, with the probe's evaluations taken out.

    ``after_step(step, model)`` is called after every optimizer step; every ``every`` steps (and after
    the last) it stops the clock, evaluates the probe, and records ``(step, tokens, train_s, val_loss)``.
    Everything else of the run counts: batching, the optimizer, torch.compile's compilation on the
    first step, the training loop's own start and end evaluations.
    """

    def __init__(self, probe: ValProbe, every: int, max_iters: int, tokens_per_step: int):
        self.probe, self.every, self.max_iters = probe, every, max_iters
        self.tokens_per_step = tokens_per_step
        self.records: list[dict] = []
        self.paused = self.paused_cpu = 0.0
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def after_step(self, step: int, model: nn.Module) -> None:
        done = step + 1
        if done % self.every and done != self.max_iters:
            return
        t, c = time.perf_counter(), time.process_time()
        val = self.probe(model)
        self.records.append(
            {
                "step": done,
                "tokens": done * self.tokens_per_step,
                "train_s": t - self.t0 - self.paused,
                "cpu_s": c - self.c0 - self.paused_cpu,
                "val_loss": val,
            }
        )
        self.paused += time.perf_counter() - t
        self.paused_cpu += time.process_time() - c


def nanogpt_trial(stream, vocab_size: int, probe: ValProbe, every: int, max_iters: int) -> dict:
    """nanoGPT's CPU recipe with nanoGPT's model and training step (its train.py, as on a CPU)."""
    cfg = GPTConfig(vocab_size=vocab_size, **NANOGPT_SHAPE)
    recipe = dataclasses.replace(NANOGPT_RECIPE, max_iters=max_iters)
    torch.manual_seed(recipe.seed)
    model = NanoGPT(cfg)
    gen = torch.Generator().manual_seed(recipe.seed)
    clock = TrialClock(probe, every, recipe.max_iters, recipe.batch_size * stream.block_size)
    opt = nanogpt_optimizer(model, recipe)
    model.train()
    for step in range(recipe.max_iters):
        lr = training.lr_at(step, recipe)  # the same schedule as nanoGPT's get_lr
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = stream.sample("train", recipe.batch_size, gen)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # nanoGPT logs the loss every step (log_interval=1 in its CPU recipe)
        clock.after_step(step, model)
    return {
        "name": "nanoGPT (its model and training step)",
        "config": recipe.to_dict(),
        "shape": NANOGPT_SHAPE,
        "records": clock.records,
    }


def llmlab_trial(name: str, shape: dict, config, stream, vocab_size, probe, every) -> dict:
    """``llmlab.training.train`` with ``config`` on a fresh GPT of ``shape`` (seeded as nanoGPT's)."""
    torch.manual_seed(config.seed)
    model = GPT(GPTConfig(vocab_size=vocab_size, **shape))
    # the loop's own evaluations: once at the start and once at the end, one batch each (they count)
    config = dataclasses.replace(config, eval_interval=config.max_iters, eval_iters=1)
    clock = TrialClock(probe, every, config.max_iters, config.batch_size * stream.block_size)
    training.train(
        model, stream, config, show_progress=False, callback=lambda s, _: clock.after_step(s, model)
    )
    return {"name": name, "config": config.to_dict(), "shape": shape, "records": clock.records}


def time_to_loss(records: list[dict], target: float, key: str = "train_s") -> float | None:
    """The training wall time (``key="cpu_s"``: process CPU time) at the first probe at or below
    ``target`` (None: never reached)."""
    return next((r[key] for r in records if r["val_loss"] <= target), None)


#: The speedrun's levers, in the order tried; each trial is the previous kept recipe plus one change
#: (a lever that does not win is dropped before the next trial). Shape and TrainConfig overrides.
LEVERS = [
    (
        "AdamW at peak lr 2e-3, warm-up 30, 1,200 steps",
        {},
        dict(lr=2e-3, min_lr=2e-4, warmup_iters=30, max_iters=1200),
    ),
    (
        "Muon (lr 0.02, float32 Newton-Schulz) on the hidden matrices, AdamW lr 3e-3, 500 steps",
        {},
        dict(
            optimizer="muon",
            muon_lr=0.02,
            muon_bf16=False,
            lr=3e-3,
            min_lr=3e-4,
            warmup_iters=30,
            max_iters=500,
        ),
    ),
    ("Muon's Newton-Schulz in bfloat16 where measured clearly faster", {}, dict(muon_bf16=True)),
    ("batch 16, 400 steps", {}, dict(batch_size=16, max_iters=400)),
    ("bfloat16 autocast", {}, dict(precision="bfloat16")),
    ("no biases", dict(bias=False), {}),
    ("torch.compile (compile time counts)", {}, dict(compile=True)),
]


def lever_not_here(config_change: dict, shape: dict, vocab_size: int) -> str | None:
    """Why a hardware lever would switch itself off on this machine (None: it would act).

    Muon's Newton-Schulz in bfloat16: ``training`` keeps it only where the processor has bfloat16
    and a pass over the model's matrices is clearly faster in it (``speedups.bf16_newton_schulz_off``).
    """
    if not config_change.get("muon_bf16"):
        return None
    return speedups.bf16_newton_schulz_off(GPT(GPTConfig(vocab_size=vocab_size, **shape)), "cpu")


def speedrun_recipe() -> tuple[dict, training.TrainConfig]:
    """The kept recipe (shape, TrainConfig): ``configs.SPEEDRUN_TRAIN`` on nanoGPT's shape."""
    return {**NANOGPT_SHAPE, **configs.SPEEDRUN_GPT}, configs.SPEEDRUN_TRAIN


def speedrun(
    stream, vocab_size, levers: bool, nanogpt_iters: int, every_tokens: int = 24_576
) -> dict:
    """nanoGPT's recipe, then the lever sweep (optional), then the kept recipe: times to nanoGPT's final loss."""
    probe = ValProbe(stream)
    # a few untimed steps first: a process's first steps are slow (thread pools, allocator)
    warm = NanoGPT(GPTConfig(vocab_size=vocab_size, **NANOGPT_SHAPE))
    step_rate(warm, stream, 12, 5, torch.Generator(), nanogpt_optimizer(warm, NANOGPT_RECIPE), None)
    trials = [nanogpt_trial(stream, vocab_size, probe, 250, nanogpt_iters)]
    target = trials[0]["records"][-1]["val_loss"]
    trials[0]["time_to_target"] = trials[0]["records"][-1]["train_s"]
    trials[0]["cpu_to_target"] = trials[0]["records"][-1]["cpu_s"]
    print(f"speedrun target: validation loss {target:.4f}", flush=True)

    def run(name, shape, config):
        t = llmlab_trial(
            name,
            shape,
            config,
            stream,
            vocab_size,
            probe,
            max(1, every_tokens // (config.batch_size * stream.block_size)),
        )
        t["time_to_target"] = time_to_loss(t["records"], target)
        t["cpu_to_target"] = time_to_loss(t["records"], target, "cpu_s")
        print(name, t["time_to_target"], t["records"][-1], flush=True)
        trials.append(t)
        return t

    if levers:
        shape, config, best = dict(NANOGPT_SHAPE), NANOGPT_RECIPE, trials[0]
        for name, shape_change, config_change in LEVERS:
            not_here = lever_not_here(config_change, {**shape, **shape_change}, vocab_size)
            if not_here:  # a hardware lever that switches itself off here: nothing to run
                trials.append({"name": f"+ {name}", "skipped": not_here, "kept": False})
                print(name, "not run:", not_here, flush=True)
                continue
            t = run(
                f"+ {name}",
                {**shape, **shape_change},
                dataclasses.replace(config, **config_change),
            )
            # judged by CPU time: on a shared machine the load moves wall time between trials
            kept = t["cpu_to_target"] is not None and t["cpu_to_target"] < best["cpu_to_target"]
            t["kept"] = kept
            if kept:
                best, shape, config = (
                    t,
                    {**shape, **shape_change},
                    dataclasses.replace(config, **config_change),
                )
    shape, config = speedrun_recipe()
    final = run("the speedrun recipe (configs.SPEEDRUN_TRAIN)", shape, config)
    final["final_recipe"] = True
    return {"target": target, "probe_tokens": 16 * 32 * 64, "trials": trials}


def write_results(r: dict, path: Path) -> None:
    """Render whatever stages have finished into Markdown (called after every stage)."""
    th, peak = r["threads"], r["peak"]
    lines = [
        BEGIN,
        "# Training benchmark",
        "",
        f"Written by `python benchmarks/bench_training.py {r['argv']}` (started {r['date']}).",
        f"Machine: {r['cpu']}, {r['cores']} cores, torch {r['torch']}, **{th} torch thread(s)**.",
        "",
    ]
    if r["load"] > 1.5:
        lines += [
            "> **Shared machine.** Measured while the cores were shared with other jobs (load",
            f"> average about {r['load']:.0f} at the start), so wall-clock figures are inflated.",
            "> Process CPU time (user + system) is given next to wall time; per-CPU-second figures are the",
            "> fairer measure here. Re-run on an idle machine for clean wall-clock numbers.",
            "",
        ]
    else:
        lines += [f"Load average at the start: {r['load']:.2f} (an otherwise idle machine).", ""]
    lines += [
        "## Peak: a large matmul",
        f"Best of 12 float32 `{peak['n']}x{peak['n']} @ {peak['n']}x{peak['n']}` products (2n^3 flops each), "
        f"{th} thread(s): {peak['flops_wall'] / 1e9:.1f} GFLOP/s by wall clock, "
        f"**{peak['flops_per_cpu_s'] / 1e9:.1f} GFLOP/s per CPU-second**. This measured practical peak "
        "(not the datasheet one) is the denominator of the shares below.",
        "",
        "FLOPs per trained token: nanoGPT's `estimate_mfu` formula (PaLM, Chowdhery et al. 2022, app. B),",
        "`6 N + 12 L T d`: N parameters without the position embedding (2 flops forward + 4 backward per",
        "parameter), plus the attention scores and weighted sums (L layers, context T, width d).",
    ]
    cmp_ = r.get("compare")
    if cmp_:
        fpt = cmp_["flops_per_token"]
        lines += [
            "",
            "## Throughput: llmlab against nanoGPT's own implementation, same load",
            "nanoGPT CPU shape (4 layers, 4 heads, 128 dims, block 64, batch 12, exact GELU), one training "
            "step = forward, backward, gradient clipping, AdamW; each project's step as it writes it: llmlab's "
            "`training.train` (fused AdamW, foreach clipping), nanoGPT's `train.py` (`configure_optimizers` asks "
            "for fused AdamW only on CUDA, so on a CPU torch's default kernel; default clipping). "
            f"Median of {r['rounds']} interleaved rounds of {r['steps']} steps each. "
            f"{fpt / 1e6:.2f} MFLOP per token.",
            "",
            "| model | tokens/s (wall) | tokens per CPU-second | GFLOP per CPU-second | share of matmul peak |",
            "|---|---|---|---|---|",
        ]
        for k, v in cmp_["models"].items():
            f = fpt * v["tokens_per_cpu_s"]
            lines.append(
                f"| {k} | {v['tokens_per_s']:,.0f} | {v['tokens_per_cpu_s']:,.0f} | {f / 1e9:.1f} | "
                f"{f / peak['flops_per_cpu_s']:.0%} |"
            )
        m = cmp_["models"]
        ratio = m["llmlab"]["tokens_per_cpu_s"] / m["nanoGPT"]["tokens_per_cpu_s"]
        ratio_wall = m["llmlab"]["tokens_per_s"] / m["nanoGPT"]["tokens_per_s"]
        lines += [
            "",
            f"llmlab / nanoGPT, the same model (exact GELU), each with its own training step: "
            f"**{ratio_wall:.2f}x** by wall clock, **{ratio:.2f}x** per CPU-second.",
        ]
        same_opt = m.get("llmlab's model, nanoGPT's optimizer and clipping")
        if same_opt:
            model_wall = same_opt["tokens_per_s"] / m["nanoGPT"]["tokens_per_s"]
            verdict = (
                " (within 3%: the two models cost about the same, and what separates the two training steps is "
                "the optimizer kernel)"
                if abs(model_wall - 1) <= 0.03
                else ""
            )
            lines += [
                f"The model alone (llmlab's model with nanoGPT's optimizer and clipping, against nanoGPT): "
                f"{model_wall:.2f}x by wall clock, "
                f"{same_opt['tokens_per_cpu_s'] / m['nanoGPT']['tokens_per_cpu_s']:.2f}x per CPU-second{verdict}."
            ]
        opt_ms = cmp_.get("optimizer_step_ms")
        if opt_ms:
            lines += [
                "",
                "One AdamW step on this model's parameters (median of 50): "
                + "; ".join(f"{k} {v:.1f} ms" for k, v in opt_ms.items())
                + ".",
            ]
        tanh = m.get("llmlab, GPT-2's tanh GELU")
        if tanh:
            lines += [
                f"With GPT-2's tanh GELU (the course model's and Hugging Face GPT-2's), llmlab runs at "
                f"{tanh['tokens_per_s'] / m['nanoGPT']['tokens_per_s']:.2f}x nanoGPT's wall-clock rate."
            ]
    nano = r.get("nanogpt_recipe")
    if nano:
        ns = nano["summary"]
        achieved = nano["flops_per_token"] * ns["tokens_per_s"]
        achieved_cpu = nano["flops_per_token"] * ns["tokens_seen"] / ns["cpu_s"]
        lines += [
            "",
            "## nanoGPT's CPU recipe, trained with `llmlab.training.train`",
            "4 layers, 4 heads, 128 dims, block 64, batch 12, dropout 0, lr 1e-3 -> 1e-4 (cosine, 100 "
            f"warm-up steps), {nano['config']['max_iters']} iterations, {nano['params']:,} parameters.",
            "",
            "| | value |",
            "|---|---|",
            f"| tokens trained | {ns['tokens_seen']:,} |",
            f"| wall time (whole run, with evaluations) | {ns['wall_s']:.0f} s |",
            f"| process CPU time | {ns['cpu_s']:.0f} s |",
            f"| tokens/s (training steps, wall) | {ns['tokens_per_s']:,.0f} |",
            f"| tokens per CPU-second (whole run) | {ns['tokens_seen'] / ns['cpu_s']:,.0f} |",
            f"| achieved FLOP/s (wall) | {achieved / 1e9:.2f} GFLOP/s = {achieved / peak['flops_wall']:.0%} of the wall-clock matmul peak |",
            f"| achieved FLOP per CPU-second | {achieved_cpu / 1e9:.2f} GFLOP = {achieved_cpu / peak['flops_per_cpu_s']:.0%} of the matmul peak |",
            f"| final train loss ({r['final_eval_iters']} batches) | {nano['final_train_loss']:.4f} |",
            f"| final validation loss ({r['final_eval_iters']} batches) | **{nano['final_val_loss']:.4f}** |",
            "",
            "Reference from the issue: nanoGPT itself ran this recipe in about 87 s (about 20,000 tokens/s)",
            "on 2 free cores (validation loss 1.89 on Tiny Shakespeare, a different corpus).",
        ]
    quick = r.get("quick_recipe")
    if quick:
        qs = quick["summary"]
        lines += [
            "",
            "## The course's quick recipe (`llmlab.configs.QUICK_TRAIN`)",
            f"Same corpus; {quick['shape']['n_layer']} layers x {quick['shape']['n_head']} heads, "
            f"{quick['shape']['n_embd']} dims, block {quick['shape']['block_size']}, batch "
            f"{quick['config']['batch_size']}, lr {quick['config']['lr']} -> {quick['config']['min_lr']}, "
            f"{quick['config']['max_iters']} iterations.",
            "",
            "| | value |",
            "|---|---|",
            f"| tokens trained | {qs['tokens_seen']:,} |",
            f"| wall time | {qs['wall_s']:.0f} s |",
            f"| process CPU time | {qs['cpu_s']:.0f} s |",
            f"| validation loss, {quick['shape']['block_size']}-character windows | {quick['final_val_loss']:.4f} |",
        ]
        if quick["shape"]["block_size"] != 64:
            lines += [f"| validation loss, 64-character windows | {quick['val_loss_T64']:.4f} |"]
        lines += []
        if nano:
            lower = quick["val_loss_T64"] < nano["final_val_loss"]
            faster = qs["wall_s"] < nano["summary"]["wall_s"]
            cheaper = qs["cpu_s"] < nano["summary"]["cpu_s"]
            lines += [
                "",
                f"Against the nanoGPT recipe (validation loss on the same 64-character windows): "
                f"{quick['val_loss_T64']:.4f} vs {nano['final_val_loss']:.4f}, "
                f"{'lower' if lower else 'NOT lower'}; wall time {qs['wall_s']:.0f} s vs {nano['summary']['wall_s']:.0f} s, "
                f"{'less' if faster else 'NOT less'}; CPU time {'less' if cheaper else 'NOT less'}.",
            ]
    g = r.get("generation")
    if g:
        lines += [
            "",
            "## Generation speed (nanoGPT-recipe model, 100 new tokens, batch 1)",
            f"without KV cache: {g['without_cache']:.0f} tokens/s; with KV cache: {g['with_cache']:.0f} "
            f"tokens/s ({g['with_cache'] / g['without_cache']:.2f}x).",
        ]
    if r.get("speedrun"):
        lines += speedrun_lines(r["speedrun"], r)
    lines += ["", "Raw numbers: `benchmarks/RESULTS.json`.", END, ""]
    replace_section(path, BEGIN, END, "\n".join(lines))


def _fmt_s(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.1f} s"


def speedrun_lines(sr: dict, r: dict) -> list[str]:
    """The speedrun's table: one row per trial, time to nanoGPT's final validation loss."""
    base = sr["trials"][0]
    base_s = base["time_to_target"]
    lines = [
        "",
        "## Speedrun: wall time to nanoGPT's validation loss",
        f"Target: the validation loss nanoGPT's CPU recipe reaches after {base['config']['max_iters']:,} "
        f"iterations in this run, **{sr['target']:.4f}**, on a fixed probe of {sr['probe_tokens']:,} "
        "held-out tokens (16 x 32 windows of 64 characters, drawn once, the same for every trial). "
        "Times are training wall time: the probe's evaluations are taken out of every trial alike; "
        "everything else counts (batching, optimizer, torch.compile's compilation). nanoGPT's time is its "
        "whole run. Every trial starts from the same seed and runs its whole schedule; the time to "
        "target is the first probe (every ~24,576 training tokens) at or below the target.",
        "",
        "| trial | steps x batch | tokens/s | time to target | vs nanoGPT | CPU time to target | vs nanoGPT (CPU) | final val loss | kept |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    base_cpu = base["cpu_to_target"]
    for t in sr["trials"]:
        if t.get("skipped"):
            lines.append(f"| {t['name']} | not run: {t['skipped']} | | | | | | | no |")
            continue
        last = t["records"][-1]
        tts = t.get("time_to_target")
        ratio = f"{base_s / tts:.2f}x" if tts else "-"
        cpu = t.get("cpu_to_target")
        cpu_ratio = f"{base_cpu / cpu:.2f}x" if cpu else "-"
        kept = {True: "yes", False: "no"}.get(t.get("kept"), "")
        name = f"**{t['name']}**" if t.get("final_recipe") else t["name"]
        lines.append(
            f"| {name} | {t['config']['max_iters']:,} x {t['config']['batch_size']} | "
            f"{last['tokens'] / last['train_s']:,.0f} | {_fmt_s(tts)} | {ratio} | {_fmt_s(cpu)} | {cpu_ratio} | "
            f"{last['val_loss']:.4f} | {kept} |"
        )
    final = next(t for t in sr["trials"] if t.get("final_recipe"))
    fs, fc = final.get("time_to_target"), final.get("cpu_to_target")
    if fs:
        verdict = "**goal met**" if fs <= base_s / 3 else "goal (at most 1/3) **not met**"
        verdict_cpu = "met" if fc <= base_cpu / 3 else "**not met**"
        lines += [
            "",
            f"The speedrun recipe reaches nanoGPT's {base['config']['max_iters']:,}-iteration loss in "
            f"{fs:.1f} s against nanoGPT's {base_s:.1f} s: **{fs / base_s:.2f}** of its wall time "
            f"({base_s / fs:.2f}x faster), {verdict}. In process CPU time (less moved by other jobs on a "
            f"shared machine): {fc:.1f} s against {base_cpu:.1f} s, **{fc / base_cpu:.2f}** ({base_cpu / fc:.2f}x), "
            f"{verdict_cpu}. A lever is kept when it lowers the CPU time to target.",
        ]
    else:
        lines += ["", "The speedrun recipe did **not** reach nanoGPT's loss in this run."]
    record = HERE.parent / "data" / "speedrun.json"
    if not any("kept" in t for t in sr["trials"]) and record.is_file():  # no sweep in this run
        rec = json.loads(record.read_text(encoding="utf-8"))
        lines += [
            "",
            f"The lever sweep (`--levers`) was not run this time; as recorded on {rec['date']} "
            f"({rec['machine']}, load {rec['load']:.1f}, `data/speedrun.json`), time to that run's target "
            f"{rec['target']:.4f}:",
            "",
            "| trial | tokens/s | time to target | CPU time to target | kept |",
            "|---|---:|---:|---:|---|",
        ]
        for t in rec["trials"]:
            kept = {True: "yes", False: "no"}.get(t.get("kept"), "")
            if t.get("skipped"):
                lines.append(f"| {t['name']} | not run: {t['skipped']} | | | {kept} |")
                continue
            lines.append(
                f"| {t['name']} | {t['tokens_per_s']:,.0f} | {_fmt_s(t['time_to_target'])} | "
                f"{_fmt_s(t.get('cpu_to_target'))} | {kept} |"
            )
    lines += [
        "",
        f"Load average {r['load']:.1f} at the start of the benchmark, {r.get('load_now', r['load']):.1f} at "
        "the end: compare the ratios within this run, not the seconds across runs.",
    ]
    return lines


def write_speedrun_record(r: dict, path: Path) -> None:
    """The sweep's numbers for lesson 04's chart (atomic write): machine, date, load, target, trials."""
    trials = []
    for t in r["speedrun"]["trials"]:
        if t.get("skipped"):
            trials.append({k: t[k] for k in ("name", "skipped", "kept")})
            continue
        last = t["records"][-1]
        trials.append(
            {
                "name": t["name"],
                "steps": t["config"]["max_iters"],
                "batch_size": t["config"]["batch_size"],
                "tokens_per_s": last["tokens"] / last["train_s"],
                "time_to_target": t.get("time_to_target"),
                "cpu_to_target": t.get("cpu_to_target"),
                "cpu_s": last["cpu_s"],
                "train_s": last["train_s"],
                "final_val_loss": last["val_loss"],
                **{k: t[k] for k in ("kept", "final_recipe") if k in t},
            }
        )
    record = {
        "source": "benchmarks/bench_training.py --levers (benchmarks/RESULTS.md, Speedrun)",
        "date": r["date"],
        "machine": f"{r['cpu']}, {r['cores']} cores",
        "threads": r["threads"],
        "load": r["load"],
        "target": r["speedrun"]["target"],
        "trials": trials,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--max-iters", type=int, default=NANOGPT_RECIPE.max_iters, help="nanoGPT recipe iterations"
    )
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--final-eval-iters", type=int, default=100)
    p.add_argument(
        "--stages",
        default="compare,speedrun",
        help="what to run (comma list of compare, speedrun, quick, nanogpt)",
    )
    p.add_argument(
        "--levers",
        action="store_true",
        help="speedrun: also try each lever in turn (about 10 more minutes)",
    )
    p.add_argument("--merge", nargs="*", help="only render these results JSON files into --out")
    p.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    text = data.load_text("wiki-news")
    tok = tokenizers.CharTokenizer.from_text(text)
    train_ids, val_ids = training.split_train_val(tok.encode(text))
    s64 = training.TokenStream(train_ids, val_ids, 64)

    r = {
        "argv": " ".join(
            f"--{k.replace('_', '-')}" + ("" if isinstance(v, bool) else f" {v}")
            for k, v in vars(args).items()
            if k not in ("out", "merge") and v is not False
        ),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": args.threads,
        "rounds": args.rounds,
        "steps": args.steps,
        "final_eval_iters": args.final_eval_iters,
        "load": os.getloadavg()[0],
    }
    out = Path(args.out)
    if args.merge:  # render the stages of several runs (e.g. run in parallel) into one file
        for part in args.merge:
            r.update({k: v for k, v in json.loads(Path(part).read_text()).items() if v is not None})
        out.with_suffix(".json").write_text(
            json.dumps(r, indent=2, default=float), encoding="utf-8"
        )
        write_results(r, out)
        print(out.read_text())
        return

    def save() -> None:
        r["load_now"] = os.getloadavg()[0]
        out.with_suffix(".json").write_text(
            json.dumps(r, indent=2, default=float), encoding="utf-8"
        )
        write_results(r, out)

    r["peak"] = matmul_peak()
    if "compare" in args.stages:
        r["compare"] = compare_with_nanogpt(s64, tok.vocab_size, args.rounds, args.steps)
        print("compare", json.dumps(r["compare"]), flush=True)
    save()
    if "quick" in args.stages:
        q, shape = configs.QUICK_TRAIN, configs.QUICK_GPT
        sq = training.TokenStream(train_ids, val_ids, shape["block_size"])
        r["quick_recipe"], _ = run_recipe(
            "quick", shape, q, sq, tok.vocab_size, args.final_eval_iters, [("T64", s64)]
        )
        save()
    if "nanogpt" in args.stages:
        nano_cfg = dataclasses.replace(NANOGPT_RECIPE, max_iters=args.max_iters)
        r["nanogpt_recipe"], nano_model = run_recipe(
            "nanoGPT CPU recipe",
            NANOGPT_SHAPE,
            nano_cfg,
            s64,
            tok.vocab_size,
            args.final_eval_iters,
        )
        r["generation"] = generation_speed(nano_model, tok)
        save()
    if "speedrun" in args.stages:
        r["speedrun"] = speedrun(s64, tok.vocab_size, args.levers, args.max_iters)
        save()
        if args.levers:  # the whole sweep: lesson 04's chart reads it (llmlab.plots.speedrun)
            write_speedrun_record(r, HERE.parent / "data" / "speedrun.json")
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()
