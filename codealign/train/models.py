"""Loading causal language models, and the built-in tiny model that runs anywhere offline.

``load_model`` takes a hub name, a local directory, or :data:`TINY_MODEL`. The tiny model is built here from
scratch: a byte-level BPE tokenizer trained on the fixed corpus of its recipe version (:data:`TINY_CORPUS`) and a
small Llama config with random weights. It needs no
network, builds in seconds and is deterministic for a seed. Its prompts end with a separator token
(``<|sep|>``), so a prompt is always a token prefix of prompt + completion, which TRL's SFT and DPO rely on.

Torch, transformers and tokenizers are imported only inside functions.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from codealign.errors import UserError
from codealign.jsonl import atomic_dir, read_jsonl

TINY_MODEL = "codealign-tiny"
"""The name :func:`load_model` resolves to the offline tiny model (built into the cache on first use)."""

TINY_VERSION = "1"
"""Bump when the tiny model's recipe changes: it is part of the cache directory name."""

BOS, EOS, PAD, SEP = "<|bos|>", "<|endoftext|>", "<|pad|>", "<|sep|>"
FIM_TOKENS = ("<fim_prefix>", "<fim_middle>", "<fim_suffix>")
"""StarCoder-style FIM sentinels, so the FIM path (``codealign.prompts``) also runs on the tiny model."""

TINY_DEFAULTS: dict[str, int] = {
    "vocab_size": 4096,
    "hidden_size": 256,
    "layers": 4,
    "heads": 4,
    "kv_heads": 2,
    "intermediate_size": 512,
    "max_positions": 1024,
}


TINY_CORPUS = Path(__file__).resolve().parent / "resources" / f"{TINY_MODEL}-v{TINY_VERSION}-corpus.jsonl"
"""The tiny tokenizer's training texts for this recipe version, one ``{"text": ...}`` row each, in training order.
Fixed with the recipe: registering, changing or adding a domain changes no tokenizer (the shipped warm-ups
under each domain's ``resources/warmup`` were trained with the tokenizer this corpus builds); a new corpus is a
new :data:`TINY_VERSION` with its own file."""


def corpus_texts() -> list[str]:
    """The texts of :data:`TINY_CORPUS`, in its order."""
    if not TINY_CORPUS.is_file():
        raise UserError(f"the tiny model's tokenizer corpus is missing ({TINY_CORPUS}): reinstall codealign")
    return [row["text"] for row in read_jsonl(TINY_CORPUS)]


def _corpus_digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:12]


def build_tiny_tokenizer(texts: list[str], vocab_size: int = TINY_DEFAULTS["vocab_size"]):
    """A ``PreTrainedTokenizerFast`` with a byte-level BPE trained on ``texts``; special tokens bos, eos, pad,
    sep and the StarCoder FIM sentinels; no chat template. Deterministic for the same texts."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [PAD, BOS, EOS, SEP, *FIM_TOKENS]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        sep_token=SEP,
        extra_special_tokens=list(FIM_TOKENS),
        model_max_length=TINY_DEFAULTS["max_positions"],
        padding_side="right",
    )


def build_tiny_model(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    replace: bool = True,
    hidden_size: int = TINY_DEFAULTS["hidden_size"],
    layers: int = TINY_DEFAULTS["layers"],
    heads: int = TINY_DEFAULTS["heads"],
    kv_heads: int = TINY_DEFAULTS["kv_heads"],
    intermediate_size: int = TINY_DEFAULTS["intermediate_size"],
    vocab_size: int = TINY_DEFAULTS["vocab_size"],
    max_positions: int = TINY_DEFAULTS["max_positions"],
) -> Path:
    """Build the tiny model (random weights, locally trained tokenizer) into ``out_dir`` and return it.

    Guaranteed: no network access; the same arguments and corpus give byte-identical weights and tokenizer;
    the folder reloads with ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``; ``out_dir`` is
    written atomically (built in a sibling temp folder, then renamed), so a killed build leaves nothing
    half-written. An existing ``out_dir`` is replaced (kept, with ``replace=False``, and the new build discarded).
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    if hidden_size % heads or heads % kv_heads:
        raise UserError(
            f"tiny model: hidden_size ({hidden_size}) must divide by heads ({heads}) and heads by kv_heads ({kv_heads})"
        )
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    texts = corpus_texts()
    tokenizer = build_tiny_tokenizer(texts, vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with atomic_dir(out, replace=replace) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "codealign_tiny.json").write_text(
            json.dumps(
                {
                    "version": TINY_VERSION,
                    "seed": seed,
                    "corpus_sha256": _corpus_digest(texts),
                    "parameters": sum(p.numel() for p in model.parameters()),
                },
                indent=2,
            )
        )
    return out


def cache_dir() -> Path:
    """Where models built on demand live: ``$CODEALIGN_CACHE/models`` or ``~/.cache/codealign/models``."""
    base = os.environ.get("CODEALIGN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "codealign")
    return Path(base) / "models"


def tiny_model_path(seed: int = 0) -> Path:
    """The cached tiny model for ``seed``, built on first use. The folder name includes the recipe version
    and a digest of the corpus, so a changed corpus gets a fresh build instead of a stale one."""
    digest = _corpus_digest(corpus_texts())
    path = cache_dir() / f"{TINY_MODEL}-v{TINY_VERSION}-s{seed}-{digest}"
    if not (path / "config.json").is_file():
        build_tiny_model(path, seed=seed, replace=False)  # a concurrent builder may have finished first
    return path


def resolve_model_path(name_or_path: str) -> str:
    """A loadable location for ``name_or_path``: the tiny model's cache folder for :data:`TINY_MODEL`, an
    existing local folder as is, a hub id (``org/name``) as is. A path that looks local but does not exist
    raises :class:`UserError`."""
    if name_or_path == TINY_MODEL:
        return str(tiny_model_path())
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"{name_or_path}: not a model folder (no config.json)")
        return str(path)
    if path.exists():
        raise UserError(f"{name_or_path}: expected a model folder, found a file")
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise UserError(f"{name_or_path}: no such model folder")
    return name_or_path


def load_tokenizer(name_or_path: str):
    """The tokenizer of a model (hub id, local folder or :data:`TINY_MODEL`), with a pad token (eos when the
    model has none)."""
    from transformers import AutoTokenizer

    location = resolve_model_path(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
    except OSError as exc:
        raise UserError(f"cannot load tokenizer {name_or_path!r}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name_or_path: str, *, device: str = "auto", dtype: Any = None):
    """``(model, tokenizer)`` for any causal LM: a hub id (read from the local HF cache; nothing is
    downloaded when ``HF_HUB_OFFLINE=1``), a local folder, or :data:`TINY_MODEL`.

    The model is on ``device`` (``auto``: CUDA, then MPS, then CPU) in ``dtype`` (default: fp32 on CPU, bf16 on
    GPUs that support it) and in eval mode; the tokenizer keeps the model's chat template and has a pad token.
    A missing local path or an unloadable model raises :class:`UserError`.
    """
    from transformers import AutoModelForCausalLM

    from codealign.train.device import configure_threads, default_dtype, resolve_device

    device = resolve_device(device)
    configure_threads(device)
    location = resolve_model_path(name_or_path)
    tokenizer = load_tokenizer(name_or_path)
    try:
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype or default_dtype(device))
    except OSError as exc:
        raise UserError(f"cannot load model {name_or_path!r}: {str(exc).splitlines()[0]}") from None
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    model.eval()
    return model, tokenizer
