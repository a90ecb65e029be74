"""The tiny from-scratch model: a byte-level BPE tokenizer trained on the shop's own text and a random GPT-2.

Used by the `tiny` training preset so the whole pipeline (prepare, train, evaluate, generate) runs in seconds
inside the test suite without the real model. The tokenizer speaks the same chat template as SmolLM2, so the
training and inference code paths are the ones the real model uses. Not a useful shop assistant.
"""
from __future__ import annotations

import json
from pathlib import Path

from .dataset import read_jsonl

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2, as in SmolLM2
# The SmolLM2 chat template without its default system line: ChatML turns and a generation prompt.
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
                 "+ '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
                 "{% endif %}")
VOCAB_SIZE = 1024
TOKENIZER_RECORDS = 600  # training records the tokenizer learns from: plenty for 1024 merges, and quick
N_LAYER, N_EMBD, N_HEAD, N_POSITIONS = 2, 64, 2, 1024


def shop_texts(train_path: str | Path | None = None):
    """The text the tokenizer learns from: the training set's messages, else the packaged FAQ and policy."""
    if train_path and Path(train_path).is_file():
        seen = set()
        for record in read_jsonl(train_path)[:TOKENIZER_RECORDS]:
            for message in record["messages"]:
                if message["content"] not in seen:  # the system prompt once, not once per record
                    seen.add(message["content"])
                    yield message["content"]
        return
    from knowledge.faq import load_faq, load_policy
    from knowledge.paths import demo_shop_source
    yield load_policy()
    for entry in load_faq():
        yield f"{entry.question} {entry.answer}"
    products = json.loads((demo_shop_source() / "products.json").read_text(encoding="utf-8"))
    for product in products.values():
        for v in product["variants"].values():
            yield f"{product['name']} item {v['item_id']} " + " ".join(f"{k} {x}" for k, x in v["options"].items())


def train_tokenizer(texts, vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE tokenizer (any text encodes) wrapped for transformers, with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", unk_token="<|endoftext|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny(train_path: str | Path | None = None, seed: int = 0):
    """(model, tokenizer): a randomly initialised 2-layer, 64-wide GPT-2 and a tokenizer of the shop's text."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    tokenizer = train_tokenizer(shop_texts(train_path))
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=N_POSITIONS, n_embd=N_EMBD, n_layer=N_LAYER,
                        n_head=N_HEAD, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    return GPT2LMHeadModel(config), tokenizer


def load_tiny(folder: str | Path):
    """A trained tiny model folder (written by `shopbot train --preset tiny`) as (model, tokenizer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from .convert import is_model_folder
    from .errors import ModelFilesError
    folder = Path(folder)
    if not is_model_folder(folder):
        raise ModelFilesError(folder, "not a trained tiny model folder", "run `shopbot train --preset tiny`")
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
