"""Instruction data, prompt masking, answering and the fine-tuning helpers (llmlab.finetuning)."""

import copy

import pytest
import torch
import torch.nn.functional as F

from llmlab import finetuning as ft
from llmlab.data import load_text
from llmlab.exercises import finetuning as ex
from llmlab.gpt import GPT, GPTConfig
from llmlab.tokenizers import CharTokenizer


@pytest.fixture(scope="module")
def data():
    return ft.make_instruction_data(n_train=200, n_held_out=30, seed=0)


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer.from_text(load_text("wiki-news"))


def tiny_gpt(vocab_size, block_size=128):
    torch.manual_seed(0)
    return GPT(
        GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=2, n_head=2, n_embd=32)
    )


# ---------------------------------------------------------------- the data
def test_same_seed_same_data_other_seed_other_data(data):
    again = ft.make_instruction_data(n_train=200, n_held_out=30, seed=0)
    assert again.train == data.train and again.held_out == data.held_out
    other = ft.make_instruction_data(n_train=200, n_held_out=30, seed=1)
    assert other.held_out != data.held_out


def test_no_overlap_between_training_and_held_out(data):
    train_instr = {e.instruction for e in data.train}
    assert not train_instr & {e.instruction for e in data.held_out}
    assert not set(data.train_words) & set(data.held_out_words)
    # word tasks: no held-out word ever appears in a training instruction
    train_words = {
        w
        for e in data.train
        if e.kind != "capital"
        for w in e.instruction.split(": ", 1)[1].split()
    }
    held_words = {
        w
        for e in data.held_out
        if e.kind != "capital"
        for w in e.instruction.split(": ", 1)[1].split()
    }
    assert held_words and not train_words & held_words
    assert held_words <= set(data.held_out_words)


def test_capital_held_out_is_a_new_wording_of_a_known_fact(data):
    held = [e for e in data.held_out if e.kind == "capital"]
    assert len(held) == len(ft.CAPITALS)
    train_pairs = {(e.instruction, e.response) for e in data.train if e.kind == "capital"}
    for e in held:
        country = next(c for c, cap in ft.CAPITALS if cap == e.response)
        seen = [i for i, _ in train_pairs if country in i]
        assert (
            len(seen) == len(ft.CAPITAL_QUESTIONS) - 1
        )  # the fact was taught in the two other wordings
        assert e.instruction not in seen


def test_every_kind_present_and_answers_correct(data):
    by_kind = data.by_kind("train")
    assert set(by_kind) == set(ft.TASK_KINDS) and all(by_kind.values())
    for e in data.train + data.held_out:
        word = e.instruction.split(": ", 1)[-1]
        if e.kind == "upper":
            assert e.response == word.upper()
        elif e.kind == "reverse":
            assert e.response == word[::-1] and 3 <= len(word) <= 5
        elif e.kind == "pattern":
            seq = word.split()
            period = next(p for p in (2, 3) if all(seq[i] == seq[i % p] for i in range(len(seq))))
            assert e.response == seq[len(seq) % period]


def test_all_characters_in_the_course_vocabulary_and_fit_the_context(data, tok):
    for e in data.train + data.held_out:
        ids = tok.encode(e.text)  # raises on a character the course model has never seen
        assert len(ids) - 1 <= 128


def test_template():
    e = ft.Example("upper", "Write in capitals: cat", "CAT")
    assert e.text == "### Instruction:\nWrite in capitals: cat\n\n### Response:\nCAT\n"
    assert e.text.startswith(e.prompt)


# ---------------------------------------------------------------- masking
def test_prompt_targets_are_masked_response_targets_kept(tok):
    e = ft.Example("upper", "Write in capitals: cat", "CAT")
    ids, n_prompt = ft.encode_example(e, tok)
    assert tok.decode(ids[:n_prompt]) == e.prompt
    x, y = ft.sft_inputs_and_targets(ids, n_prompt)
    assert x.tolist() == ids[:-1]
    kept = y[y != ft.IGNORE_INDEX]
    assert tok.decode(kept.tolist()) == "CAT\n"  # the response and its end newline, nothing else
    assert (y[: n_prompt - 1] == ft.IGNORE_INDEX).all()
    with pytest.raises(ValueError, match="n_prompt"):
        ft.sft_inputs_and_targets(ids, len(ids))


def test_model_loss_counts_response_tokens_only(data, tok):
    batches = ft.InstructionBatches(data, tok, block_size=128)
    x, y = batches.sample("train", 4, torch.Generator().manual_seed(0))
    model = tiny_gpt(tok.vocab_size)
    logits, loss = model(x, y)
    keep = y != ft.IGNORE_INDEX
    reference = F.cross_entropy(logits[keep], y[keep])  # only response positions, by hand
    torch.testing.assert_close(loss, reference)
    # without the mask the prompt and padding positions would count, and the loss would differ
    y2 = y.clone()
    y2[~keep] = 5
    assert not torch.allclose(model(x, y2)[1], loss)


