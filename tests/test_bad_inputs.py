"""Bad input, as a careless learner gives it, to the command line and to the public API.

Each case asserts the one-line message (what is wrong, what to do) and that nothing on
disk changed: no checkpoint is lost or half-written, no run trains on NaN, and nothing
reaches the user as a traceback from inside torch, json or safetensors.
"""

import hashlib
import http.server
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from llmlab import data, generation, lora, training
from llmlab.__main__ import main
from llmlab.errors import NonFiniteLossError, UsageError
from llmlab.gpt import GPT, GPTConfig, load_hf_gpt2
from llmlab.tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict

TEXT = "It was the best of times, it was the worst of times. " * 40
TINY = (
    "--n-layer 1 --n-head 2 --n-embd 16 --block-size 16 --batch-size 4 "
    "--max-iters 20 --eval-interval 10 --eval-iters 2 --warmup-iters 2 --quiet"
).split()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line(message: str) -> str:
    message = message.strip()
    assert message and "\n" not in message and "Traceback" not in message, message
    return message


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run the command line in this process: (exit code, stdout, the one stderr line)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, (one_line(err) if code else err)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A small saved checkpoint: (folder, tokenizer, model)."""
    tok = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(tok.vocab_size, 16, 1, 2, 16))
    folder = tmp_path_factory.mktemp("ck") / "model"
    training.save_checkpoint(folder, model, tok, {"note": "good"})
    return folder, tok, model


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    target.mkdir()
    for p in folder.iterdir():
        (target / p.name).write_bytes(p.read_bytes())
    return target


# ---------------------------------------------------------------- train: the output folder
def test_train_refuses_a_non_empty_out_and_keeps_the_checkpoint(
    capsys, text_file, checkpoint, tmp_path
):
    out = copy_of(checkpoint[0], tmp_path)
    before = snapshot(out)
    code, stdout, err = cli(capsys, "train", "--text", text_file, "--out", out, *TINY)
    assert code == 2 and "not empty" in err and "--force" in err and stdout == ""
    assert snapshot(out) == before


def test_train_checks_out_before_training(capsys, text_file, tmp_path):
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "train", "--text", text_file, "--out", text_file, *TINY)
    assert code == 2 and "is a file, not a folder" in err
    code, _, err = cli(capsys, "train", "--text", text_file, "--out", text_file / "below", *TINY)
    assert code == 2 and "a part of that path is a file" in err
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_train_checks_out_is_writable(capsys, text_file, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = cli(capsys, "train", "--text", text_file, "--out", locked / "ck", *TINY)
    finally:
        locked.chmod(0o700)
    assert code == 2 and "No permission" in err and not (locked / "ck").exists()


def test_force_replaces_a_checkpoint_but_never_other_files(capsys, text_file, checkpoint, tmp_path):
    out = copy_of(checkpoint[0], tmp_path)
    code, stdout, _ = cli(capsys, "train", "--text", text_file, "--out", out, "--force", *TINY)
    assert code == 0
    line = json.loads(stdout.strip().splitlines()[-1])
    ck = training.load_checkpoint(out)
    assert ck.meta["result"]["steps"] == line["steps"] == 20
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "config.json",
        "model.safetensors",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "config.json").write_text("{}")
    (mixed / "thesis.tex").write_text("months of work")
    before = snapshot(mixed)
    code, _, err = cli(capsys, "train", "--text", text_file, "--out", mixed, "--force", *TINY)
    assert code == 2 and "thesis.tex" in err and "never deletes" in err
    assert snapshot(mixed) == before


# ---------------------------------------------------------------- train: NaN, Ctrl-C
def test_nan_loss_stops_the_run_with_exit_3_and_keeps_a_finite_checkpoint(
    capsys, text_file, tmp_path
):
    out = tmp_path / "ck"
    code, stdout, err = cli(
        capsys,
        "train",
        "--text",
        text_file,
        "--out",
        out,
        "--lr",
        "1e6",
        "--min-lr",
        "0",
        "--grad-clip",
        "0",
        *TINY,
    )
    assert code == 3 and stdout == ""
    assert (
        "Training stopped at step" in err
        and "lower it (--lr)" in err
        and f"Checkpoint at {out} (from step 0)" in err
    )
    ck = training.load_checkpoint(out)  # the last evaluation before the loss blew up
    assert all(torch.isfinite(p).all() for p in ck.model.parameters())
    assert math.isfinite(ck.meta["evaluation"]["val_loss"])


def test_train_api_stops_on_nan_before_the_step_is_applied():
    tok = CharTokenizer.from_text(TEXT)
    ids = tok.encode(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(tok.vocab_size, 16, 1, 2, 16))
    cfg = training.TrainConfig(
        max_iters=50,
        batch_size=4,
        lr=1e6,
        min_lr=0,
        grad_clip=0,
        eval_interval=50,
        eval_iters=1,
        warmup_iters=0,
    )
    with pytest.raises(NonFiniteLossError) as info:
        training.train(
            model, training.TokenStream(ids[:1500], ids[1500:], 16), cfg, show_progress=False
        )
    err = info.value
    one_line(str(err))
    assert f"step {err.step}" in str(err) and len(err.result.steps) == err.step
    assert all(
        torch.isfinite(p).all() for p in model.parameters()
    )  # the failing step was not applied


def test_ctrl_c_keeps_the_last_checkpoint_and_says_where(text_file, tmp_path):
    out = tmp_path / "ck"
    args = [  # a run far too long to finish: it is interrupted"--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16", "--batch-size", "4",
        "--max-iters",
        "1000000",
        "--eval-interval",
        "5",
        "--eval-iters",
        "1",
        "--quiet",
        "--threads",
        "1",
    ]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmlab",
            "train",
            "--text",
            str(text_file),
            "--out",
            str(out),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    while not (out / "config.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a few more steps and saves
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    line = one_line(stderr)
    assert (
        line.startswith("llmlab train: interrupted at step ")
        and f"checkpoint at {out} (from step" in line
    )
    saved = int(line.rsplit("from step ", 1)[1].rstrip(")."))
    assert training.load_checkpoint(out).meta["evaluation"]["step"] == saved
    assert stdout == ""


# ---------------------------------------------------------------- train: flags out of range
@pytest.mark.parametrize(
    "flags, words",
    [
        (["--lr", "nan"], "lr must be a finite number"),
        (["--lr", "inf"], "lr must be a finite number"),
        (["--lr", "0"], "lr must be > 0"),
        (["--beta1", "1.5"], "beta1 must be < 1"),
        (["--max-iters", "0"], "max_iters must be >= 1"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--dropout", "1.0"], "dropout must be in [0, 1)"),
        (["--n-head", "3"], "divisible by n_head"),
        (["--val-fraction", "0"], "val_fraction"),
        (["--tokenizer", "bpe", "--bpe-vocab-size", "10"], "vocab_size >= 256"),
        (["--device", "gpu"], "Unknown device 'gpu'"),
    ],
)
def test_train_flags_out_of_range(capsys, text_file, tmp_path, flags, words):
    code, _, err = cli(
        capsys, "train", "--text", text_file, "--out", tmp_path / "ck", *TINY, *flags
    )
    assert code == 2 and words in err
    assert not (tmp_path / "ck").exists()  # refused before the folder was made


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_train_on_cuda_without_cuda(capsys, text_file):
    code, _, err = cli(capsys, "train", "--text", text_file, *TINY, "--device", "cuda")
    assert code == 2 and "no CUDA GPU" in err


# ---------------------------------------------------------------- generate
@pytest.mark.parametrize(
    "flags, words",
    [
        (["--temperature", "nan"], "temperature must be a finite number"),
        (["--temperature", "1e-40"], "too close to 0"),
        (["--temperature", "-1"], "temperature must be >= 0"),
        (["--top-p", "0"], "top_p"),
        (["--top-k", "0"], "top_k"),
        (["--max-new-tokens", "-1"], "--max-new-tokens must be >= 0"),
        (["--device", "gpu"], "Unknown device"),
    ],
)
def test_generate_flags_out_of_range(capsys, checkpoint, flags, words):
    code, stdout, err = cli(
        capsys, "generate", "--checkpoint", checkpoint[0], "--prompt", "It", *flags
    )
    assert code == 2 and words in err and stdout == ""


def test_generate_names_a_damaged_checkpoint(capsys, checkpoint, tmp_path):
    folder = copy_of(checkpoint[0], tmp_path)
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text[: len(text) // 2])  # cut off while being written
    code, _, err = cli(capsys, "generate", "--checkpoint", folder, "--prompt", "It")
    assert code == 2 and "is damaged" in err and "config.json is not valid JSON" in err


# ---------------------------------------------------------------- checkpoints (API)
def test_save_checkpoint_never_replaces_unasked(checkpoint, tmp_path):
    folder, tok, model = checkpoint
    out = copy_of(folder, tmp_path)
    before = snapshot(out)
    with pytest.raises(UsageError, match="not empty") as info:
        training.save_checkpoint(out, model, tok)
    one_line(str(info.value))
    with pytest.raises(UsageError, match="no NaN"):  # checked before anything is written
        training.save_checkpoint(out, model, tok, {"loss": float("nan")}, overwrite=True)
    assert snapshot(out) == before
    training.save_checkpoint(
        out, model, tok, {"note": "new"}, overwrite=True, files={"MODEL_CARD.md": "# card\n"}
    )
    assert training.load_checkpoint(out).meta == {"note": "new"}
    assert (out / "MODEL_CARD.md").read_text() == "# card\n"


def test_a_failed_save_leaves_the_old_checkpoint_whole(checkpoint, tmp_path, monkeypatch):
    folder, tok, model = checkpoint
    out = copy_of(folder, tmp_path)
    before = snapshot(out)
    real = training._write_file

    def disk_full_at_config(path, payload):
        if path.name == "config.json":
            raise OSError(28, "No space left on device")
        real(path, payload)

    monkeypatch.setattr(training, "_write_file", disk_full_at_config)
    with pytest.raises(UsageError, match="No space left on device.*nothing there was changed"):
        training.save_checkpoint(out, model, tok, {"note": "new"}, overwrite=True)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "copy"
    ]  # no half-written folder beside it
    assert training.load_checkpoint(out).meta == {"note": "good"}


def test_a_killed_save_is_cleaned_up_by_the_next(checkpoint, tmp_path):
    folder, tok, model = checkpoint
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".new.saving-{dead.pid}-abcd"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    training.save_checkpoint(tmp_path / "new", model, tok)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]


def damaged(folder: Path, tmp_path: Path, edit) -> Path:
    copy = copy_of(folder, tmp_path)
    edit(copy)
    return copy


def edit_config(change):
    def edit(folder):
        payload = json.loads((folder / "config.json").read_text())
        change(payload)
        (folder / "config.json").write_text(json.dumps(payload))

    return edit


def flip_bytes(folder):
    raw = bytearray((folder / "model.safetensors").read_bytes())
    raw[-50:] = bytes(50)
    (folder / "model.safetensors").write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "edit, words",
    [
        (
            lambda f: (f / "config.json").write_text('{"format": "llmlab-gpt", "model": {'),
            "not valid JSON (line 1",
        ),
        (
            lambda f: (
                edit_config(lambda p: p.pop("weights"))(f),
                (f / "model.safetensors").write_bytes(b"\x00" * 20),
            ),
            "cannot be read as safetensors",
        ),  # a checkpoint saved without the weights' SHA-256
        (flip_bytes, "SHA-256 differs"),
        (edit_config(lambda p: p["model"].update(n_layers=4)), "unknown field 'model.n_layers'"),
        (
            edit_config(lambda p: p["model"].update(n_embd="16")),
            "GPTConfig.n_embd must be an integer",
        ),
        (
            edit_config(lambda p: p["tokenizer"].update(chars=p["tokenizer"]["chars"] + "XYZ")),
            "the tokenizer has",
        ),
        (edit_config(lambda p: p["tokenizer"].pop("chars")), "'chars' field"),
        (
            edit_config(
                lambda p: (
                    p.pop("weights"),
                    p["model"].update(vocab_size=p["model"]["vocab_size"] + 1),
                )
            ),
            "weight has shape (16, 16), the model config needs (17, 16)",
        ),
    ],
)
def test_load_checkpoint_names_what_is_damaged(checkpoint, tmp_path, edit, words):
    folder = damaged(checkpoint[0], tmp_path, edit)
    before = snapshot(folder)
    with pytest.raises(UsageError) as info:
        training.load_checkpoint(folder)
    assert words in one_line(str(info.value))
    assert snapshot(folder) == before


def test_load_hf_gpt2_on_other_folders(checkpoint, tmp_path):
    with pytest.raises(UsageError, match="lacks vocab_size, n_positions.*not a GPT-2 config"):
        load_hf_gpt2(checkpoint[0])  # an llmlab checkpoint, not a Hugging Face one
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 32000}))
    (llama / "model.safetensors").write_bytes(b"")
    with pytest.raises(UsageError, match="holds a 'llama' model.*not GPT-2"):
        load_hf_gpt2(llama)


def test_impossible_devices():
    with pytest.raises(UsageError, match="Unknown device 'gpu'"):
        training.resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA GPU"):
            training.load_checkpoint("anything", device="cuda")


# ---------------------------------------------------------------- hyper-parameters
@pytest.mark.parametrize(
    "changes, words",
    [
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"lr": float("inf")}, "lr must be a finite number"),
        ({"max_iters": 2.5}, "max_iters must be an integer"),
        ({"batch_size": True}, "batch_size must be an integer"),
        ({"beta2": 1.0}, "beta2 must be < 1"),
        ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
        ({"device": 0}, "device must be a string"),
    ],
)
def test_train_config_refuses(changes, words):
    with pytest.raises(UsageError) as info:
        training.TrainConfig(**changes)
    assert words in one_line(str(info.value))


# ---------------------------------------------------------------- LoRA: check first, then change
def small_gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"targets": ("q_proj", "ln_1")}, TypeError, "'ln_1' is a LayerNorm, not an nn.Linear"),
        ({"r": 1000}, UsageError, "larger than the layer"),
        ({"targets": ("q_proj", "v_prj")}, UsageError, "No layer named 'v_prj'"),
        ({"r": 0}, UsageError, "r must be >= 1"),
        ({"r": 2.5}, UsageError, "r must be an integer"),
        ({"alpha": float("nan")}, UsageError, "alpha must be a finite number"),
        ({"dropout": 1.0}, UsageError, "dropout must be < 1"),
    ],
)
def test_a_failed_apply_lora_leaves_the_model_as_it_was(kwargs, error, words):
    model = small_gpt()
    before = {
        n: (type(m), [p.requires_grad for p in m.parameters(recurse=False)])
        for n, m in model.named_modules()
    }
    with pytest.raises(error) as info:
        lora.apply_lora(model, **kwargs)
    assert words in one_line(str(info.value))
    after = {
        n: (type(m), [p.requires_grad for p in m.parameters(recurse=False)])
        for n, m in model.named_modules()
    }
    assert after == before
    x = torch.randint(0, 20, (2, 8))
    model(x, x)[1].backward()  # full fine-tuning still works
    assert all(p.grad is not None for p in model.parameters())


def test_apply_lora_takes_one_target_as_a_string():
    model = lora.apply_lora(small_gpt(), r=2, targets="q_proj")
    assert list(lora.lora_layers(model)) == ["transformer.h.0.attn.q_proj"]


# ---------------------------------------------------------------- generation and the model
@pytest.mark.parametrize(
    "prompt, kwargs, words",
    [
        ("hello", {}, "not text: encode it first"),
        (torch.tensor([[1.0, 2.0]]), {}, "integer token ids, got a torch.float32 tensor"),
        ([1, 2.7], {}, "integer token ids, got 2.7"),
        ([1, 2], {"temperature": float("nan")}, "temperature must be a finite number"),
        ([1, 2], {"temperature": 1e-40}, "too close to 0"),
        ([1, 2], {"temperature": "0.8"}, "temperature must be a number"),
        ([1, 2], {"top_k": 0}, "top_k"),
        ([1, 2], {"top_p": float("nan")}, "top_p"),
        ([1, 2], {"max_new_tokens": 2.5}, "max_new_tokens must be an integer"),
        ([1, 99], {}, "token ids must lie in 0 .. 19"),
    ],
)
def test_generate_refuses(prompt, kwargs, words):
    kwargs = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError) as info:
        generation.generate(small_gpt(), prompt, **kwargs)
    assert words in one_line(str(info.value))


@pytest.mark.parametrize(
    "targets, words",
    [
        (torch.rand(2, 8), "integer token ids, got torch.float32"),
        (torch.zeros(2, 7, dtype=torch.long), "shape of idx (2, 8)"),
        (torch.full((2, 8), 25), "targets must be token ids in 0 .. 19"),
    ],
)
@pytest.mark.parametrize("kind", ["gpt", "llama"])
def test_model_refuses_bad_targets(targets, words, kind):
    from llmlab.llama import Llama, LlamaConfig

    model = (
        small_gpt()
        if kind == "gpt"
        else Llama(LlamaConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    )
    with pytest.raises(UsageError) as info:
        model(torch.zeros(2, 8, dtype=torch.long), targets)
    assert words in one_line(str(info.value))


def test_tokenizers_refuse():
    tok = CharTokenizer.from_text("abc")
    for call, words in [
        (lambda: tok.decode([0.0, 1.7]), "token ids must be integers, got 0.0"),
        (lambda: tok.decode("ab"), "not text"),
        (lambda: tok.encode(123), "encode() takes a str"),
        (lambda: BPETokenizer.train("some text", 300.5), "vocab_size must be an integer"),
        (lambda: tokenizer_from_dict({"type": "bpe", "merges": [["x"]]}), "is damaged"),
    ]:
        with pytest.raises(ValueError) as info:
            call()
        assert words in one_line(str(info.value))


# ---------------------------------------------------------------- downloads
class _Trickle(http.server.BaseHTTPRequestHandler):
    """Promises 100 kB, then sends one byte every 20 ms: each read is quick, the whole is not."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_download_that_trickles_hits_its_deadline(tmp_path, monkeypatch):
    import dataclasses

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    httpd.daemon_threads = True
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("LLMLAB_CACHE", str(cache))
    entry = dataclasses.replace(
        data.REGISTRY["tiny-shakespeare"],
        name="trickle",
        filename="trickle.txt",
        url=f"http://127.0.0.1:{httpd.server_address[1]}/x",
    )
    monkeypatch.setitem(data.REGISTRY, "trickle", entry)
    stale = cache / ".trickle.txt.killed.part"  # left by a download that was killed
    stale.write_bytes(b"")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    try:
        started = time.monotonic()
        with pytest.raises(data.DatasetError) as info:
            data.download("trickle", timeout=2, deadline=0.5)
        assert time.monotonic() - started < 3
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "took longer than 0.5 s" in one_line(str(info.value))
    assert list(cache.iterdir()) == []  # the stale .part is gone, and this one left nothing


