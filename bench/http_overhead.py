"""What the HTTP API costs on top of the bare engine: decode tokens/s and time to first token; and the
engine against eager `model.generate()`.

One run, one model checkpoint: the server (space/app.py, a separate process, as in production) serves it
under a catalog name, and this process loads the same checkpoint and runs the server's engine on it, and
`generate` itself. All decode greedily the same prompt for the same number of tokens, interleaved, with
the threads pinned; several repetitions, medians of paired runs reported.

Default: a Qwen2-architecture model of ~75M random parameters (per-token work that means something on a
CPU). `--full-size`: the Qwen2.5-7B architecture with random bf16 weights on a GPU, also compared with
the memory-bandwidth limit (each decoded token reads every weight once).

The random model's output head is trimmed so that greedy decoding never ends early nor emits partial
UTF-8: the rows of the end-of-sequence tokens, of non-ASCII tokens and (at full size) of ids the small
test tokenizer lacks are zeroed. Zeroed rows are still read each step, so the work per token is unchanged.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACE = REPO / "space"
sys.path.insert(0, str(SPACE))

import torch  # noqa: E402 (after the sys.path line)
from transformers import AutoModelForCausalLM, GenerationConfig, Qwen2Config  # noqa: E402 (after the sys.path line)
from transformers.generation.streamers import BaseStreamer  # noqa: E402 (after the sys.path line)

from zerollama.core.catalog import load_catalog  # noqa: E402 (after the sys.path line)
from zerollama.demo.tiny import CORPUS, build_tokenizer  # noqa: E402 (after the sys.path line)

SERVED_AS = "qwen2.5:7b"  # the catalog name the server serves the bench model under (a Qwen2 architecture)
GOAL_TPS_OVERHEAD = 0.03
GOAL_TTFT_MS = 20.0

# Shapes: ~75M parameters for the CPU run; the published Qwen2.5-7B-Instruct config for --full-size.
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


@dataclass(frozen=True)
class Sample:
    ttft_s: float
    tokens: int
    decode_tps: float  # tokens after the first, over the time from first to last
    server_ttft_s: float | None = None  # HTTP runs: the server's own prompt_eval_duration (inside generation)


class Stamps(BaseStreamer):
    """Times each token as generate() produces it (its first put() is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        now = time.perf_counter()
        self.times.extend([now] * value.numel())

    def end(self) -> None:
        pass


def sample(started: float, stamps: list[float], tokens: int) -> Sample:
    decode = (tokens - 1) / (stamps[-1] - stamps[0]) if tokens > 1 and stamps[-1] > stamps[0] else float("nan")
    return Sample(stamps[0] - started, tokens, decode)


def device_and_dtype() -> tuple[str, torch.dtype]:
    """The same choice the server makes (zerollama.server.runtime_for)."""
    return ("cuda", torch.bfloat16) if torch.cuda.is_available() else ("cpu", torch.float32)


def build_checkpoint(root: Path, full_size: bool) -> Path:
    """A random-weight Qwen2 checkpoint in the folder the server looks up for SERVED_AS."""
    entry = load_catalog().find(SERVED_AS)
    assert entry is not None and entry.architecture == "Qwen2ForCausalLM"
    folder = root / entry.folder_name
    tokenizer = build_tokenizer()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    shape = {"vocab_size": len(tokenizer), **(FULL_SHAPE if full_size else SMALL_SHAPE)}
    config = Qwen2Config(
        **shape,
        eos_token_id=eos,
        bos_token_id=pad,
        pad_token_id=pad,
        tie_word_embeddings=False,
    )
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
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    model_dir: Path, port: int, log_path: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {
        **os.environ,
        **(extra_env or {}),
        "ZEROLLAMA_MODEL_DIR": str(model_dir),
        "ZEROLLAMA_DEMO": "",
        "PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=SPACE,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until_up(server: subprocess.Popen, port: int, log_path: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}); its log:\n{log_path.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/version")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server did not answer within {deadline_s:.0f} s; its log:\n{log_path.read_text()[-3000:]}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def bare_run(model: torch.nn.Module, prompt_ids: torch.Tensor, tokens: int, eos: int, pad: int) -> Sample:
    stamps = Stamps()
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            input_ids=prompt_ids,
            attention_mask=torch.ones_like(prompt_ids),
            max_new_tokens=tokens,
            do_sample=False,
            streamer=stamps,
            eos_token_id=[eos],
            pad_token_id=pad,
        )
    if prompt_ids.is_cuda:
        torch.cuda.synchronize()
    return sample(started, stamps.times, len(stamps.times))


