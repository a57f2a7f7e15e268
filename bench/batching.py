"""What same-caller batching buys: aggregate tokens/s of 1, 2, 4 and 8 concurrent streams against the same
requests one after another, and against one bare batched engine call (the ceiling), on the tiny qwen2.5
stand-in. Also the GPU seconds billed per 1,000 tokens, as the replies report them. And transformers' own
continuous batching (library_batching.py) on the same prompts, beside the bare call: with the repeat penalty
off in both, since the library drops a repetition penalty and the catalog's qwen2.5 options set one.

One run, one checkpoint: the server (space/app.py in its own process, as in production) and, in this
process, the bare engine on the same checkpoint. Every request decodes greedily the same number of tokens
from its own prompt. Settings are interleaved (serial, concurrent, bare for each N) and repeated; medians
are reported. Nothing is asserted: the figures are printed with the goals beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from http_overhead import REPO, free_port, start_server, stop_server, wait_until_up
from library_batching import LibraryBatching, LibraryRound

sys.path.insert(0, str(REPO / "space"))

import torch

from zerollama.core.catalog import load_catalog
from zerollama.core.schemas import GenerateRequest
from zerollama.demo.tiny import build_all
from zerollama.gpu.engine import LoopEngine
from zerollama.gpu.generation import Finished, Tagged
from zerollama.gpu.runner import GpuRunner
from zerollama.gpu.runtime import ModelRuntime
from zerollama.server import Server
from zerollama.settings import Settings
from zerollama.store import ModelStore

MODEL = "qwen2.5:7b"  # served by its tiny random stand-in
CALLER = {"X-IP-Token": "bench-caller"}  # one caller for every stream
GOAL_SPEEDUP_AT_8 = 4.0
GOAL_SHARE_OF_CEILING = 0.8
GOAL_GPU_SECONDS_RATIO = 0.25
NO_PENALTY = {"repeat_penalty": 1.0}  # the options of the loop runs set beside the library's


@dataclass(frozen=True)
class Round:
    seconds: float  # wall time from the first request sent to the last reply done
    tokens: int
    gpu_seconds: float  # summed over the replies, as each reports its share
    outputs: tuple[tuple[int, ...], ...] = ()  # bare calls: each request's generated ids, in request order

    @property
    def tps(self) -> float:
        return self.tokens / self.seconds

    @property
    def gpu_seconds_per_1000(self) -> float:
        return self.gpu_seconds / self.tokens * 1000


def prompts(count: int) -> list[str]:
    return [f"Story number {i}: tell me about the sea and the mountains" for i in range(count)]


def request(port: int, prompt: str, tokens: int) -> tuple[int, float]:
    """One streamed /api/generate; (tokens generated, GPU seconds reported)."""
    body = {
        "model": MODEL,
        "prompt": prompt,
        "stream": True,
        "keep_alive": -1,
        "options": {"temperature": 0, "num_predict": tokens},
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("POST", "/api/generate", json.dumps(body), {"Content-Type": "application/json", **CALLER})
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"/api/generate answered {response.status}: {response.read()[:500]!r}")
    count, gpu_seconds = 0, 0.0
    while line := response.readline():
        chunk = json.loads(line)
        if "error" in chunk:
            raise SystemExit(f"/api/generate failed: {chunk['error']}")
        if chunk.get("done"):
            count, gpu_seconds = chunk["eval_count"], chunk["zerollama"]["gpu_seconds"]
    connection.close()
    return count, gpu_seconds


def serial(port: int, count: int, tokens: int) -> Round:
    started = time.perf_counter()
    results = [request(port, prompt, tokens) for prompt in prompts(count)]
    return Round(time.perf_counter() - started, sum(r[0] for r in results), sum(r[1] for r in results))


def concurrent(port: int, count: int, tokens: int) -> Round:
    results: list[tuple[int, float]] = [(0, 0.0)] * count

    def one(i: int, prompt: str) -> None:
        results[i] = request(port, prompt, tokens)

    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(prompts(count))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Round(time.perf_counter() - started, sum(r[0] for r in results), sum(r[1] for r in results))


class BareEngine:
    """The engine on the same checkpoint in this process: one batched call, no HTTP, no queue."""

    def __init__(self, model_dir: Path) -> None:
        runtime = ModelRuntime("cpu", torch.float32, int(4e9))
        self.server = Server(load_catalog(), ModelStore(model_dir), runtime, GpuRunner(), Settings())
        self.engine = LoopEngine()
        first = self.jobs(1, 1)[0]
        self.loaded, _ = runtime.acquire(first.entry, first.path)

    def jobs(self, count: int, tokens: int, extra: dict | None = None) -> list:
        options = {"temperature": 0, "num_predict": tokens, **(extra or {})}
        return [
            self.server.service.generate_job(GenerateRequest(model=MODEL, prompt=p, options=options))
            for p in prompts(count)
        ]

    def run(self, count: int, tokens: int, extra: dict | None = None) -> Round:
        jobs = self.jobs(count, tokens, extra)
        started = time.perf_counter()
        finished = {
            e.member: e.event
            for e in self.engine.stream(jobs, self.loaded, float("inf"), lambda member: False)
            if isinstance(e, Tagged) and isinstance(e.event, Finished)
        }
        seconds = time.perf_counter() - started
        ordered = [finished[i] for i in sorted(finished)]
        return Round(
            seconds,
            sum(f.eval_count for f in ordered),
            sum(f.gpu_seconds for f in ordered),
            tuple(f.output_ids for f in ordered),
        )

    def prompts(self, count: int, tokens: int) -> list[tuple[int, ...]]:
        """The prompt ids the bare call decodes from, for the library to decode from too."""
        return [job.prompt_ids for job in self.jobs(count, tokens)]


@dataclass(frozen=True)
class Versus:
    loop: Round  # the bare call, repeat penalty off
    library: LibraryRound
    same: int  # requests whose generated ids are the same in both


def open_library(stack: contextlib.ExitStack, bare: BareEngine, streams: int, tokens: int) -> LibraryBatching | None:
    """transformers' continuous batching on the bare engine's model, after its first (warm-up) call, whose
    cost is printed; None, with the reason printed, where it cannot run here."""
    prompts = bare.prompts(streams, tokens)
    library = stack.enter_context(LibraryBatching(bare.loaded.model, streams, max(map(len, prompts)), tokens))
    try:
        first = library.run(prompts)
    except Exception as error:  # noqa: BLE001 - any failure is the finding: reported, the rest still runs
        print(f"transformers continuous batching skipped: {type(error).__name__}: {error}")
        return None
    steady = library.run(prompts)
    print(
        f"transformers continuous batching ({library.attention} attention), first call: {library.setup_seconds:.2f} s"
        f" to build and warm up, then {first.seconds:.3f} s for {streams} streams ({steady.seconds:.3f} s steady)"
    )
    return library


def median_round(rounds: list[Round]) -> Round:
    return Round(
        statistics.median(r.seconds for r in rounds),
        rounds[0].tokens,
        statistics.median(r.gpu_seconds for r in rounds),
        rounds[0].outputs,
    )


def versus(loops: list[Round], libraries: list[LibraryRound]) -> Versus:
    loop = median_round(loops)
    library = LibraryRound(statistics.median(r.seconds for r in libraries), libraries[0].tokens, libraries[0].outputs)
    return Versus(loop, library, sum(a == b for a, b in zip(loop.outputs, library.outputs, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=48, help="tokens per request")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--streams", default="1,2,4,8", help="concurrency levels")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, here and in the server")
    args = parser.parse_args()
    levels = [int(n) for n in args.streams.split(",")]
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="zerollama-bench-batching-") as scratch, contextlib.ExitStack() as stack:
        root = Path(scratch)
        model_dir = build_all(load_catalog(), REPO / ".zerollama" / "tiny-models", [MODEL])
        port = free_port()
        log_path = root / "server.log"
        server = start_server(model_dir, port, log_path, {"OMP_NUM_THREADS": str(args.threads)})
        try:
            bare = BareEngine(model_dir)
            wait_until_up(server, port, log_path, deadline_s=300)
            request(port, "warm-up", args.tokens)  # the model resident in the server
            bare.run(1, args.tokens)
            print(f"{MODEL} (tiny stand-in), {args.tokens} greedy tokens per request, {args.threads} threads")
            library = open_library(stack, bare, max(levels), args.tokens)
            table: dict[int, tuple[Round, Round, Round]] = {}
            against: dict[int, Versus] = {}
            for level in levels:
                runs: tuple[list[Round], list[Round], list[Round]] = ([], [], [])
                loops: list[Round] = []
                libraries: list[LibraryRound] = []
                for _ in range(args.repetitions):  # interleaved, so slow drifts in machine load hit every setting
                    runs[0].append(serial(port, level, args.tokens))
                    runs[1].append(concurrent(port, level, args.tokens))
                    runs[2].append(bare.run(level, args.tokens))
                    if library is not None:
                        loops.append(bare.run(level, args.tokens, NO_PENALTY))
                        libraries.append(library.run(bare.prompts(level, args.tokens)))
                table[level] = tuple(median_round(r) for r in runs)  # type: ignore[assignment]
                if library is not None:
                    against[level] = versus(loops, libraries)
            report(table)
            report_library(against)
        finally:
            stop_server(server)


def report(table: dict[int, tuple[Round, Round, Round]]) -> None:
    print()
    print(
        f"{'streams':>7}{'serial tok/s':>14}{'concurrent':>12}{'speed-up':>10}{'bare batch':>12}{'of ceiling':>12}"
        f"{'GPU-s/1k serial':>17}{'concurrent':>12}{'ratio':>8}"
    )
    for level, (one_by_one, together, ceiling) in table.items():
        print(
            f"{level:>7}{one_by_one.tps:>14.1f}{together.tps:>12.1f}{together.tps / one_by_one.tps:>9.2f}×"
            f"{ceiling.tps:>12.1f}{together.tps / ceiling.tps:>11.0%}"
            f"{one_by_one.gpu_seconds_per_1000:>17.2f}{together.gpu_seconds_per_1000:>12.2f}"
            f"{together.gpu_seconds_per_1000 / one_by_one.gpu_seconds_per_1000:>8.2f}"
        )
    if 8 in table:
        one_by_one, together, ceiling = table[8]
        checks = [
            ("8 streams, × serial tokens/s", together.tps / one_by_one.tps, GOAL_SPEEDUP_AT_8, True),
            ("share of the bare batched ceiling", together.tps / ceiling.tps, GOAL_SHARE_OF_CEILING, True),
            (
                "GPU seconds per 1,000 tokens, × serial",
                together.gpu_seconds_per_1000 / one_by_one.gpu_seconds_per_1000,
                GOAL_GPU_SECONDS_RATIO,
                False,
            ),
        ]
        for name, value, goal, at_least in checks:
            met = value >= goal if at_least else value <= goal
            print(f"{name}: {value:.2f} (goal {'≥' if at_least else '≤'} {goal}: {verdict(met)})")


def report_library(against: dict[int, Versus]) -> None:
    if not against:
        return
    print()
    print("transformers continuous batching against the bare LoopEngine call, repeat penalty off in both")
    print(f"{'streams':>7}{'loop tok/s':>12}{'library':>10}{'library/loop':>14}{'same tokens':>13}")
    for level, pair in against.items():
        print(
            f"{level:>7}{pair.loop.tps:>12.1f}{pair.library.tps:>10.1f}{pair.library.tps / pair.loop.tps:>13.2f}×"
            f"{pair.same:>9}/{level}"
        )


def verdict(met: bool) -> str:
    return "met" if met else "missed"


if __name__ == "__main__":
    main()
