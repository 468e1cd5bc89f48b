"""The checkpoints lessons 05 and 06 ship: the scripts rebuild them bit for bit, and the shipped files
are what their cards say (scripts/train_finetuned_models.py, scripts/train_family_models.py)."""

import copy
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from llmlab import finetuning as ft
from llmlab import model_card, objectives, training
from llmlab.data import load_text
from llmlab.gpt import GPT, GPTConfig
from llmlab.paths import data_dir
from llmlab.tokenizers import CharTokenizer

REPO = Path(__file__).resolve().parents[1]


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def weights_bytes(folder: Path) -> bytes:
    """The tensor data of a folder's safetensors file (the header's metadata order may vary, see tensors_sha256)."""
    (path,) = [p for p in folder.iterdir() if p.suffix == ".safetensors"]
    raw = path.read_bytes()
    return raw[8 + int.from_bytes(raw[:8], "little") :]


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer.from_text(load_text("wiki-news"))


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, tok):
    """A 1-block, 16-wide GPT with the course model's context: the smallest model the recipes run on."""
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16)
    )
    return training.save_checkpoint(tmp_path_factory.mktemp("base"), model, tok, {"name": "tiny"})


# ---------------------------------------------------------------- the scripts are deterministic
@pytest.mark.slow
def test_finetuning_script_rebuilds_the_same_bytes(tmp_path, tiny_base):
    script = load_script("train_finetuned_models")
    args = ["--base", str(tiny_base), "--max-iters", "3", "--threads", "1"]
    for out in ("a", "b"):
        script.main([*args, "--out-dir", str(tmp_path / out)])
    for name, folder in ft.SHIPPED.items():
        first, second = tmp_path / "a" / folder, tmp_path / "b" / folder
        assert weights_bytes(first) == weights_bytes(second), name
        meta = json.loads((first / "config.json").read_text())["meta"]
        assert meta["sha256"] == model_card.file_facts(next(first.glob("*.safetensors")))["sha256"]
        assert "--out-dir" not in meta["command"] and "--max-iters 3" in meta["command"]
        assert "Reproduce" in (first / "MODEL_CARD.md").read_text()
        assert len(model_card.read_train_log(first)["train_losses"]) == 3
    # the three recipes really differ: mixing prose in, and LoRA, change the weights
    assert weights_bytes(tmp_path / "a" / "sft-full") != weights_bytes(tmp_path / "a" / "sft-mixed")


@pytest.mark.slow
def test_family_script_rebuilds_the_same_bytes(tmp_path):
    script = load_script("train_family_models")
    for out in ("a", "b"):
        script.main(["--max-iters", "4", "--threads", "1", "--out-dir", str(tmp_path / out)])
    for folder in objectives.FAMILY_SHIPPED.values():
        assert weights_bytes(tmp_path / "a" / folder) == weights_bytes(tmp_path / "b" / folder), (
            folder
        )
    enc = training.load_checkpoint(tmp_path / "a" / "family-encoder")
    dec = training.load_checkpoint(tmp_path / "a" / "family-decoder")
    assert not enc.model.config.causal and dec.model.config.causal
    assert enc.meta["mask_id"] == enc.tokenizer.vocab_size == enc.model.config.vocab_size - 1


def test_scripts_never_replace_a_checkpoint_unless_told(tmp_path, tiny_base):
    (tmp_path / "sft-lora").mkdir()
    (tmp_path / "sft-lora" / "mine.txt").write_text("keep me")
    script = load_script("train_finetuned_models")
    with pytest.raises(SystemExit, match="--overwrite"):
        script.main(["--base", str(tiny_base), "--out-dir", str(tmp_path), "--max-iters", "1"])
    assert (tmp_path / "sft-lora" / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "sft-full").exists()  # checked before anything was trained
    (tmp_path / "family-decoder").mkdir()
    (tmp_path / "family-decoder" / "x").write_text("")
    with pytest.raises(SystemExit, match="--overwrite"):
        load_script("train_family_models").main(["--out-dir", str(tmp_path), "--max-iters", "1"])


def test_tensors_sha256_ignores_metadata_order_but_not_a_changed_weight(tmp_path):
    from safetensors.torch import save_file

    t = {"a": torch.arange(4.0), "b": torch.ones(2, 2)}
    save_file(t, str(tmp_path / "1.safetensors"), metadata={"x": "1", "y": "2"})
    save_file(
        dict(reversed(t.items())), str(tmp_path / "2.safetensors"), metadata={"y": "2", "x": "1"}
    )
    assert model_card.tensors_sha256(tmp_path / "1.safetensors") == model_card.tensors_sha256(
        tmp_path / "2.safetensors"
    )
    t["a"][0] = 1e-7
    save_file(t, str(tmp_path / "3.safetensors"))
    assert model_card.tensors_sha256(tmp_path / "3.safetensors") != model_card.tensors_sha256(
        tmp_path / "1.safetensors"
    )


def test_recorded_command_leaves_out_where_the_files_go():
    cmd = model_card.recorded_command(
        "scripts/x.py",
        ["--out-dir", "/tmp/a", "--threads", "2", "--overwrite", "--out=/b", "--only", "full,lora"],
    )
    assert cmd == "python scripts/x.py --threads 2 --only full,lora"


