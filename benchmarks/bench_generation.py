"""Generation speed with and without the KV cache (a measurement, not a test: no pass/fail).

    python benchmarks/bench_generation.py --threads 2

For the course model (``data/mini-gpt``; a random model of the same shape if it is missing) and
a GPT-2-small-shaped model with random weights, greedy decoding from a short prompt, prints new
tokens per second without and with the cache and the speed-up. Both paths give the same tokens
(checked here, and tested in tests/test_generation.py).
"""

from __future__ import annotations

import argparse
import platform

import torch

from llmlab.generation import kv_cache_speedup
from llmlab.gpt import GPT, GPTConfig


def course_model() -> tuple[str, GPT]:
    try:
        from llmlab.training import load_course_model

        return "course mini GPT (data/mini-gpt)", load_course_model().model
    except Exception as exc:  # another helper's module, or no checkpoint yet
        print(f"(course model not loaded: {type(exc).__name__}; using a random model of its shape)")
        cfg = GPTConfig(vocab_size=93, block_size=128, n_layer=4, n_head=4, n_embd=128)
        return "random mini GPT (4 x 128, context 128)", GPT(cfg).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-large", action="store_true", help="skip the GPT-2-small-shaped model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cases = []
    name, model = course_model()
    bs = model.config.block_size
    cases += [(name, model, 8, bs - 8), (name, model, 8, 48)]
    if not args.skip_large:
        cfg = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
        cases.append(("GPT-2 small shape (124M, random)", GPT(cfg).eval(), 8, 64))

    print(f"torch {torch.__version__} | {platform.processor() or platform.machine()} | threads {args.threads}")
    header = f"| {'model':38} | prompt | new | no cache tok/s | cache tok/s | speed-up | same |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for label, m, prompt_len, new in cases:
        prompt = torch.randint(0, m.config.vocab_size, (1, prompt_len))
        r = kv_cache_speedup(m, prompt, new, repeats=args.repeats)
        print(
            f"| {label:38} | {prompt_len:6d} | {new:3d} | {r['tokens_per_s_without_cache']:14.0f} "
            f"| {r['tokens_per_s_with_cache']:11.0f} | {r['speedup']:7.1f}x | {str(r['same_output']):4} |"
        )


if __name__ == "__main__":
    main()
