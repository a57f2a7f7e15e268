"""The engine on a GPU: single-stream decode of a Qwen2.5-7B-shaped model (random bf16 weights) by eager
`generate()`, by the engine's eager step and by its CUDA-graph step, against the memory-bandwidth limit;
time to first token; CUDA-graph capture cost; and the batch-8 aggregate, beside transformers' continuous batching.

No server and no network: the model is built in GPU memory (bench/model.py), the engine is driven
directly. Runs are interleaved and repeated, medians reported; nothing is asserted. On a machine without
the pinned transformers and xgrammar, run it through bench/gpu.sh, which installs the wheels that
bench/gpu-wheels.sh downloaded. About 2-3 minutes on an H200; `--budget-seconds` skips the optional parts
once spent.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from http_overhead import Sample, bare_run, sample
from library_batching import LibraryBatching
from model import SERVED_AS, bandwidth_gb_s, build_model, bytes_per_token
from zerollama.core.catalog import load_catalog
from zerollama.core.options import GenerationOptions
from zerollama.demo.tiny import CORPUS
from zerollama.gpu.engine import LoopEngine
from zerollama.gpu.generation import Finished, Job, Tagged, TextDelta
from zerollama.gpu.graphs import GraphForward
from zerollama.gpu.runtime import LoadedModel, model_bytes
from zerollama.gpu.steps import EagerForward

GOAL_SHARE_OF_LIMIT = 0.8
GOAL_OVER_EAGER = 3.0
GOAL_TTFT_S = 1.0  # the seed's promise


@dataclass(frozen=True)
class Bench:
    loaded: LoadedModel
    prompts: list[list[int]]  # one per batch member; prompts[0] is the single stream's
    tokens: int

    def jobs(self, count: int, mixed: bool = False) -> list[Job]:
        entry = load_catalog().find(SERVED_AS)
        return [
            Job("generate", entry, Path("."), prompt_ids=tuple(p), options=self._options(i, mixed))
            for i, p in enumerate(self.prompts[:count])
        ]

    def _options(self, member: int, mixed: bool) -> GenerationOptions:
        """Greedy; `mixed`: what chat clients send (sampling, a repeat penalty), differing per member."""
        sampled = mixed and member % 2 == 1
        return GenerationOptions(
            temperature=0.8 if sampled else 0.0,
            top_p=0.9 if sampled else 1.0,
            top_k=40 if sampled else 0,
            min_p=0.0,
            repeat_penalty=1.1 if mixed else 1.0,
            seed=member,
            max_new_tokens=self.tokens,
            num_ctx=4096,
            stop=(),
        )


def engine_run(engine: LoopEngine, bench: Bench, count: int, mixed: bool = False) -> tuple[Sample, float, list]:
    """The first member's sample, the aggregate tokens/s of all members, and every member's output ids."""
    jobs = bench.jobs(count, mixed)
    stamps: list[list[float]] = [[] for _ in jobs]
    outputs: list[tuple[int, ...]] = [()] * len(jobs)
    started = time.perf_counter()
    for item in engine.stream(jobs, bench.loaded, math.inf, lambda member: False):
        if isinstance(item, Tagged) and isinstance(item.event, TextDelta):
            stamps[item.member].append(time.perf_counter())
        elif isinstance(item, Tagged) and isinstance(item.event, Finished):
            outputs[item.member] = item.event.output_ids
    elapsed = time.perf_counter() - started
    return sample(started, stamps[0], len(outputs[0])), sum(len(o) for o in outputs) / elapsed, outputs


def generate_batch_tps(bench: Bench, count: int) -> float:
    """Eager `generate()` over `count` left-padded prompts at once: the library's own batched baseline."""
    model = bench.loaded.model
    longest = max(len(p) for p in bench.prompts[:count])
    pad = model.generation_config.pad_token_id
    ids = torch.tensor([[pad] * (longest - len(p)) + p for p in bench.prompts[:count]], device=model.device)
    mask = (
        torch.arange(longest, device=model.device)[None, :]
        >= (longest - torch.tensor([len(p) for p in bench.prompts[:count]], device=model.device))[:, None]
    ).long()
    sync()
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=bench.tokens,
            min_new_tokens=bench.tokens,
            do_sample=False,
            pad_token_id=pad,
        )
    sync()
    return (out.shape[1] - longest) * count / (time.perf_counter() - started)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def library_tps(bench: Bench, size: int, repetitions: int) -> list[float]:
    """transformers' continuous batching on the same prompts, with its CUDA graphs (None: it failed)."""
    prompts = bench.prompts[:size]
    try:
        with LibraryBatching(bench.loaded.model, size, max(map(len, prompts)), bench.tokens, cuda_graphs=True) as cb:
            cb.run(prompts)
            print(f"  transformers continuous batching: set-up and warm-up {cb.setup_seconds:.2f} s, {cb.attention}")
            return [cb.run(prompts).tps for _ in range(repetitions)]
    except Exception as error:  # noqa: BLE001 - the library's path is optional here; the figure says why it is missing
        print(f"  transformers continuous batching skipped: {type(error).__name__}: {error}")
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=256, help="tokens generated per stream")
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--bandwidth-gbs", type=float, default=None, help="GPU memory bandwidth, GB/s")
    parser.add_argument("--budget-seconds", type=float, default=360, help="skip optional parts past this")
    parser.add_argument("--small", action="store_true", help="the ~75M model, on a CPU too (checks the script)")
    args = parser.parse_args()
    if not (args.small or torch.cuda.is_available()):
        raise SystemExit("bench/gpu.py needs a CUDA GPU (15 GB of bf16 weights); --small runs anywhere")
    began = time.monotonic()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    where = torch.cuda.get_device_name(0) if device == "cuda" else "none (CPU)"
    print(
        f"GPU: {where}; torch {torch.__version__}; building the {'small' if args.small else 'Qwen2.5-7B-shaped'} model…"
    )
    model, tokenizer = build_model(full_size=not args.small)
    loaded = LoadedModel(load_catalog().find(SERVED_AS), model, tokenizer, device, model_bytes(model), math.inf)
    corpus = tokenizer(" ".join(CORPUS * 40), add_special_tokens=False)["input_ids"]
    prompts = [corpus[i * 7 : i * 7 + args.prompt_tokens - i] for i in range(args.batch)]  # lengths differ
    bench = Bench(loaded, prompts, args.tokens)
    print(f"built in {time.monotonic() - began:.1f} s: {model_bytes(model) / 1e9:.2f} GB of weights")
    if device == "cpu":
        print("no CUDA: the 'CUDA graph' engine steps eagerly here (this run only checks the script)")

    graphs = GraphForward()
    engines = {"engine, eager step": LoopEngine(EagerForward()), "engine, CUDA graph": LoopEngine(graphs)}
    prompt_ids = torch.tensor([prompts[0]], device=device)
    eos, pad = model.generation_config.eos_token_id, model.generation_config.pad_token_id
    bare_run(model, prompt_ids, 8, eos, pad)  # warm-up: kernels, cuBLAS
    capture = {}
    for name, engine in engines.items():
        before = graphs.stats.capture_seconds
        engine_run(engine, bench, 1)
        capture[name] = graphs.stats.capture_seconds - before
    print(f"CUDA-graph capture, one row × {graphs.stats.captures} shape(s): {capture['engine, CUDA graph']:.2f} s")

    runs: dict[str, list[Sample]] = {"generate()": []} | {name: [] for name in engines}
    outputs: dict[str, list] = {}
    for repetition in range(args.repetitions):
        runs["generate()"].append(bare_run(model, prompt_ids, args.tokens, eos, pad))
        for name, engine in engines.items():
            single, _, outputs[name] = engine_run(engine, bench, 1)
            runs[name].append(single)
        print(f"  run {repetition + 1}: " + " | ".join(f"{k} {v[-1].decode_tps:.1f} tok/s" for k, v in runs.items()))
    report_single(runs, model, args)
    same = outputs["engine, eager step"] == outputs["engine, CUDA graph"]
    print(f"greedy output of the graph step {'equals' if same else 'DIFFERS FROM'} the eager step's")
    report_batch(bench, engines, graphs, args, began)
    peak = torch.cuda.max_memory_allocated() / 1e9 if device == "cuda" else float("nan")
    print(f"peak GPU memory {peak:.1f} GB; {time.monotonic() - began:.0f} s in all")