# ---------------------------------------------------------------- the pieces the recipes use
def test_lora_adapters_round_trip_and_refuse_another_model(tmp_path, tok):
    torch.manual_seed(0)
    base = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16))
    adapted = copy.deepcopy(base)
    from llmlab import lora

    lora.apply_lora(adapted, r=2, alpha=4, targets=("q_proj", "fc_in"))
    with torch.no_grad():
        for n, p in adapted.named_parameters():
            if "lora_B" in n:
                p.normal_()  # B = 0 would make every adapter look alike
    ft.save_lora_adapters(tmp_path, adapted, {"r": 2, "alpha": 4, "targets": ["q_proj", "fc_in"]})
    loaded = ft.load_lora_adapters(copy.deepcopy(base), tmp_path)
    idx = torch.randint(tok.vocab_size, (2, 8))
    assert torch.equal(loaded(idx)[0], adapted(idx)[0])
    other = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=16))
    with pytest.raises(ValueError, match="do not fit"):
        ft.load_lora_adapters(other, tmp_path)
    with pytest.raises(FileNotFoundError, match="No LoRA adapters"):
        ft.load_lora_adapters(copy.deepcopy(base), tmp_path / "nowhere")


def test_mixed_batches_add_prose_rows_to_training_batches_only(tok):
    data = ft.make_instruction_data(n_train=50, n_held_out=5)
    instructions = ft.InstructionBatches(data, tok, block_size=128)
    ids = torch.tensor(tok.encode(load_text("wiki-news")[:20_000]))
    mixed = ft.MixedBatches(instructions, training.TokenStream(ids, ids, 128), prose_rows=2)
    x, y = mixed.sample("train", 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape and x.shape[0] == 6
    assert (y[4:] != ft.IGNORE_INDEX).all()  # every prose position is a target
    assert torch.equal(y[4:, :-1], x[4:, 1:])  # next-token targets
    xv, _ = mixed.sample("val", 4, torch.Generator().manual_seed(0))
    assert xv.shape[0] == 4


# ---------------------------------------------------------------- what is shipped
SHIPPED_DIRS = [*ft.SHIPPED.values(), *objectives.FAMILY_SHIPPED.values()]


@pytest.mark.parametrize("folder", SHIPPED_DIRS)
def test_shipped_weights_are_what_their_card_says(folder):
    path = data_dir() / folder
    assert path.is_dir(), f"{folder} is not shipped: build it with the script its lesson names"
    meta = json.loads((path / "config.json").read_text())["meta"]
    (weights,) = path.glob("*.safetensors")
    assert model_card.file_facts(weights)["sha256"] == meta["sha256"]
    card = (path / "MODEL_CARD.md").read_text()
    assert meta["sha256"][:16] in card and meta["command"] in card
    log = model_card.read_train_log(path)
    assert len(log["train_losses"]) == meta["result"]["steps"] == meta["train_config"]["max_iters"]
    assert "--max-iters" not in meta["command"], "a shortened run must not ship"


def test_course_model_is_what_its_card_says():
    path = data_dir() / training.COURSE_MODEL
    meta = json.loads((path / "config.json").read_text())["meta"]
    assert model_card.file_facts(path / training.WEIGHTS_FILE) == {
        "file_bytes": meta["file_bytes"],
        "sha256": meta["sha256"],
    }
    card = (path / "MODEL_CARD.md").read_text()
    assert meta["sha256"][:16] in card and meta["command"] in card


def test_shipped_lora_run_was_trained_on_the_shipped_course_model():
    meta = json.loads((data_dir() / ft.SHIPPED["lora"] / "config.json").read_text())["meta"]
    base = model_card.file_facts(data_dir() / training.COURSE_MODEL / training.WEIGHTS_FILE)[
        "sha256"
    ]
    assert meta["base_sha256"] == base


def test_the_long_runs_checkpoints_stay_under_10_mb_together():
    """Issue #15: the checkpoints that replaced the lessons' long runs fit in 10 MB together.

    (data/mini-gpt, lesson 04's full run, was already shipped; data/mini-llama is lesson 07's model, not a long run.)
    """
    folders = [data_dir() / d for d in SHIPPED_DIRS if (data_dir() / d).is_dir()]
    assert sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file()) < 10_000_000


def test_full_run_switch_retrains_what_the_lesson_would_load(monkeypatch, tiny_base, tok):
    """Lesson 05's FULL_RUN = True path: the same recipes, trained in place, give models and logs of the same form."""
    import dataclasses

    short = {
        n: {**r, "train": dataclasses.replace(r["train"], max_iters=2, eval_interval=1)}
        for n, r in ft.RECIPES.items()
    }
    monkeypatch.setattr(ft, "RECIPES", short)
    base = training.load_checkpoint(tiny_base).model
    data = ft.make_instruction_data(n_train=40, n_held_out=5)
    ids = torch.tensor(tok.encode(load_text("wiki-news")[:20_000]))
    models, logs = ft.shipped_or_retrained(
        base, data, tok, ids, retrain=True, names=("full", "mixed", "lora")
    )
    assert set(models) == set(logs) == {"full", "mixed", "lora"}
    assert all(
        len(log["train_losses"]) == 2 and log["summary"]["steps"] == 2 for log in logs.values()
    )
    from llmlab import lora

    assert lora.lora_layers(models["lora"]) and not lora.lora_layers(models["full"])
    assert not torch.equal(models["full"].lm_head.weight, base.lm_head.weight)  # trained a copy ...
    assert torch.equal(
        training.load_checkpoint(tiny_base).model.lm_head.weight, base.lm_head.weight
    )  # ... not the base
