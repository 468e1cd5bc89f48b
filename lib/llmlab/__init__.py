"""LLM Lab: the helper library behind the course notebooks.

Each module matches one concept of the course, so a learner finds
"where is attention" without knowing which lesson it came from:

=========================  ==============================================
``llmlab.runtime``        ``setup_notebook()``: seeds, threads, device, plot defaults
``llmlab.course``         the lesson list and the repository URL (badges, Colab setup cell)
``llmlab.environment``    the environment check and lesson run times of lesson 00
``llmlab.measure``        time and peak memory of a call, bytes and tables as text (lessons 00, 03, 05)
``llmlab.data``           named corpora and test sets (embedded, or downloaded and verified)
``llmlab.corpus``         how the embedded corpus is built from gensim's own test data
``llmlab.progress``       the progress bar and live loss plot used everywhere
``llmlab.errors``         ``UsageError``: one clear line for bad input (the command line prints it)
``llmlab.model_card``     model cards and recorded runs of the shipped checkpoints
``llmlab.widgets``        live explorers (ipywidgets): the whole model for a typed prompt, and more
``llmlab.web_export``     the course model for the site's in-browser playground (``export-web``)
``llmlab.embeddings``     word2vec with gensim, and queries on word vectors (lesson 01)
``llmlab.skipgram``       skip-gram with negative sampling, written out in PyTorch (lesson 01)
``llmlab.embedding_eval`` WordSim-353, SimLex-999 and analogy scores of word vectors (lesson 01)
``llmlab.projection``     PCA and t-SNE maps of vectors (lessons 01, 02)
``llmlab.positional``     sinusoidal, learned and rotary position encodings (lesson 02)
``llmlab.attention``      scaled dot-product and multi-head attention, GQA, KV cache (lesson 03)
``llmlab.attention_cost`` attention's measured cost against the sequence length (lesson 03)
``llmlab.heads``          what each attention head does: pattern scores and ablation (lesson 03)
``llmlab.tokenizers``     character and byte-level BPE tokenizers (lesson 04)
``llmlab.gpt``            the GPT-2 style model (lesson 04)
``llmlab.loss``           the language-modelling loss and its gradient, written out (lesson 04)
``llmlab.training``       the training loop and safetensors checkpoints (lesson 04)
``llmlab.configs``        the course's model shapes and training recipes (lessons 02-07)
``llmlab.generation``     sampling and the KV cache (lesson 04)
``llmlab.finetuning``     instruction data and supervised fine-tuning (lesson 05)
``llmlab.lora``           LoRA adapters written out (lesson 05)
``llmlab.memory``         LLaMA 2 shapes; parameters, LoRA, training states, KV cache (lessons 03, 05, 07, 08)
``llmlab.objectives``     MLM, span corruption and causal LM (lesson 06)
``llmlab.landscape``      the sourced table of well-known models, data/models.csv (lesson 06)
``llmlab.llama``          the LLaMA architecture: RMSNorm, SwiGLU, RoPE, GQA (lesson 07)
``llmlab.quantization``   int8 per row, llama.cpp's Q8_0 and Q4_0 blocks (lesson 07)
``llmlab.gguf_export``    writing and reading llama.cpp's GGUF files (lesson 07)
``llmlab.inference``      memory and speed of running a real LLM on a laptop (lesson 07)
``llmlab.distributed``    data-parallel training under torchrun: DDP, gloo or NCCL (lesson 08)
``llmlab.alignment``      preference pairs, a reward model and DPO (lesson 09)
``llmlab.plots``          the course's figures
``llmlab.exercises``      checkers for the exercises at the end of each lesson
=========================  ==============================================
"""

__version__ = "0.1.0"

__all__ = ["__version__", "pick_device", "seed_everything", "setup_notebook"]


def __getattr__(name: str):
    # llmlab.setup_notebook etc. come from llmlab.runtime, which imports torch: loaded on first
    # use, so that `python -m llmlab --help` answers without importing torch (PEP 562).
    if name in ("pick_device", "seed_everything", "setup_notebook"):
        from llmlab import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'llmlab' has no attribute {name!r}")
