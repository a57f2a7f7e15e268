"""The benchmarks' model: a Qwen2-architecture checkpoint with random weights and the test tokenizer.

Two sizes: ~75M parameters, per-token work that means something on a CPU; and the published
Qwen2.5-7B-Instruct shape in bf16, for the GPU benchmark (bench/gpu.py), compared with the memory-bandwidth
limit (each decoded token reads every weight once).

The random model's output head is trimmed so that greedy decoding never ends early nor emits partial
UTF-8: the rows of the end-of-sequence tokens, of non-ASCII tokens and (at full size) of ids the small
test tokenizer lacks are zeroed. Zeroed rows are still read each step, so the work per token is unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "space"))

import torch  # noqa: E402 (after the sys.path line)
from transformers import AutoModelForCausalLM, GenerationConfig, Qwen2Config  # noqa: E402 (after the sys.path line)

from zerollama.core.catalog import load_catalog  # noqa: E402 (after the sys.path line)
from zerollama.demo.tiny import build_tokenizer  # noqa: E402 (after the sys.path line)
from zerollama.gpu.graphs import static_cache_bytes  # noqa: E402 (after the sys.path line)

SERVED_AS = "qwen2.5:7b"  # the catalog name the bench model stands in for (a Qwen2 architecture)

SMALL_SHAPE = {
    "hidden_size": 768,
    "intermediate_size": 2048,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
}
SMALL_SHAPE |= {"num_key_value_heads": 2, "max_position_embeddings": 4096}
FULL_SHAPE = {
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
}
FULL_SHAPE |= {
    "num_key_value_heads": 4,
    "max_position_embeddings": 32768,
    "vocab_size": 152064,
    "rope_theta": 1e6,
}

# Memory bandwidth (GB/s) by device name, from vendor data sheets; --bandwidth-gbs overrides.
GPU_BANDWIDTH_GB_S = {
    "H200": 4800,
    "H100 PCIe": 2000,
    "H100": 3350,
    "A100-SXM4-80GB": 2039,
    "A100 80GB PCIe": 1935,
    "A100": 1555,
    "RTX PRO 6000": 1792,
    "L40S": 864,
    "A10G": 600,
    "L4": 300,
    "T4": 320,
}


def device_and_dtype() -> tuple[str, torch.dtype]:
    """The same choice the server makes (zerollama.server.runtime_for)."""
    return ("cuda", torch.bfloat16) if torch.cuda.is_available() else ("cpu", torch.float32)


def build_model(full_size: bool) -> tuple[Any, Any]:
    """The random model on this machine's device, and its tokenizer."""
    tokenizer = build_tokenizer()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    shape = {"vocab_size": len(tokenizer), **(FULL_SHAPE if full_size else SMALL_SHAPE)}
    config = Qwen2Config(**shape, eos_token_id=eos, bos_token_id=pad, pad_token_id=pad, tie_word_embeddings=False)
    device, dtype = device_and_dtype()
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    with torch.no_grad():
        allowed = torch.zeros(config.vocab_size, dtype=torch.bool, device=device)
        for token_id in range(len(tokenizer)):
            text = tokenizer.decode([token_id])
            allowed[token_id] = token_id not in tokenizer.all_special_ids and text.isascii() and text.isprintable()
        model.lm_head.weight[~allowed] = 0
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, do_sample=False)
    return model.eval(), tokenizer


def build_checkpoint(root: Path) -> Path:
    """The small model saved in the folder the server looks up for SERVED_AS."""
    entry = load_catalog().find(SERVED_AS)
    assert entry is not None and entry.architecture == "Qwen2ForCausalLM"
    folder = root / entry.folder_name
    model, tokenizer = build_model(full_size=False)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def bandwidth_gb_s(override: float | None) -> float | None:
    if override:
        return override
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    return next((value for key, value in GPU_BANDWIDTH_GB_S.items() if key in name), None)


def bytes_per_token(model: torch.nn.Module, context_tokens: int) -> int:
    """Weights read per decoded token (all but the embedding table, of which one row is read) + KV cache."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    embedding = model.get_input_embeddings().weight
    kv_cache = static_cache_bytes(model, rows=1, length=context_tokens)
    return weights - embedding.numel() * embedding.element_size() + kv_cache
