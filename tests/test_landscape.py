"""Tests of llmlab.landscape: the shipped model table is complete, sourced and right where it matters."""

import csv
from dataclasses import fields

import pytest

from llmlab import landscape as ls


@pytest.fixture(scope="module")
def models():
    return ls.load_models()


def test_columns_match_the_dataclass():
    assert [f.name for f in fields(ls.ModelInfo)] == list(ls.COLUMNS)


def test_every_row_is_sourced_and_in_units(models):
    assert len(models) >= 30
    for m in models:
        assert m.source.startswith("https://"), m.name
        for figure in ("parameters", "layers", "context"):
            assert m.source_of(figure).startswith("https://")
        assert m.family in ls.FAMILIES
        assert 2017 <= m.year <= 2030 and m.released.startswith(str(m.year))
        if m.parameters_millions is not None:
            # millions: between 10M and 10 trillion
            assert 10 <= m.parameters_millions <= 1e7, m.name
        else:
            assert "undisclosed" in m.notes.lower() or "never published" in m.notes.lower(), m.name
        if m.context_tokens is not None:
            assert 128 <= m.context_tokens <= 10_000_000


def test_required_models_present(models):
    names = {m.name for m in models}
    for required in [
        "GPT-1",
        "BERT-Base",
        "BERT-Large",
        "GPT-2 XL",
        "GPT-3",
        "BART-Large",
        "T5-11B",
        "Flan-T5-Small",
        "Flan-T5-XXL",
        "CodeT5+ 16B",
        "LLaMA-7B",
        "LLaMA-65B",
        "Llama-2-7B",
        "Llama-2-70B",
        "Falcon-7B",
        "Falcon-40B",
        "Falcon-180B",
        "Claude 2",
        "GPT-4",
        "GPT-4-32k",
    ]:
        assert required in names


@pytest.mark.parametrize(
    "name, context",
    [
        ("GPT-1", 512),
        ("GPT-2 XL", 1024),
        ("GPT-3", 2048),
        ("BERT-Base", 512),
        ("BERT-Large", 512),
        ("LLaMA-7B", 2048),
        ("LLaMA-65B", 2048),
        ("Llama-2-7B", 4096),
        ("Llama-2-70B", 4096),
        ("GPT-4", 8192),
        ("GPT-4-32k", 32768),
        ("Claude 2", 100_000),
        ("Claude 2.1", 200_000),
    ],
)
def test_context_lengths_that_popular_summaries_get_wrong(models, name, context):
    assert ls.find(models, name).context_tokens == context


def test_undisclosed_stays_undisclosed(models):
    gpt4 = ls.find(models, "GPT-4")
    assert gpt4.parameters_millions is None and gpt4.layers is None
    assert "rumour" in gpt4.notes
    for m in models:
        if m.organisation == "Anthropic":
            assert m.parameters_millions is None


def test_known_sizes(models):
    assert ls.find(models, "GPT-3").parameters == 175e9
    assert ls.find(models, "BERT-Base").parameters_millions == 110
    assert ls.find(models, "BERT-Large").layers == 24
    assert ls.find(models, "Falcon-180B").parameters_millions == 180_000
    assert [m.family for m in models if m.series == "T5"] == ["encoder-decoder"] * 5


def test_sorted_by_release(models):
    assert [m.released for m in models] == sorted(m.released for m in models)


def test_format_and_find():
    assert ls.format_parameters(117) == "117M"
    assert ls.format_parameters(1542) == "1.54B"
    assert ls.format_parameters(175000) == "175B"
    assert ls.format_parameters(None) == "undisclosed"
    with pytest.raises(KeyError, match="did you mean"):
        ls.find(ls.load_models(), "GPT-5o")


def test_markdown_table(models):
    md = ls.markdown_table(models, with_sources=False)
    assert md.count("\n") == len(models) + 1
    assert "| GPT-4 |" in md and "undisclosed" in md


def test_every_figure_column_has_a_source_column():
    numeric = [f.name for f in fields(ls.ModelInfo) if f.type in ("float | None", "int | None")]
    assert set(numeric) <= {column for column, _ in ls.FIGURES.values()}
    assert len(numeric) == 4  # parameters, layers, context, training tokens
    for column, source in ls.FIGURES.values():
        assert column in ls.COLUMNS and source in ls.COLUMNS and source.endswith("_source")


def test_markdown_table_links_each_figure_to_its_own_source(models):
    md = ls.markdown_table(models)
    gpt1 = next(line for line in md.splitlines() if line.startswith("| GPT-1 "))
    gpt2_paper = ls.find(models, "GPT-2 Small").source
    gpt_paper = ls.find(models, "GPT-1").source
    # 117M is stated in the GPT-2 paper (Table 2), not in the GPT paper; the layers are in the GPT paper
    assert f"[117M]({gpt2_paper})" in gpt1 and f"[12]({gpt_paper})" in gpt1
    # every figure of every row is a link to the source_of that figure
    for m in models:
        line = next(row for row in md.splitlines() if row.startswith(f"| {m.name} "))
        for figure, url in m.figure_sources().items():
            assert f"]({url})" in line, (m.name, figure)
    # notes become numbered footnotes under the table
    assert "**Notes**" in md and "delaying the release of the 34B model" in md