# ---------------------------------------------------------------- help
def test_help_does_not_import_torch_and_shows_examples():
    code = (
        "import sys; from llmlab.__main__ import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().endswith("torch not imported"), proc.stdout + proc.stderr
    assert proc.stdout.count("python -m llmlab ") >= 2


def test_every_flag_has_a_help_line_with_its_meaning():
    from llmlab.__main__ import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "train" in a.choices).choices
    for name, sub in subparsers.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and len(action.help) > 8, (name, action.option_strings)
        assert sub.epilog.count("python -m llmlab") == 2, name


@pytest.mark.parametrize(
    "call, words",
    [
        (
            lambda: training.TokenStream([1.5] * 100, [2.5] * 100, 8),
            "integer token ids, got torch.float32",
        ),
        (lambda: training.TokenStream("some text " * 20, "more text " * 20, 8), "is text"),
        (
            lambda: training.TokenStream(list(range(100)), list(range(100)), 0),
            "block_size must be >= 1",
        ),
        (lambda: training.split_train_val("abc", "0.1"), "val_fraction must be a number"),
        (lambda: training.load_checkpoint(123), "takes a folder path, got int"),
        (lambda: generation.sampling_probs("logits"), "logits must be a tensor"),
        (lambda: data.load_text(123), "named by a string"),
    ],
)
def test_more_api_misuse(call, words):
    with pytest.raises((ValueError, data.DatasetError)) as info:
        call()
    assert words in one_line(str(info.value))
