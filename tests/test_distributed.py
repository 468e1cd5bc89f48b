"""Data parallelism (llmlab.distributed) on CPU with gloo: 2 processes x batch b = 1 process x batch 2b.

The two-process runs are real: separate Python processes that meet over TCP on 127.0.0.1,
started with environment variables as torchrun sets them (and once by torchrun itself).
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from llmlab import distributed, training
from llmlab.__main__ import main
from llmlab.errors import UsageError
from llmlab.gpt import GPT, GPTConfig

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
GLOBAL_BATCH, STEPS = 8, 6
CONFIG = training.TrainConfig(
    max_iters=STEPS,
    batch_size=GLOBAL_BATCH,
    lr=3e-3,
    warmup_iters=2,
    eval_interval=3,
    eval_iters=2,
    seed=0,
)


def tiny_setup():
    """A 1-layer, 16-wide GPT (same weights on every call) and a random token stream."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 32, (4000,), generator=g)
    torch.manual_seed(0)
    # No biases: a key bias has gradient 0 in exact arithmetic (softmax ignores a shift common to all
    # keys), and Adam turns the rounding noise it gets into full-size steps of either sign.
    model = GPT(
        GPTConfig(
            vocab_size=32, block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.0, bias=False
        )
    )
    return model, training.TokenStream(ids[:3600], ids[3600:], 16)


def first_gradients(model, stream, ddp_model=None, batches=None) -> dict:
    """Gradients of the first training batch's loss (through DDP when given)."""
    x, y = (batches or stream).sample("train", GLOBAL_BATCH, torch.Generator().manual_seed(0))
    _, loss = (ddp_model or model)(x, y)
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return grads