def test_llama2_facts_are_figures_not_only_notes(models):
    llama2 = [m for m in models if m.series == "Llama 2"]
    assert [m.name for m in llama2] == ["Llama-2-7B", "Llama-2-13B", "Llama-2-34B", "Llama-2-70B"]
    assert {m.training_tokens_billions for m in llama2} == {2000}
    # grouped-query attention only in the two bigger models (Llama 2 paper, Table 1)
    assert {m.name: m.attention for m in llama2} == {
        "Llama-2-7B": "multi-head",
        "Llama-2-13B": "multi-head",
        "Llama-2-34B": "grouped-query",
        "Llama-2-70B": "grouped-query",
    }
    assert "not released" in ls.find(models, "Llama-2-34B").notes
    # "40% more total tokens" than Llama 1's largest models (1.4T)
    assert ls.find(models, "Llama-2-7B").training_tokens_billions / ls.find(
        models, "LLaMA-65B"
    ).training_tokens_billions == pytest.approx(1.4, abs=0.03)
    assert (
        ls.format_tokens(1400) == "1.4T"
        and ls.format_tokens(300) == "300B"
        and ls.format_tokens(None) == "-"
    )


def test_source_labels():
    assert ls.source_label("https://arxiv.org/abs/2307.09288") == "arXiv 2307.09288"
    assert (
        ls.source_label("https://huggingface.co/meta-llama/Llama-2-7b-hf/blob/main/config.json")
        == "HF meta-llama/Llama-2-7b-hf"
    )


def _write(tmp_path, rows):
    path = tmp_path / "m.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ls.COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


GOOD = dict(
    name="X",
    series="X",
    organisation="Org",
    year="2020",
    released="2020-05",
    family="decoder",
    objective="causal LM",
    parameters_millions="100",
    layers="12",
    context_tokens="1024",
    source="https://example.org/paper",
    parameters_source="",
    layers_source="",
    context_source="",
    notes="",
)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"source": ""}, "no source"),
        ({"source": "arxiv 1234"}, "https"),
        ({"family": "encoder-only"}, "family"),
        ({"year": "1999", "released": "1999-01"}, "implausible"),
        ({"released": "2021-05"}, "YYYY-MM"),
        ({"parameters_millions": "-5"}, "positive"),
        ({"parameters_millions": "175e9"}, "millions"),
        ({"parameters_millions": "lots"}, "not a number"),
        ({"parameters_millions": ""}, "notes"),
        ({"layers": "", "layers_source": "https://example.org/card"}, "a source needs a figure"),
        ({"attention": "sparse-ish"}, "attention"),
        ({"training_tokens_billions": "2e12"}, "billions"),
    ],
)
def test_validation_rejects_bad_rows(tmp_path, change, message):
    with pytest.raises(ls.ModelTableError, match=message):
        ls.load_models(_write(tmp_path, [{**GOOD, **change}]))


def test_validation_accepts_a_good_row_and_rejects_duplicates(tmp_path):
    assert ls.load_models(_write(tmp_path, [GOOD]))[0].parameters == 1e8
    with pytest.raises(ls.ModelTableError, match="duplicate"):
        ls.load_models(_write(tmp_path, [GOOD, GOOD]))


def test_landscape_figures(models):
    from llmlab.plots import landscape as pl

    fig = pl.landscape_figure(models, "parameters")
    plotted = sum(len(t.x) for t in fig.data)
    assert plotted == sum(m.parameters is not None for m in models)
    assert fig.layout.yaxis.type == "log"
    assert "GPT-4" in " ".join(
        a.text for a in fig.layout.annotations if a.text.startswith("Not plotted")
    )
    ctx = pl.landscape_figure(models, "context")
    assert {t.name for t in ctx.data} == {"encoder", "encoder-decoder", "decoder", "undisclosed"}
    with pytest.raises(ValueError, match="parameters"):
        pl.landscape_figure(models, "flops")


def test_family_masks_figure():
    from llmlab import objectives as obj
    from llmlab.plots import landscape as pl

    src, tgt = list("abcde"), list("xyz")
    fig = pl.family_masks_figure(obj.family_masks(5, 3), src, tgt)
    assert len(fig.data) == 4 and all(t.zmin == 0 and t.zmax == 1 for t in fig.data)
    assert fig.data[3].z == ((1,) * 5,) * 3 or list(map(list, fig.data[3].z)) == [[1] * 5] * 3
    with pytest.raises(ValueError, match="family_masks"):
        pl.family_masks_figure(obj.family_masks(4, 3), src, tgt)
