"""Tests for the command line (python -m llmlab train / generate), run as subprocesses."""

import json
import os
import subprocess
import sys

import pytest

TEXT = "It was the best of times, it was the worst of times. " * 30 + "Naïve café!\n"


def run(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "llmlab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


TINY = [
    "--n-layer",
    1,
    "--n-head",
    2,
    "--n-embd",
    16,
    "--block-size",
    16,
    "--batch-size",
    4,
    "--max-iters",
    20,
    "--eval-interval",
    10,
    "--eval-iters",
    2,
    "--lr",
    "3e-3",
    "--warmup-iters",
    2,
    "--seed",
    0,
    "--quiet",
    "--threads",
    1,
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run shared by the tests: (completed process, checkpoint folder)."""
    folder = tmp_path_factory.mktemp("cli")
    text = folder / "input.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = folder / "ckpt"
    return run("train", "--text", text, "--out", out, *TINY), out


def test_train_prints_one_json_line_and_writes_a_checkpoint(trained):
    proc, out = trained
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(last) >= {"val_loss", "train_loss", "tokens_per_s", "wall_s", "params"}
    assert last["steps"] == 20 and last["params"] > 0
    assert 0 < last["val_loss"] < 5
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "config.json",
        "model.safetensors",
    ]
    assert not [
        p for p in out.parent.iterdir() if p.name.startswith(".")
    ]  # no temporary folder left
    from llmlab.training import load_checkpoint

    ck = load_checkpoint(out)
    assert ck.tokenizer.vocab_size == last["vocab_size"]
    assert ck.meta["train_config"]["max_iters"] == 20
    assert (
        ck.meta["result"]["val_loss"] == last["val_loss"]
    )  # the final save carries the run's result


def test_boolean_config_field_has_a_yes_and_a_no_flag():
    from llmlab.__main__ import build_parser

    parser = build_parser()
    base = ["train", "--text", "input.txt"]
    assert parser.parse_args(base).fused_optimizer is True
    assert parser.parse_args([*base, "--no-fused-optimizer"]).fused_optimizer is False


def test_train_bad_input_exits_2_with_one_line(tmp_path):
    missing = run("train", "--text", tmp_path / "nope.txt", *TINY)
    assert missing.returncode == 2
    assert "no such file" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    proc = run("train", "--text", empty, *TINY)
    assert proc.returncode == 2 and "empty" in proc.stderr
    short = tmp_path / "short.txt"
    short.write_text("too short", encoding="utf-8")
    proc = run("train", "--text", short, *TINY)
    assert proc.returncode == 2 and "block_size" in proc.stderr
    assert "Traceback" not in proc.stderr
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00abc" * 100)
    proc = run("train", "--text", binary, *TINY)
    assert proc.returncode == 2 and "UTF-8" in proc.stderr


def test_generate_rejects_unknown_characters_and_missing_checkpoint(trained, tmp_path):
    _, out = trained
    proc = run("generate", "--checkpoint", out, "--prompt", "Zebra 🙂", "--max-new-tokens", 5)
    assert proc.returncode == 2
    assert "'Z'" in proc.stderr and "'🙂'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run("generate", "--checkpoint", tmp_path, "--prompt", "it")
    assert proc.returncode == 2 and "model.safetensors" in proc.stderr


def test_generate_is_seeded(trained):
    pytest.importorskip("llmlab.generation")
    _, out = trained
    args = [
        "generate",
        "--checkpoint",
        out,
        "--prompt",
        "It was",
        "--max-new-tokens",
        30,
        "--temperature",
        0.8,
        "--top-k",
        10,
        "--seed",
        3,
    ]
    a, b = run(*args), run(*args)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert a.stdout.startswith("It was")
    assert len(a.stdout) == len("It was") + 30 + 1  # one character per token, then print's newline