def test_batches_shapes_padding_and_splits(data, tok):
    batches = ft.InstructionBatches(data, tok)
    X, Y = batches.tensors["train"]
    assert X.shape == Y.shape and len(X) == len(data.train) == len(batches)
    assert len(batches.tensors["val"][0]) == len(data.held_out)
    x, y = batches.sample("val", 8, torch.Generator().manual_seed(1))
    assert x.shape == y.shape and x.shape[0] == 8 and x.shape[1] <= X.shape[1]
    assert (
        y[:, -1] != ft.IGNORE_INDEX
    ).any()  # trimmed to the longest example of the batch, no further
    Xv, Yv = batches.tensors["val"]
    rows = torch.randint(len(Xv), (8,), generator=torch.Generator().manual_seed(1))  # the same draw
    assert torch.equal(x, Xv[rows, : x.shape[1]]) and torch.equal(y, Yv[rows, : x.shape[1]])
    assert (Yv[rows, x.shape[1] :] == ft.IGNORE_INDEX).all()  # only padding was cut
    with pytest.raises(ValueError, match="split"):
        batches.sample("test", 2)
    with pytest.raises(ValueError, match="block_size"):
        ft.InstructionBatches(data, tok, block_size=20)


def test_loss_mask_view_marks_the_response(tok):
    e = ft.Example("reverse", "Reverse the letters: dog", "god")
    view = ft.loss_mask_view(e, tok)
    assert "".join(c for c, _ in view) == e.text
    assert "".join(c for c, f in view if f) == "god\n"


# ---------------------------------------------------------------- answering
def naive_greedy(model, tok, instruction, steps):
    """Greedy decoding written the slow way: full forward each step, no cache, no batching."""
    ids = tok.encode(ft.format_prompt(instruction))
    for _ in range(steps):
        logits, _ = model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    out = tok.decode(ids[len(tok.encode(ft.format_prompt(instruction))) :])
    return out.split(ft.END)[0]


def test_answer_matches_naive_greedy_decoding(data, tok):
    model = tiny_gpt(tok.vocab_size).eval()
    instructions = [e.instruction for e in data.held_out[:12]]
    got = ft.answer(model, tok, instructions, max_new_tokens=6)
    assert got == [naive_greedy(model, tok, s, 6) for s in instructions]


def test_evaluate_scores_exact_matches(data, tok):
    model = tiny_gpt(tok.vocab_size)
    result = ft.evaluate(model, tok, data.held_out[:10], max_new_tokens=4)
    acc = result.accuracy()
    assert set(acc) >= {"all"} and all(0 <= v <= 1 for v in acc.values())
    rows = [dict(r, answer=r["expected"], correct=True) for r in result.rows]
    assert ft.Evaluation(rows).accuracy()["all"] == 1.0


@pytest.mark.slow
def test_a_few_sft_steps_lower_the_response_loss(data, tok):
    from llmlab.training import TrainConfig, train

    model = tiny_gpt(tok.vocab_size)
    batches = ft.InstructionBatches(data, tok)
    result = train(
        model,
        batches,
        TrainConfig(
            max_iters=60,
            batch_size=16,
            lr=3e-3,
            warmup_iters=5,
            eval_interval=60,
            eval_iters=3,
        ),
        show_progress=False,
    )
    assert result.evals[-1]["train_loss"] < result.evals[0]["train_loss"] - 0.5


# ---------------------------------------------------------------- what changed
def test_weight_change_and_corpus_loss(tok):
    before = tiny_gpt(tok.vocab_size)
    after = copy.deepcopy(before)
    with torch.no_grad():
        after.transformer.h[1].attn.q_proj.weight.mul_(1.5)
    rows = {r["name"]: r for r in ft.weight_change(before, after)}
    assert rows["transformer.h.1.attn.q_proj.weight"]["relative change"] == pytest.approx(
        0.5, rel=1e-5
    )
    assert rows["transformer.h.1.attn.q_proj.weight"]["layer"] == "block 1"
    assert rows["transformer.h.0.attn.q_proj.weight"]["relative change"] == 0
    ids = torch.tensor(tok.encode(load_text("wiki-news")[:5000]))
    a = ft.corpus_loss(before, ids, block_size=64, n_batches=2, batch_size=4)
    assert a == ft.corpus_loss(
        before, ids, block_size=64, n_batches=2, batch_size=4
    )  # same windows
    assert a == pytest.approx(
        torch.log(torch.tensor(float(tok.vocab_size))).item(), rel=0.05
    )  # untrained


# ---------------------------------------------------------------- exercises
def test_exercise_checkers(capsys):
    assert not ex.check_lora_parameters(None, n_layer=4, n_embd=128, r=8)
    assert not ex.check_lora_parameters(4 * 2 * 8 * 128, n_layer=4, n_embd=128, r=8)
    # by hand: 4 blocks x 2 layers (q, v) x (B: 128 x 8 + A: 8 x 128) = 4 x 2 x 2,048
    assert ex.check_lora_parameters(16_384, n_layer=4, n_embd=128, r=8)
    assert ex.check_full_finetuning_memory(16 * 13.015864320)
    assert not ex.check_full_finetuning_memory(26)

    def mask_prompt(ids, n_prompt):  # written out: y[t] predicts ids[t + 1]; prompt targets ignored
        return ids[:-1], [-100 if t < n_prompt - 1 else ids[t + 1] for t in range(len(ids) - 1)]

    assert ex.check_mask_prompt(mask_prompt)
    assert not ex.check_mask_prompt(lambda ids, n: (ids[:-1], ids[1:]))
    assert ex.check_merged_weight(lambda W0, A, B, alpha, r: W0 + alpha / r * B @ A)
    assert not ex.check_merged_weight(lambda W0, A, B, alpha, r: W0 + B @ A)
    out = capsys.readouterr().out
    assert "Correct!" in out and "Not yet:" in out and "Traceback" not in out
