"""llmlab.alignment: the rule, the pairs, the masked log-probabilities, Bradley-Terry and DPO against
their formulas computed independently (plain loops over tokens), the reward model, and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmlab import alignment as al
from llmlab.errors import NonFiniteLossError, UsageError
from llmlab.finetuning import END, Example
from llmlab.gpt import GPT, GPTConfig
from llmlab.tokenizers import CharTokenizer

UPPER = Example("upper", "Write in capitals: cat", "CAT")
REVERSE = Example("reverse", "Reverse the letters: stop", "pots")
PATTERN = Example("pattern", "Continue the pattern: red sky red", "sky")
CAPITAL = Example("capital", "What is the capital of Peru?", "Lima")


@pytest.fixture(scope="module")
def tok():
    text = "".join(chr(c) for c in range(32, 127)) + "\n"
    return CharTokenizer.from_text(text)


@pytest.fixture(scope="module")
def tiny(tok):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=96, n_layer=1, n_head=2, n_embd=16))


# ---------------------------------------------------------------- the rule
@pytest.mark.parametrize(
    ("example", "right", "form", "neither"),
    [
        (UPPER, "CAT", "CAR", "cat"),
        (UPPER, "CAT", "TAC", "CATS"),
        (REVERSE, "pots", "tops", "post!"),
        (PATTERN, "sky", "red", "blue"),
        (CAPITAL, "Lima", "Paris", "Lime"),
    ],
)
def test_rule_scores_right_form_and_neither(example, right, form, neither):
    assert al.rule_score(example, right) == 2
    assert al.rule_score(example, form) == 1
    assert al.rule_score(example, neither) == 0
    assert al.prefers(example, right, form) and al.prefers(example, form, neither)
    assert not al.prefers(example, form, form) and not al.prefers(example, neither, right)


def test_rule_refuses_bad_input():
    with pytest.raises(UsageError, match="Example"):
        al.rule_score("Write in capitals: cat", "CAT")
    with pytest.raises(UsageError, match="string"):
        al.rule_score(UPPER, 3)
    with pytest.raises(UsageError, match="task kind"):
        al.rule_score(Example("poem", "Write a poem", "roses"), "violets")


def test_pairs_obey_the_rule(tiny, tok):
    examples = [UPPER, REVERSE, PATTERN, CAPITAL] * 3
    pairs = al.make_pairs(tiny, tok, examples, n_samples=3, temperature=1.0, seed=1)
    assert pairs, "an untrained model gets these wrong: every prompt gives a pair"
    for p in pairs:
        assert al.prefers(p.example, p.chosen, p.rejected)
        assert al.rule_score(p.example, p.chosen) == 2
    # the same seed gives the same pairs
    again = al.make_pairs(tiny, tok, examples, n_samples=3, temperature=1.0, seed=1)
    assert again == pairs
    rows = al.pairs_to_json(pairs)
    assert al.pairs_from_json(rows) == pairs


def test_no_pair_when_every_answer_is_right(tok, monkeypatch):
    """A prompt the model always answers right has nothing to prefer."""
    monkeypatch.setattr("llmlab.finetuning.answer", lambda m, t, ins: ["CAT" for _ in ins])
    monkeypatch.setattr(
        al, "sample_answers", lambda m, t, ins, n, temp, seed: [["CAT"] * n for _ in ins]
    )
    assert al.make_pairs(None, tok, [UPPER], n_samples=2) == []
    monkeypatch.setattr(
        al,
        "sample_answers",
        lambda m, t, ins, n, temp, seed: [["CAT", "cat", "CAR", "CAR"] for _ in ins],
    )
    (pair,) = al.make_pairs(None, tok, [UPPER], n_samples=4)
    assert (pair.chosen, pair.rejected) == ("CAT", "CAR")  # the most frequent mistake


# ---------------------------------------------------------------- masking and log-probabilities
def test_mask_covers_the_answer_and_its_end_only(tok):
    pair = al.PreferencePair(UPPER, "CAT", "CA")
    t = al.pair_tensors([pair], tok, 96)
    n_prompt = len(tok.encode(UPPER.prompt))
    counted = [tok.decode([int(t.chosen[0, i + 1])]) for i in t.chosen_mask[0].nonzero().flatten()]
    assert "".join(counted) == "CAT" + END
    assert int(t.chosen_mask[0, : n_prompt - 1].sum()) == 0
    assert (
        "".join(
            tok.decode([int(t.rejected[0, i + 1])]) for i in t.rejected_mask[0].nonzero().flatten()
        )
        == "CA" + END
    )


@torch.no_grad()
def reference_logprob(model, prompt_ids, answer_ids):
    """log p(answer | prompt) token by token: one forward pass per answer token, no masking needed."""
    total = 0.0
    ids = list(prompt_ids)
    for a in answer_ids:
        logits = model(torch.tensor([ids]))[0][0, -1]
        total += float(torch.log(torch.softmax(logits.double(), -1)[a]))
        ids.append(a)
    return total


def test_sequence_logprobs_equal_token_by_token_sums(tiny, tok):
    pairs = [al.PreferencePair(UPPER, "CAT", "CA"), al.PreferencePair(CAPITAL, "Lima", "Paris")]
    t = al.pair_tensors(pairs, tok, 96)
    with torch.no_grad():
        got_c = al.sequence_logprobs(tiny, t.chosen, t.chosen_mask)
        got_r = al.sequence_logprobs(tiny, t.rejected, t.rejected_mask)
    for i, p in enumerate(pairs):
        prompt = tok.encode(p.prompt)
        assert got_c[i].item() == pytest.approx(
            reference_logprob(tiny, prompt, tok.encode(p.chosen + END)), abs=1e-4
        )
        assert got_r[i].item() == pytest.approx(
            reference_logprob(tiny, prompt, tok.encode(p.rejected + END)), abs=1e-4
        )
    # the prompt's own tokens do not count: changing the mask to everything changes the sum
    with torch.no_grad():
        everything = al.sequence_logprobs(tiny, t.chosen, torch.ones_like(t.chosen_mask))
    assert (everything < got_c - 1).all()


def test_rows_cut_padding_without_changing_logprobs(tiny, tok):
    pairs = [
        al.PreferencePair(UPPER, "CAT", "C"),
        al.PreferencePair(PATTERN, "sky", "redredredredred"),
    ]
    t = al.pair_tensors(pairs, tok, 96)
    sub = t.rows(torch.tensor([0]))
    assert sub.chosen.size(1) < t.chosen.size(1)
    with torch.no_grad():
        full = al.sequence_logprobs(tiny, t.chosen[:1], t.chosen_mask[:1])
        cut = al.sequence_logprobs(tiny, sub.chosen, sub.chosen_mask)
    assert torch.allclose(full, cut, atol=1e-5)


# ---------------------------------------------------------------- the losses against their formulas
def test_bradley_terry_matches_its_formula():
    rc, rr = torch.tensor([1.0, -0.5, 2.0]), torch.tensor([0.0, 0.5, 2.0])
    want = (
        sum(
            -math.log(1 / (1 + math.exp(-(c - r))))
            for c, r in zip(rc.tolist(), rr.tolist(), strict=True)
        )
        / 3
    )
    assert al.bradley_terry_loss(rc, rr).item() == pytest.approx(want, rel=1e-6)
    assert al.bradley_terry_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(
        math.log(2)
    )


def test_dpo_loss_matches_the_papers_formula_from_token_logprobs(tok):
    """Rafailov et al. (2023), eq. 7, computed by hand from per-token log-probs of two separate models."""
    torch.manual_seed(1)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=96, n_layer=1, n_head=2, n_embd=16)
    policy, reference = GPT(cfg), GPT(cfg)
    pairs = [al.PreferencePair(REVERSE, "pots", "stop"), al.PreferencePair(PATTERN, "sky", "blue")]
    beta = 0.3
    want = 0.0
    for p in pairs:
        prompt = tok.encode(p.prompt)
        lw = reference_logprob(policy, prompt, tok.encode(p.chosen + END)) - reference_logprob(
            reference, prompt, tok.encode(p.chosen + END)
        )
        ll = reference_logprob(policy, prompt, tok.encode(p.rejected + END)) - reference_logprob(
            reference, prompt, tok.encode(p.rejected + END)
        )
        want += -math.log(1 / (1 + math.exp(-beta * (lw - ll))))
    want /= len(pairs)
    t = al.pair_tensors(pairs, tok, 96)
    with torch.no_grad():
        pc = al.sequence_logprobs(policy, t.chosen, t.chosen_mask)
        pr = al.sequence_logprobs(policy, t.rejected, t.rejected_mask)
        rc = al.sequence_logprobs(reference, t.chosen, t.chosen_mask)
        rr = al.sequence_logprobs(reference, t.rejected, t.rejected_mask)
    loss, stats = al.dpo_loss(pc, pr, rc, rr, beta=beta)
    assert loss.item() == pytest.approx(want, abs=1e-5)
    # the same policy as reference: every implicit reward is 0, the loss is log 2
    same, s0 = al.dpo_loss(pc, pr, pc, pr, beta=beta)
    assert same.item() == pytest.approx(math.log(2)) and s0["margin"] == 0.0
    assert stats["ranked_right"] in (0.0, 0.5, 1.0)


def test_dpo_positive_penalises_only_a_chosen_answer_that_fell():
    """DPOP (Pal et al. 2024): beta * lambda * max(0, log pi_ref(y_w) - log pi(y_w)) comes off the margin."""
    pc, pr = torch.tensor([-2.0, -1.0]), torch.tensor([-4.0, -3.0])
    rc, rr = torch.tensor([-1.5, -1.2]), torch.tensor([-3.0, -3.0])
    beta, lam = 0.5, 4.0
    want = 0.0
    for a, b, c, d in zip(pc.tolist(), pr.tolist(), rc.tolist(), rr.tolist(), strict=True):
        z = beta * ((a - c) - (b - d)) - beta * lam * max(0.0, c - a)
        want += math.log(1 + math.exp(-z))
    loss, stats = al.dpo_loss(pc, pr, rc, rr, beta=beta, positive=lam)
    assert loss.item() == pytest.approx(want / 2, rel=1e-6)
    assert stats["chosen_logp_change"] == pytest.approx(((-2.0 + 1.5) + (-1.0 + 1.2)) / 2)
    # a chosen answer at or above its reference: DPOP is plain DPO
    up = torch.tensor([-1.0, -1.0])
    assert al.dpo_loss(up, pr, rc, rr, beta, positive=lam)[0].item() == pytest.approx(
        al.dpo_loss(up, pr, rc, rr, beta)[0].item()
    )


def test_dpo_gradient_raises_chosen_over_rejected():
    pc = torch.tensor([-3.0], requires_grad=True)
    pr = torch.tensor([-2.0], requires_grad=True)
    loss, _ = al.dpo_loss(pc, pr, torch.tensor([-3.0]), torch.tensor([-2.0]), beta=0.5)
    loss.backward()
    assert (
        pc.grad.item() < 0 < pr.grad.item()
    )  # descent raises log pi(chosen), lowers log pi(rejected)
    assert pc.grad.item() == pytest.approx(-0.5 * 0.5)  # -beta * sigmoid(-0) / N


def test_kl_is_zero_for_the_same_model_and_positive_after_a_change(tiny, tok):
    import copy

    t = al.pair_tensors([al.PreferencePair(UPPER, "CAT", "CA")], tok, 96)
    assert al.response_kl(tiny, tiny, t.chosen, t.chosen_mask) == pytest.approx(0.0, abs=1e-7)
    other = copy.deepcopy(tiny)
    with torch.no_grad():
        other.lm_head.weight.add_(0.1 * torch.randn_like(other.lm_head.weight))
    kl = al.response_kl(other, tiny, t.chosen, t.chosen_mask)
    # by hand, at the first answer position
    n = len(tok.encode(UPPER.prompt))
    with torch.no_grad():
        p = F.log_softmax(other(t.chosen[:, :n])[0][0, -1], -1)
        q = F.log_softmax(tiny(t.chosen[:, :n])[0][0, -1], -1)
    first = float((p.exp() * (p - q)).sum())
    assert kl > 0 and first > 0


# ---------------------------------------------------------------- training
def test_reward_model_learns_the_rule_and_dpo_moves_the_policy(tiny, tok):
    pairs = [
        al.PreferencePair(e, e.response, wrong)
        for e, wrong in ((UPPER, "cat"), (REVERSE, "stop"), (PATTERN, "blue"), (CAPITAL, "Lime"))
    ]
    t = al.pair_tensors(pairs, tok, 96)
    rm = al.RewardModel(al.copy_model(tiny))
    assert al.reward_accuracy(rm, t) == 0.0  # zero head: every reward 0, no pair ranked right
    cfg = al.PreferenceConfig(steps=40, batch_size=4, lr=3e-3, warmup=1, eval_interval=20)
    log = al.train_reward_model(rm, t, t, cfg, show_progress=False)
    assert log.evals[-1]["held-out accuracy"] == 1.0 and log.losses[-1] < log.losses[0]
    policy = al.copy_model(tiny)
    dlog = al.train_dpo(
        policy,
        tiny,
        t,
        t,
        al.PreferenceConfig(steps=20, batch_size=4, lr=3e-3, warmup=1, eval_interval=10),
        show_progress=False,
    )
    assert dlog.evals[0]["held-out loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert dlog.evals[-1]["held-out loss"] < math.log(2) - 0.05
    assert al.response_kl(policy, tiny, t.chosen, t.chosen_mask) > 0
    assert all(not p.requires_grad for p in tiny.parameters())  # the reference stays frozen


def test_reward_model_saves_and_loads_exactly(tiny, tok, tmp_path):
    rm = al.RewardModel(al.copy_model(tiny))
    with torch.no_grad():
        rm.head.weight.normal_()
        rm.head.bias.fill_(0.123456789)
    log = al.PreferenceLog(config={}, losses=[0.5], evals=[{"step": 0, "x": 1.0}])
    al.save_run(
        tmp_path / "rm", rm, tok, {"name": "t"}, lambda m: "# card\n", log, extra={"pairs": {}}
    )
    back = al.load_reward_model(tmp_path / "rm")
    t = al.pair_tensors([al.PreferencePair(UPPER, "CAT", "CA")], tok, 96)
    with torch.no_grad():
        assert torch.equal(
            back.score(t.chosen, t.chosen_mask), rm.eval().score(t.chosen, t.chosen_mask)
        )
    with pytest.raises(UsageError, match="not a reward model"):
        from llmlab.training import save_checkpoint

        al.load_reward_model(save_checkpoint(tmp_path / "plain", tiny, tok))


# ---------------------------------------------------------------- bad input: one clear line
def test_bad_input_gets_one_clear_line(tiny, tok):
    with pytest.raises(UsageError, match="beta"):
        al.dpo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), beta=0)
    with pytest.raises(UsageError, match="one shape"):
        al.dpo_loss(torch.zeros(2), torch.zeros(3), torch.zeros(2), torch.zeros(2))
    with pytest.raises(UsageError, match="same shape"):
        al.bradley_terry_loss(torch.zeros(2), torch.zeros(3))
    with pytest.raises(UsageError, match="list of instructions"):
        al.sample_answers(tiny, tok, "Write in capitals: cat")
    with pytest.raises(UsageError, match="at least one"):
        al.make_pairs(tiny, tok, [])
    with pytest.raises(UsageError, match="at least one pair"):
        al.pair_tensors([], tok, 96)
    with pytest.raises(UsageError, match="block_size"):
        al.pair_tensors([al.PreferencePair(UPPER, "CAT", "x" * 100)], tok, 96)
    with pytest.raises(UsageError, match=r"\(B, L\)"):
        al.sequence_logprobs(
            tiny, torch.zeros(2, 5, dtype=torch.long), torch.ones(2, 5, dtype=torch.bool)
        )
    with pytest.raises(UsageError, match="steps"):
        al.PreferenceConfig(steps=0)
    with pytest.raises(UsageError, match="lr"):
        al.PreferenceConfig(lr=-1.0)
    with pytest.raises(UsageError, match="Unknown preference run"):
        al.shipped_dir("ppo")
    with pytest.raises(UsageError, match="preference pairs"):
        al.pairs_from_json([["upper", "x"]])


def test_a_nan_loss_stops_the_run_with_a_clear_line(tiny, tok):
    t = al.pair_tensors([al.PreferencePair(UPPER, "CAT", "CA")], tok, 96)
    rm = al.RewardModel(al.copy_model(tiny))
    with torch.no_grad():
        rm.head.bias.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="learning rate"):
        al.train_reward_model(
            rm, t, t, al.PreferenceConfig(steps=2, batch_size=1), show_progress=False
        )


# ---------------------------------------------------------------- the script that builds the shipped runs
def _load_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_preference_models.py"
    spec = importlib.util.spec_from_file_location("train_preference_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_base_dir(tmp_path_factory):
    """A 1-block, 16-wide GPT with the course tokenizer, saved as a checkpoint: the smallest 'SFT model'."""
    from llmlab.data import load_text
    from llmlab.training import save_checkpoint

    course_tok = CharTokenizer.from_text(load_text("wiki-news"))
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=course_tok.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16)
    )
    return save_checkpoint(
        tmp_path_factory.mktemp("sft") / "sft-full", model, course_tok, {"name": "tiny"}
    )


@pytest.mark.slow
def test_script_rebuilds_the_same_runs_with_cards(tmp_path, tiny_base_dir):
    import json

    from llmlab import model_card
    from llmlab.training import load_checkpoint

    script = _load_script()
    args = ["--base", str(tiny_base_dir), "--steps", "2", "--prompts", "3", "--threads", "1"]
    for out in ("a", "b"):
        script.main([*args, "--out-dir", str(tmp_path / out)])
    for name, folder in al.SHIPPED.items():
        first, second = tmp_path / "a" / folder, tmp_path / "b" / folder
        meta = json.loads((first / "config.json").read_text())["meta"]
        assert meta["sha256"] == model_card.tensors_sha256(first / "model.safetensors")
        assert (
            meta["sha256"] == json.loads((second / "config.json").read_text())["meta"]["sha256"]
        ), name
        assert "--out-dir" not in meta["command"] and "--steps 2" in meta["command"]
        card = (first / "MODEL_CARD.md").read_text()
        assert "Reproduce" in card and meta["sha256"][:16] in card
        log = model_card.read_train_log(first)
        assert len(log["losses"]) == 2 and log["pairs"]["held_out"]
    rm = al.load_reward_model(tmp_path / "a" / "pref-reward")
    assert rm.head.weight.abs().sum() > 0  # trained away from its zero start
    dpo = load_checkpoint(tmp_path / "a" / "pref-dpo").model
    base = load_checkpoint(tiny_base_dir).model
    assert any(
        not torch.equal(p, q) for p, q in zip(dpo.parameters(), base.parameters(), strict=True)
    )


def test_script_never_replaces_a_run_unless_told(tmp_path, tiny_base_dir):
    (tmp_path / "pref-dpo").mkdir()
    (tmp_path / "pref-dpo" / "mine.txt").write_text("keep me")
    script = _load_script()
    with pytest.raises(SystemExit, match="--overwrite"):
        script.main(["--base", str(tiny_base_dir), "--out-dir", str(tmp_path), "--steps", "1"])
    assert (tmp_path / "pref-dpo" / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "pref-reward").exists()  # checked before anything was trained
    with pytest.raises(SystemExit):
        script.main(["--base", str(tmp_path / "nothing"), "--out-dir", str(tmp_path / "new")])


# ---------------------------------------------------------------- what is shipped
@pytest.mark.parametrize("name", list(al.SHIPPED))
def test_shipped_runs_are_what_their_cards_say(name):
    import json

    from llmlab import model_card
    from llmlab.paths import data_dir
    from llmlab.training import WEIGHTS_FILE

    folder = al.shipped_dir(name)
    meta = json.loads((folder / "config.json").read_text())["meta"]
    assert model_card.tensors_sha256(folder / WEIGHTS_FILE) == meta["sha256"]
    assert meta["sha256"][:16] in (folder / "MODEL_CARD.md").read_text()
    base = model_card.file_facts(data_dir() / al.BASE / WEIGHTS_FILE)["sha256"]
    assert meta["base_sha256"] == base, f"{folder.name} was not trained from the shipped {al.BASE}"
    log = al.read_log(name)
    assert len(log["losses"]) == al.RECIPES[name].steps
    assert all(
        al.prefers(p.example, p.chosen, p.rejected)
        for p in al.pairs_from_json(log["pairs"]["train"])
    )


def test_figures_draw_with_labelled_axes():
    from llmlab.plots import alignment as plots

    log = {"losses": [0.7, 0.6, 0.5], "evals": [{"step": 0, "x": 0.0}, {"step": 3, "x": 0.2}]}
    fig = plots.run_curves({"SFT + DPOP": log, "DPOP (live)": log}, "loss", "x", "chosen change")
    assert (
        fig.layout.xaxis.title.text == "optimizer step"
        and fig.layout.yaxis2.title.text == "chosen change"
    )
