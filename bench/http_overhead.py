"""What the HTTP API costs on top of the bare engine: decode tokens/s and time to first token; and the
engine against eager `model.generate()`.

One run, one model checkpoint: the server (space/app.py, a separate process, as in production) serves it
under a catalog name, and this process loads the same checkpoint and runs the server's engine on it, and
`generate` itself. All decode greedily the same prompt for the same number of tokens, interleaved, with
the threads pinned; several repetitions, medians of paired runs reported.

The model: bench/model.py's ~75M-parameter random Qwen2 (per-token work that means something on a CPU).
The GPU's own figures (a 7B shape, CUDA graphs, the bandwidth limit) are bench/gpu.py's.
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

import torch
from transformers.generation.streamers import BaseStreamer

from model import REPO, SERVED_AS, build_checkpoint, device_and_dtype
from zerollama.demo.tiny import CORPUS, build_tokenizer

SPACE = REPO / "space"
GOAL_TPS_OVERHEAD = 0.03
GOAL_TTFT_MS = 20.0


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
        from zerollama.core.catalog import load_catalog
        from zerollama.gpu.engine import engine_for
        from zerollama.gpu.runner import GpuRunner
        from zerollama.gpu.runtime import ModelRuntime
        from zerollama.server import Server
        from zerollama.settings import Settings
        from zerollama.store import ModelStore

        device, dtype = device_and_dtype()
        runtime = ModelRuntime(device, dtype, int(200e9))
        self.name = model
        self.server = Server(load_catalog(), ModelStore(model_dir), runtime, GpuRunner(), Settings())
        self.engine = engine_for(Settings().gpu)  # the server's own choice
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


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=96, help="tokens generated per run")
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads, here and in the server (pinned)")
    args = parser.parse_args()
    tokens = args.tokens
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="zerollama-bench-") as scratch:
        root = Path(scratch)
        print("building the ~75M-parameter Qwen2 checkpoint…")
        build_checkpoint(root / "models")
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
            wait_until_up(server, port, log_path, deadline_s=300)

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
            report(runs, args)
            batch = batch_aggregate(bare, prompt, tokens, 8)
            print(f"engine, one batched call of 8: {batch:.1f} tokens/s in all")
        finally:
            stop_server(server)


def batch_aggregate(bare: BareEngine, prompt: str, tokens: int, size: int) -> float:
    jobs = bare.jobs([f"{i} {prompt}" for i in range(size)], tokens, raw=True)
    started = time.perf_counter()
    _, finished = bare.run(jobs)
    return sum(f.eval_count for f in finished) / (time.perf_counter() - started)


def report(runs: dict[str, list[Sample]], args) -> None:
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


if __name__ == "__main__":
    main()