class BareEngine:
    """The server's engine on the same checkpoint in this process: no HTTP, no queue, no GPU entry."""

    def __init__(self, model_dir: Path, model: str = SERVED_AS) -> None:
        from zerollama.gpu.engine import LoopEngine
        from zerollama.gpu.runner import GpuRunner
        from zerollama.gpu.runtime import ModelRuntime
        from zerollama.server import Server
        from zerollama.settings import Settings
        from zerollama.store import ModelStore

        device, dtype = device_and_dtype()
        runtime = ModelRuntime(device, dtype, int(200e9))
        self.name = model
        self.server = Server(load_catalog(), ModelStore(model_dir), runtime, GpuRunner(), Settings())
        self.engine = LoopEngine()
        first = self.jobs(["warm"], 1)[0]
        self.loaded, _ = runtime.acquire(first.entry, first.path)

    def jobs(self, prompts: list[str], tokens: int, raw: bool = False) -> list:
        from zerollama.core.schemas import GenerateRequest

        options = {"temperature": 0, "num_predict": tokens, "repeat_penalty": 1.0}
        requests = [GenerateRequest(model=self.name, prompt=p, raw=raw, options=options) for p in prompts]
        return [self.server.service.generate_job(r) for r in requests]

    def run(self, jobs: list) -> tuple[list[list[float]], list]:
        """Each member's token arrival times (perf_counter) and its Finished event."""
        from zerollama.gpu.generation import Finished, Tagged, TextDelta

        stamps: list[list[float]] = [[] for _ in jobs]
        finished: list = [None] * len(jobs)
        for item in self.engine.stream(jobs, self.loaded, float("inf"), lambda member: False):
            if isinstance(item, Tagged) and isinstance(item.event, TextDelta):
                stamps[item.member].append(time.perf_counter())
            elif isinstance(item, Tagged) and isinstance(item.event, Finished):
                finished[item.member] = item.event
        return stamps, finished


def engine_run(bare: BareEngine, prompt: str, tokens: int) -> Sample:
    jobs = bare.jobs([prompt], tokens, raw=True)
    started = time.perf_counter()
    stamps, finished = bare.run(jobs)
    return sample(started, stamps[0], finished[0].eval_count)


