"""Tiny random-weight models with the catalog's real architectures, for tests and the local demo.

Each model is a genuine transformers checkpoint (config + safetensors + tokenizer) of the catalog entry's
architecture at a tiny size, so the server loads it with exactly the code that loads the real weights.
The tokenizer is a byte-level BPE trained here on a small corpus, with a ChatML chat template that
supports tools the way Qwen2.5's does (<tool_call> JSON).
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    Gemma2Config,
    GenerationConfig,
    LlamaConfig,
    MistralConfig,
    Phi3Config,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

from ..core.catalog import Catalog, CatalogModel
from ..store import ModelStore

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]
VOCAB_SIZE = 512
BUILD_MARKER = "zerollama-tiny.json"
BUILD_VERSION = 1
NOTE = (
    "**Demo mode:** tiny random-weight models answer under the catalog names below, so replies are noise. "
    "Sizes are the catalog models'; tokens/s is the tiny models'."
)
log = logging.getLogger("zerollama.demo")

CHAT_TEMPLATE = """\
{%- if tools %}<|im_start|>system
{% if messages and messages[0].role == 'system' %}{{ messages[0].content }}
{%- else %}You are a helpful assistant.{% endif %}

# Tools

You may call one or more functions to assist with the user query.
You are provided with function signatures within <tools></tools> XML tags:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
{% elif messages and messages[0].role == 'system' %}<|im_start|>system
{{ messages[0].content }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'assistant' and message.tool_calls %}<|im_start|>assistant
{{ message.content or '' }}
{%- for call in message.tool_calls %}<tool_call>
{"name": {{ call.function.name | tojson }}, "arguments": {{ call.function.arguments | tojson }}}
</tool_call>
{%- endfor %}<|im_end|>
{% elif message.role == 'tool' %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""

CORPUS = [
    "Hello! How can I help you today? Hola, ¿en qué puedo ayudarte hoy?",
    "The weather in Tokyo is sunny. El clima en Bogotá es templado y lluvioso.",
    'def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n{"name": "get_weather", "arguments": {"city": "Tokyo"}}',
    '{"ok": true, "count": 3, "items": ["a", "b"], "value": null, "ratio": 0.5}',
    "Cognitia answers questions about science, history, code and language, step by step.",
    "0123456789 +-*/=<>()[]{}:;,.!?'\"` the of and to in is that for it as was with be by on not",
]

# Tiny shapes per architecture; real configs differ only in size.
ARCHITECTURE_CONFIGS: dict[str, type[PretrainedConfig]] = {
    "Qwen2ForCausalLM": Qwen2Config,
    "Phi3ForCausalLM": Phi3Config,
    "LlamaForCausalLM": LlamaConfig,
    "Gemma2ForCausalLM": Gemma2Config,
    "MistralForCausalLM": MistralConfig,
}


def build_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=1 << 20,
    )


def tiny_config(entry: CatalogModel, tokenizer: PreTrainedTokenizerFast) -> PretrainedConfig:
    config_class = ARCHITECTURE_CONFIGS[entry.architecture]
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    shape = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": entry.context_length,
        "eos_token_id": eos,
        "bos_token_id": pad,
        "pad_token_id": pad,
        "tie_word_embeddings": False,
        "architectures": [entry.architecture],
    }
    if config_class is Gemma2Config:
        shape.update(head_dim=16, sliding_window=min(4096, entry.context_length), query_pre_attn_scalar=16)
    if config_class is Phi3Config:
        shape.update(original_max_position_embeddings=entry.context_length)
    return config_class(**shape)


def build_tiny_model(entry: CatalogModel, target: Path, seed: int = 0) -> Path:
    """Writes a tiny checkpoint of `entry`'s architecture to `target` (idempotent)."""
    if is_built(target):
        return target
    # Built aside and renamed into place: several servers (tests, rehearsal) may build at once.
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    tokenizer = build_tokenizer()
    config = tiny_config(entry, tokenizer)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id, do_sample=True
    )
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / BUILD_MARKER).write_text(json.dumps({"version": BUILD_VERSION, "catalog_name": entry.name}))
    if target.exists() and not is_built(target):
        shutil.rmtree(target, ignore_errors=True)  # an older or broken build
    try:
        staging.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def is_built(folder: Path) -> bool:
    marker = folder / BUILD_MARKER
    return marker.exists() and json.loads(marker.read_text()).get("version") == BUILD_VERSION


def build_all(catalog: Catalog, root: Path, names: list[str] | None = None) -> Path:
    """Builds one folder per catalog model (named CatalogModel.folder_name) under `root`."""
    for entry in catalog.models:
        if names is None or entry.name in names:
            build_tiny_model(entry, root / entry.folder_name, seed=entry.display_order)
    return root


def tiny_store(catalog: Catalog, model_dir: Path | None, build_dir: Path) -> ModelStore:
    """The tiny models built into `model_dir` when one is set; else built once into `build_dir` and copied
    for this server alone, so one server's /api/delete does not affect another's."""
    if model_dir is None:
        build_all(catalog, build_dir)
        model_dir = Path(tempfile.mkdtemp(prefix="zerollama-demo-"))
        atexit.register(shutil.rmtree, model_dir, ignore_errors=True)
        for entry in catalog.models:
            shutil.copytree(build_dir / entry.folder_name, model_dir / entry.folder_name)
    else:
        build_all(catalog, model_dir)
    log.info("demo mode: tiny random-weight models in %s", model_dir)
    return ModelStore(model_dir)
