"""The course map: its lessons, in order, and where the repository lives (every lesson's badges).

The repository URL is kept here and nowhere else: the Colab and Binder badges
and the Colab setup cell of every notebook are written from it by
``tools/sync_notebooks.py`` (run by ``make notebooks``).
"""

from __future__ import annotations

from dataclasses import dataclass

REPO = "llm-lab-course/llm-lab"  # GitHub owner/name
BRANCH = "main"
REPO_URL = f"https://github.com/{REPO}"


@dataclass(frozen=True)
class Lesson:
    """One notebook of the course."""

    stem: str  # file name without .ipynb
    title: str
    step: str  # the step of the transformer pipeline it covers
    summary: str

    @property
    def path(self) -> str:
        return f"notebooks/{self.stem}.ipynb"

    @property
    def colab_url(self) -> str:
        return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{self.path}"

    @property
    def binder_url(self) -> str:
        return f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=lab/tree/{self.path}"


LESSONS: list[Lesson] = [
    Lesson(
        "00_start_here",
        "Start here: the course map",
        "all",
        "The four steps of a transformer, and how to run the course.",
    ),
    Lesson(
        "01_word_embeddings",
        "Word embeddings",
        "1. word embedding",
        "word2vec with gensim and from scratch; similarity, analogies, maps.",
    ),
    Lesson(
        "02_positional_encoding",
        "Positional encoding",
        "2. positional encoding",
        "Sinusoidal, learned and rotary position encodings, seen in plots.",
    ),
    Lesson(
        "03_attention",
        "Self-attention and the transformer block",
        "3. transformer blocks",
        "Attention from scratch, masks, multi-head and grouped-query attention, heatmaps.",
    ),
    Lesson(
        "04_mini_gpt",
        "A mini GPT, trained from scratch",
        "4. text generation",
        "Tokenizers, the GPT model, training on a CPU, sampling and the KV cache.",
    ),
    Lesson(
        "05_fine_tuning",
        "Fine-tuning: instructions, full vs LoRA",
        "beyond: adapting",
        "Instruction tuning, full fine-tuning vs LoRA, and the memory each costs.",
    ),
    Lesson(
        "06_model_families",
        "Model families and the LLM landscape",
        "beyond: families",
        "BERT, T5 and GPT objectives side by side; a sourced map of well-known models.",
    ),
    Lesson(
        "07_local_llm",
        "Running an LLM on your own machine",
        "beyond: running locally",
        "From GPT-2 to LLaMA; quantization, GGUF and llama.cpp; what fits on a laptop.",
    ),
    Lesson(
        "08_scaling_out",
        "Scaling out: data-parallel training",
        "beyond: several processes",
        "DDP under torchrun on 2 CPU processes, equal to one process with the double batch; ZeRO and FSDP memory.",
    ),
    Lesson(
        "09_from_gpt_to_chatgpt",
        "From GPT to ChatGPT: reward model and DPO",
        "beyond: preference tuning",
        "InstructGPT's recipe and ChatGPT's lineage; preference pairs, a reward model and DPO on the course model, measured.",
    ),
]


def lesson(stem: str) -> Lesson:
    """The lesson whose notebook is ``stem`` (e.g. "04_mini_gpt")."""
    for item in LESSONS:
        if item.stem == stem:
            return item
    raise KeyError(f"No lesson {stem!r}; lessons: {', '.join(x.stem for x in LESSONS)}")


def badges_markdown(stem: str) -> str:
    """The Open-in-Colab and Binder badges of one lesson, as markdown."""
    item = lesson(stem)
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({item.colab_url}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({item.binder_url})"
    )


def setup_cell_source() -> str:
    """The first code cell of every lesson: installs llmlab (and gensim) on Colab, nothing elsewhere."""
    return (
        "# On Colab (or anywhere llmlab is missing) install the course library and gensim;\n"
        "# in the course's own environment this cell does nothing.\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("llmlab") is None or importlib.util.find_spec("gensim") is None:\n'
        f'    package = "llmlab @ git+{REPO_URL}"  # gensim comes with it\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package], check=True)'
    )