def http_run(port: int, prompt: str, tokens: int) -> Sample:
    """Streaming /api/generate as a client sees it: first and last text chunks, token count from the server."""
    body = json.dumps(
        {
            "model": SERVED_AS,
            "prompt": prompt,
            "raw": True,
            "stream": True,
            "keep_alive": -1,
            "options": {"temperature": 0, "num_predict": tokens, "repeat_penalty": 1.0},
        }
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.request("POST", "/api/generate", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"/api/generate answered {response.status}: {response.read()[:500]!r}")
    stamps: list[float] = []
    count, server_ttft = 0, None
    while line := response.readline():
        now = time.perf_counter()
        chunk = json.loads(line)
        if "error" in chunk:
            raise SystemExit(f"/api/generate failed: {chunk['error']}")
        if chunk.get("response"):
            stamps.append(now)
        if chunk.get("done"):
            count, server_ttft = (
                chunk["eval_count"],
                chunk["prompt_eval_duration"] / 1e9,
            )
    connection.close()
    measured = sample(started, stamps, count)
    return Sample(measured.ttft_s, measured.tokens, measured.decode_tps, server_ttft)


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
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv_cache = 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * embedding.element_size()
    return weights - embedding.numel() * embedding.element_size() + kv_cache * context_tokens


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full-size", action="store_true", help="Qwen2.5-7B architecture, random bf16 (GPU)")
    parser.add_argument("--tokens", type=int, default=None, help="tokens generated per run (default 96; 256 full)")
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads, here and in the server (pinned)")
    parser.add_argument("--bandwidth-gbs", type=float, default=None, help="GPU memory bandwidth, GB/s")
    args = parser.parse_args()
    tokens = args.tokens or (256 if args.full_size else 96)
    if args.full_size and not torch.cuda.is_available():
        raise SystemExit("--full-size needs a CUDA GPU (15 GB of bf16 weights)")
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="zerollama-bench-") as scratch:
        root = Path(scratch)
        print(f"building the {'Qwen2.5-7B-shaped' if args.full_size else '~75M-parameter Qwen2'} checkpoint…")
        folder = build_checkpoint(root / "models", args.full_size)
        port = free_port()
        log_path = root / "server.log"
        server = start_server(root / "models", port, log_path, {"OMP_NUM_THREADS": str(args.threads)})
        try:
            device, dtype = device_and_dtype()
            bare = BareEngine(root / "models")
            model = bare.loaded.model
            tokenizer = build_tokenizer()
            ids = tokenizer(" ".join(CORPUS * 20), add_special_tokens=False)["input_ids"][: args.prompt_tokens]
            prompt = tokenizer.decode(ids)
            prompt_ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]], device=device)
            eos, pad = model.generation_config.eos_token_id, model.generation_config.pad_token_id
            wait_until_up(server, port, log_path, deadline_s=900 if args.full_size else 300)

            params = sum(p.numel() for p in model.parameters())
            print(f"model: {params / 1e6:.1f}M parameters, {dtype} on {device}; prompt {prompt_ids.shape[1]} tokens")
            print(f"threads: {args.threads} here and in the server (pid {server.pid}); {tokens} tokens per run")
            bare_run(model, prompt_ids, tokens, eos, pad)  # warm-up: kernels, caches
            engine_run(bare, prompt, tokens)
            http_run(port, prompt, tokens)  # warm-up: model resident in the server, connection path
            runs: dict[str, list[Sample]] = {"generate": [], "engine": [], "http": []}
            for repetition in range(args.repetitions):  # interleaved: slow drifts in load hit all three
                runs["generate"].append(bare_run(model, prompt_ids, tokens, eos, pad))
                runs["engine"].append(engine_run(bare, prompt, tokens))
                runs["http"].append(http_run(port, prompt, tokens))
                print(
                    f"  run {repetition + 1}: "
                    + " | ".join(
                        f"{k} {v[-1].decode_tps:7.1f} tok/s ttft {v[-1].ttft_s * 1e3:6.1f} ms" for k, v in runs.items()
                    )
                )
            report(runs, model, prompt_ids.shape[1] + tokens // 2, args)
            batch = batch_aggregate(bare, prompt, tokens, 8)
            print(f"engine, one batched call of 8: {batch:.1f} tokens/s in all")
        finally:
            stop_server(server)
        del folder


def batch_aggregate(bare: BareEngine, prompt: str, tokens: int, size: int) -> float:
    jobs = bare.jobs([f"{i} {prompt}" for i in range(size)], tokens, raw=True)
    started = time.perf_counter()
    _, finished = bare.run(jobs)
    return sum(f.eval_count for f in finished) / (time.perf_counter() - started)


def report(runs: dict[str, list[Sample]], model: torch.nn.Module, mid_context: int, args) -> None:
    tps = {k: median([s.decode_tps for s in v]) for k, v in runs.items()}
    ttft = {k: median([s.ttft_s for s in v]) * 1e3 for k, v in runs.items()}
    inside_ttft = median([s.server_ttft_s for s in runs["http"] if s.server_ttft_s is not None]) * 1e3
    # Neighbouring runs are paired, so their ratios cancel slow drifts in machine load.
    pairs = list(zip(runs["engine"], runs["http"], strict=True))
    paired_tps = median([h.decode_tps / b.decode_tps for b, h in pairs])
    paired_ttft_ms = median([(h.ttft_s - b.ttft_s) * 1e3 for b, h in pairs])
    engine_vs_eager = median(
        [e.decode_tps / g.decode_tps for g, e in zip(runs["generate"], runs["engine"], strict=True)]
    )
    print()
    print(f"{'median of ' + str(args.repetitions):<24}{'generate()':>13}{'bare engine':>13}{'HTTP':>11}")
    print(f"{'decode tokens/s':<24}{tps['generate']:>13.1f}{tps['engine']:>13.1f}{tps['http']:>11.1f}")
    print(f"{'time to first token':<24}{ttft['generate']:>10.1f} ms{ttft['engine']:>10.1f} ms{ttft['http']:>8.1f} ms")
    print(f"{'  of it inside the engine':<24}{'':>26}{inside_ttft:>8.1f} ms  (server's prompt_eval_duration)")
    overhead = 1 - paired_tps
    print(
        f"server overhead against the bare engine (median of paired runs): {overhead * 100:+.1f} % tokens/s "
        f"(goal ≤ {GOAL_TPS_OVERHEAD * 100:.0f} %: {'met' if overhead <= GOAL_TPS_OVERHEAD else 'missed'}), "
        f"{paired_ttft_ms:+.1f} ms to first token (goal ≤ {GOAL_TTFT_MS:.0f} ms: "
        f"{'met' if paired_ttft_ms <= GOAL_TTFT_MS else 'missed'})"
    )
    print(f"engine against eager generate(): {engine_vs_eager:.2f}× tokens/s (median of paired runs)")
    bandwidth = bandwidth_gb_s(args.bandwidth_gbs)
    if bandwidth:
        per_token = bytes_per_token(model, mid_context)
        limit = bandwidth * 1e9 / per_token
        print(
            f"memory-bandwidth limit: {per_token / 1e9:.2f} GB read per token at {bandwidth:.0f} GB/s = "
            f"{limit:.1f} tok/s; generate() reaches {tps['generate'] / limit:.0%}, the engine "
            f"{tps['engine'] / limit:.0%}, HTTP {tps['http'] / limit:.0%}"
        )
    elif args.full_size:
        print("memory-bandwidth limit: unknown GPU; pass --bandwidth-gbs")


if __name__ == "__main__":
    main()