def report_single(runs: dict[str, list[Sample]], model: Any, args) -> None:
    tps = {k: statistics.median(s.decode_tps for s in v) for k, v in runs.items()}
    ttft = {k: statistics.median(s.ttft_s for s in v) for k, v in runs.items()}
    print(f"\nsingle stream, median of {args.repetitions} ({args.tokens} tokens, prompt {args.prompt_tokens}):")
    for name in runs:
        print(f"  {name:<22}{tps[name]:>8.1f} tok/s   first token {ttft[name] * 1e3:7.1f} ms")
    graph, eager = tps["engine, CUDA graph"], tps["generate()"]
    print(f"  CUDA-graph step against eager generate(): {graph / eager:.2f}× (goal ≥ {GOAL_OVER_EAGER:.0f}×)")
    first = ttft["engine, CUDA graph"]
    print(
        f"  first token {first * 1e3:.0f} ms (goal < {GOAL_TTFT_S:.0f} s: {'met' if first < GOAL_TTFT_S else 'missed'})"
    )
    bandwidth = bandwidth_gb_s(args.bandwidth_gbs)
    if not bandwidth:
        print("  memory-bandwidth limit: unknown GPU; pass --bandwidth-gbs")
        return
    per_token = bytes_per_token(model, args.prompt_tokens + args.tokens // 2)
    limit = bandwidth * 1e9 / per_token
    share = graph / limit
    print(
        f"  bandwidth limit: {per_token / 1e9:.2f} GB per token at {bandwidth:.0f} GB/s = {limit:.0f} tok/s; "
        f"the graph step reaches {share:.0%} (goal ≥ {GOAL_SHARE_OF_LIMIT:.0%}: "
        f"{'met' if share >= GOAL_SHARE_OF_LIMIT else 'missed'}), eager generate() {eager / limit:.0%}"
    )


def report_batch(bench: Bench, engines: dict[str, LoopEngine], graphs: GraphForward, args, began: float) -> None:
    size = args.batch
    before = graphs.stats.capture_seconds
    engine_run(engines["engine, CUDA graph"], bench, size)  # captures the batch shape
    print(
        f"\nbatch of {size} (prompts of {min(map(len, bench.prompts))}-{max(map(len, bench.prompts))} tokens), "
        f"capture {graphs.stats.capture_seconds - before:.2f} s; aggregate tokens/s, median of {args.repetitions}:"
    )
    rows: dict[str, list[float]] = {name: [] for name in engines} | {"CUDA graph, mixed options": [], "generate()": []}
    for _ in range(args.repetitions):
        for name, engine in engines.items():
            rows[name].append(engine_run(engine, bench, size)[1])
        rows["CUDA graph, mixed options"].append(engine_run(engines["engine, CUDA graph"], bench, size, mixed=True)[1])
        if time.monotonic() - began < args.budget_seconds:
            rows["generate()"].append(generate_batch_tps(bench, size))
    if time.monotonic() - began < args.budget_seconds:
        rows["transformers continuous batching"] = library_tps(bench, size, args.repetitions)
    for name, values in rows.items():
        if values:
            print(f"  {name:<34}{statistics.median(values):>8.1f} tok/s")
    print(
        f"  graph checks failed: {graphs.stats.fallbacks}; captures {graphs.stats.captures}, "
        f"{graphs.stats.capture_seconds:.2f} s in all"
    )


if __name__ == "__main__":
    main()