def _worker(out: str, mode: str) -> None:
    """One process of a 2-process run (started by the tests below with torchrun's variables)."""
    torch.set_num_threads(1)
    dp = distributed.init_from_env("cpu", timeout_s=float(os.environ.get("TEST_TIMEOUT", "20")))
    model, stream = tiny_setup()
    if mode == "equal":
        grads = first_gradients(model, stream, dp.wrap(model), dp.shard(stream, GLOBAL_BATCH))
        result = training.train(model, stream, CONFIG, show_progress=False, distributed=dp)
        if dp.is_main:
            save_file(
                {k: v.clone() for k, v in model.state_dict().items()}, f"{out}/weights.safetensors"
            )
            save_file(grads, f"{out}/grads.safetensors")
            Path(f"{out}/result.json").write_text(
                json.dumps({"losses": result.train_losses, "evals": result.evals})
            )
        dp.close()
        return

    def trouble(step, loss):  # process 1 fails (or stops answering) at step 2
        if dp.rank == 1 and step == 2:
            if mode == "hang":
                time.sleep(120)
            raise RuntimeError("process 1 fails on purpose")

    try:
        training.train(model, stream, CONFIG, show_progress=False, distributed=dp, callback=trouble)
    except Exception as e:
        message = distributed.describe_failure(dp, e)
        print(message or f"{type(e).__name__}: {e}", file=sys.stderr)
        distributed.leave_after_failure(4)  # as llmlab's CLI does: no teardown of the broken group


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp_path, mode: str, timeout_s: float = 20):
    """Start 2 worker processes as torchrun would; returns their CompletedProcess-like (rc, stderr, seconds)."""
    port, procs, t0 = free_port(), [], time.perf_counter()
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_distributed as t; t._worker({str(tmp_path)!r}, {mode!r})"
    for rank in range(2):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "TEST_TIMEOUT": str(timeout_s),
            "OMP_NUM_THREADS": "1",
        }
        procs.append(
            subprocess.Popen([PYTHON, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
        )
    outs = []
    for rank, p in enumerate(procs):
        if (
            mode == "hang" and rank == 1
        ):  # it sleeps on purpose; the other has already stopped (or not)
            p.kill()
        try:
            _, err = p.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a 2-process run hung")
        outs.append((p.returncode, err))
    return outs, time.perf_counter() - t0


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    results, _ = launch(out, "equal")
    assert all(rc == 0 for rc, _ in results), results
    return out


@pytest.fixture(scope="module")
def one_process():
    model, stream = tiny_setup()
    grads = first_gradients(model, stream)
    result = training.train(model, stream, CONFIG, show_progress=False)
    return model, grads, result


def test_shards_cover_the_global_batch_in_order():
    _, stream = tiny_setup()
    full = stream.sample("train", GLOBAL_BATCH, torch.Generator().manual_seed(5))[0]
    parts = [
        distributed.ShardedBatches(stream, r, 2).sample(
            "train", GLOBAL_BATCH, torch.Generator().manual_seed(5)
        )[0]
        for r in range(2)
    ]
    assert parts[0].shape == (GLOBAL_BATCH // 2, 16)
    assert torch.equal(torch.cat(parts), full)


def test_all_reduced_gradients_equal_the_single_process_gradient(two_processes, one_process):
    grads = load_file(two_processes / "grads.safetensors")
    for name, g in one_process[1].items():
        torch.testing.assert_close(grads[name], g, rtol=1e-5, atol=1e-7, msg=name)


def test_two_processes_train_like_one_with_the_double_batch(two_processes, one_process):
    model, _, result = one_process
    logged = json.loads((two_processes / "result.json").read_text())
    assert len(logged["losses"]) == STEPS
    assert logged["losses"] == pytest.approx(result.train_losses, rel=1e-5)
    assert [e["step"] for e in logged["evals"]] == [0, 3, 6]
    assert [e["val_loss"] for e in logged["evals"]] == pytest.approx(
        [e["val_loss"] for e in result.evals], rel=1e-5
    )
    weights = load_file(two_processes / "weights.safetensors")
    for name, w in model.state_dict().items():
        torch.testing.assert_close(weights[name], w, rtol=1e-5, atol=1e-6, msg=name)
    assert not torch.equal(
        weights["transformer.wte.weight"], tiny_setup()[0].state_dict()["transformer.wte.weight"]
    )


def test_a_failing_process_stops_the_other_with_a_clear_line(tmp_path):
    (
        (rc0, err0),
        (rc1, err1),
    ) = launch(tmp_path, "fail")[0]
    assert rc1 != 0 and "fails on purpose" in err1, err1[-3000:]
    assert rc0 == 4, f"process 0 exited with {rc0}; its stderr ends:\n{err0[-3000:]}"
    assert (
        "another process of this run failed or stopped answering" in err0.strip().splitlines()[-1]
    )


def test_a_silent_process_stops_the_other_at_the_timeout(tmp_path):
    results, seconds = launch(tmp_path, "hang", timeout_s=3)
    rc0, err0 = results[0]
    assert rc0 == 4 and "another process of this run" in err0, err0
    assert seconds < 60


def test_torchrun_cli_writes_the_checkpoint_of_one_process_with_the_double_batch(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 200, encoding="utf-8")
    flags = ["-m", "llmlab", "train", "--text", str(text)] + (
        "--n-layer 1 --n-head 2 --n-embd 16 --block-size 16 --batch-size 4 --max-iters 4 "
        "--eval-interval 2 --eval-iters 2 --no-bias --quiet --dist-timeout 30"
    ).split()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run(
        [PYTHON, *flags, "--out", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [TORCHRUN, "--standalone", "--nproc_per_node=2", *flags, "--out", str(tmp_path / "two")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert two.returncode == 0, two.stderr
    lines = [json.loads(line) for line in two.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1 and lines[0]["processes"] == 2  # only process 0 prints
    assert lines[0]["val_loss"] == pytest.approx(json.loads(one.stdout)["val_loss"], abs=1e-4)
    a, b = (
        load_file(tmp_path / "one" / "model.safetensors"),
        load_file(tmp_path / "two" / "model.safetensors"),
    )
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
    meta = json.loads((tmp_path / "two" / "config.json").read_text())["meta"]
    assert meta["data_parallel"] == {"processes": 2, "backend": "gloo"}


@pytest.fixture
def torchrun_env(monkeypatch):
    """This process looks like rank 0 of 2 under torchrun, with nobody else there."""
    for name, value in {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "2",
        "LOCAL_WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
    }.items():
        monkeypatch.setenv(name, value)


def test_a_batch_the_processes_cannot_share_is_one_line(torchrun_env, tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("abcdefgh " * 100, encoding="utf-8")
    code = main(
        [
            "train",
            "--text",
            str(text),
            "--batch-size",
            "3",
            "--n-layer",
            "1",
            "--n-embd",
            "16",
            "--n-head",
            "2",
            "--block-size",
            "8",
            "--max-iters",
            "1",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert (
        "--batch-size 3 cannot be shared equally by 2 processes" in err and "multiple of 2" in err
    )


def test_a_rendezvous_that_never_completes_times_out(torchrun_env):
    t0 = time.perf_counter()
    with pytest.raises(distributed.DistributedError, match="did not all join within 2 s"):
        distributed.init_from_env("cpu", timeout_s=2)
    assert time.perf_counter() - t0 < 30


def test_devices_that_cannot_do_data_parallel_are_refused(torchrun_env):
    with pytest.raises(UsageError):
        distributed.init_from_env("mps")
    with pytest.raises(UsageError, match="timeout"):
        distributed.init_from_env("cpu", timeout_s=0)


def test_one_process_needs_no_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.init_from_env("cpu") is None


def test_zero_memory_matches_the_papers_figure_1():
    """ZeRO (arXiv:1910.02054) Figure 1: 7.5B parameters, 64 devices: 120, 31.4, 16.6 and 1.9 GB per device."""
    got = [b / 1e9 for b in distributed.zero_memory_per_device(7_500_000_000, 64).values()]
    assert got == pytest.approx([120, 31.4, 16.6, 1.88], abs=0.05)


def test_launch_local_sets_torchruns_variables(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    seen = {}

    def here():
        seen.update({k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR")})
        return 0

    script = [
        "-c",
        "import os; print(os.environ['RANK'], os.environ['LOCAL_RANK'], os.environ['WORLD_SIZE'])",
    ]
    assert [(c, o.split()) for c, o, _ in distributed.launch_local(script, nproc=2)] == [
        (0, ["0", "0", "2"]),
        (0, ["1", "1", "2"]),
    ]
    results = distributed.launch_local(script, nproc=3, rank0=here)
    assert (
        seen == {"RANK": "0", "WORLD_SIZE": "3", "MASTER_ADDR": "127.0.0.1"}
        and "RANK" not in os.environ
    )
    assert [o.split() for _, o, _ in results] == [[], ["1", "1", "3"], ["2", "2", "3"]]
