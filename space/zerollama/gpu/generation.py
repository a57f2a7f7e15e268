"""What runs on the GPU: one job (chat/generate, embed, load, unload) turned into picklable events.

Everything here crosses the ZeroGPU process boundary: jobs go in pickled, events come back pickled, and
exceptions other than gr.Error would lose their message, so failures are returned as `Failed` events.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import LogitsProcessor, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from ..core.catalog import CatalogModel
from ..core.errors import ApiError
from ..core.options import GenerationOptions
from .constrained import compiler_for, logits_processor
from .runtime import LoadedModel, ModelDoesNotFit, ModelRuntime, ResidentModel
from .textstream import OutputFilter, ToolSyntax


@dataclass(frozen=True)
class Job:
    op: Literal["generate", "embed", "load", "unload"]
    entry: CatalogModel
    path: Path
    pinned: bool = False
    keep_alive: float | None = None
    prompt_ids: tuple[int, ...] = ()
    options: GenerationOptions | None = None
    format: str | dict | None = None
    tools: tuple[dict, ...] = ()
    tool_syntax: ToolSyntax | None = None  # set when tools are given
    force_tool_call: bool = False
    logprobs: bool = False  # each output token's log-probability, with `top_logprobs` (0-20) alternatives
    top_logprobs: int = 0
    embed_inputs: tuple[tuple[int, ...], ...] = ()
    normalize: bool = True
    dimensions: int | None = None
    requested_seconds: int = 60
    # Seconds the platform grants for requested_seconds (ZeroGPU multiplies by its duration_factor);
    # generation stops (done_reason "length") before the grant runs out. inf: nothing kills the call.
    granted_seconds: float = math.inf


@dataclass(frozen=True)
class TextDelta:
    text: str
    # Ollama's shape, one per token since the previous delta: {"token", "logprob", "bytes", "top_logprobs"?}.
    # A token whose text is still held back (a possible stop string, a tool call) comes with empty text.
    logprobs: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ToolCalls:
    calls: list[dict[str, Any]]


@dataclass(frozen=True)
class Finished:
    done_reason: str
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0  # nanoseconds, as Ollama reports
    eval_count: int = 0
    eval_duration: int = 0
    load_duration: int = 0
    gpu_seconds: float = 0.0
    cold_start_seconds: float = 0.0  # of a new ZeroGPU worker: copying the packed weights, inside the grant
    note: str = ""  # said to the caller beside the reply (why a packed model was not unloaded)
    embeddings: list[list[float]] | None = None
    resident: list[ResidentModel] = field(default_factory=list)
    output_ids: tuple[int, ...] = ()  # every generated token, end-of-turn included (Ollama's `context` ends so)


@dataclass(frozen=True)
class Failed:
    """A job's failure, crossing from the GPU thread as data; `error()` is what the HTTP side raises."""

    status: int
    message: str
    retry_after: int | None = None

    @classmethod
    def of(cls, error: ApiError) -> Failed:
        return cls(error.status, error.message, error.retry_after)

    def error(self) -> ApiError:
        return ApiError(self.status, self.message, self.retry_after)


@dataclass(frozen=True)
class Heartbeat:
    """Yielded while nothing else is (model load, prefill, held-back output): ZeroGPU only notices that the
    consumer left at the next yielded item, so this is how a disconnect frees the GPU quickly. Dropped by
    the server."""


Event = TextDelta | ToolCalls | Finished | Failed | Heartbeat

HEARTBEAT_SECONDS = 0.25
# Stop this long before the grant ends: the reply's last events and /release must still fit in it.
DEADLINE_MARGIN_SECONDS = 2.0


class ProcessClock:
    """When this process was forked (a ZeroGPU worker is forked right after its grant) and whether it has
    run a job yet: a new worker's grant already paid for copying the packed weights before its first job."""

    def __init__(self) -> None:
        self.forked_at: float | None = None
        self.jobs = 0
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.forked_at = time.time()
        self.jobs = 0

    def job_started(self) -> tuple[float, float]:
        """(unix time this job's grant began, seconds of it spent before the job: the cold start)."""
        now = time.time()
        self.jobs += 1
        if self.jobs == 1 and self.forked_at is not None:
            return self.forked_at, now - self.forked_at
        return now, 0.0


CLOCK = ProcessClock()


def deadline_for(job: Job, grant_began: float) -> float:
    """The time.monotonic() at which generation must end to stay inside the grant."""
    if math.isinf(job.granted_seconds):
        return math.inf
    return time.monotonic() + (grant_began + job.granted_seconds - DEADLINE_MARGIN_SECONDS - time.time())


def in_background(
    work: Callable[[], Any], abandoned: Callable[[Any], None] | None = None
) -> Generator[Heartbeat, None, Any]:
    """Runs `work` in a thread, yielding a Heartbeat every HEARTBEAT_SECONDS until it is done, and returns
    its result (`value = yield from in_background(...)`; its exception is raised here). If the consumer
    leaves first, `abandoned` gets the result."""
    outcome: queue.Queue[tuple[bool, Any]] = queue.Queue()
    left = threading.Event()
    handover = threading.Lock()

    def run() -> None:
        try:
            result: tuple[bool, Any] = (True, work())
        except BaseException as error:  # noqa: BLE001 - re-raised in the consumer
            result = (False, error)
        with handover:
            if left.is_set() and result[0] and abandoned is not None:
                abandoned(result[1])
            else:
                outcome.put(result)

    threading.Thread(target=run, name="gpu-work", daemon=True).start()
    try:
        while True:
            try:
                ok, value = outcome.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                yield Heartbeat()
                continue
            if not ok:
                raise value
            return value
    except GeneratorExit:
        with handover:
            left.set()
            while not outcome.empty():
                ok, value = outcome.get()
                if ok and abandoned is not None:
                    abandoned(value)
        raise


class TokenQueue(BaseStreamer):
    """Receives token ids from generate(); the first put() is the prompt, later ones new tokens."""

    def __init__(self) -> None:
        self.tokens: queue.Queue[int | None] = queue.Queue()
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.tokens.put(int(token))

    def end(self) -> None:
        self.tokens.put(None)


class ScoreTap(LogitsProcessor):
    """Keeps each step's log-probabilities, taken from the scores the sampler draws from: after the
    repetition penalty and any grammar, before temperature and top-k/top-p (transformers applies those
    after every processor given to generate()), so greedy decoding picks the most likely entry."""

    def __init__(self, tokenizer: Any, top: int) -> None:
        self.tokenizer = tokenizer
        self.top = top
        self.steps: queue.Queue[torch.Tensor] = queue.Queue()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.steps.put(torch.log_softmax(scores[0].float(), dim=-1))
        return scores

    def take(self, token: int) -> dict[str, Any]:
        """The entry of the step that produced `token` (steps and tokens arrive in the same order)."""
        row = self.steps.get()
        entry = self._entry(token, float(row[token]))
        if self.top > 0:
            values, ids = row.topk(self.top)
            entry["top_logprobs"] = [self._entry(i, v) for i, v in zip(ids.tolist(), values.tolist(), strict=True)]
        return entry

    def _entry(self, token: int, logprob: float) -> dict[str, Any]:
        text = self.tokenizer.decode([token])
        return {"token": text, "logprob": logprob, "bytes": list(text.encode())}


class StopWhen(StoppingCriteria):
    """Stops generate() when the consumer is gone (client disconnect, stop string) or time runs out."""

    def __init__(self, cancelled: threading.Event, deadline: float) -> None:
        self.cancelled = cancelled
        self.deadline = deadline
        self.timed_out = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        self.timed_out = time.monotonic() >= self.deadline
        stop = self.cancelled.is_set() or self.timed_out
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class IncrementalDecoder:
    """Decodes token by token without splitting multi-byte characters (text arrives when complete)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def push(self, token: int) -> str:
        self.ids.append(token)
        prefix = self.tokenizer.decode(self.ids[self.prefix_offset : self.read_offset])
        text = self.tokenizer.decode(self.ids[self.prefix_offset :])
        if len(text) > len(prefix) and not text.endswith("\ufffd"):
            self.prefix_offset = self.read_offset
            self.read_offset = len(self.ids)
            return text[len(prefix) :]
        return ""


def _sampling(options: GenerationOptions) -> dict[str, Any]:
    if options.temperature <= 0:
        return {"do_sample": False}
    settings: dict[str, Any] = {"do_sample": True, "temperature": options.temperature}
    if 0 < options.top_p < 1:
        settings["top_p"] = options.top_p
    settings["top_k"] = options.top_k if options.top_k > 0 else None
    if options.min_p > 0:
        settings["min_p"] = options.min_p
    return settings


def generate(job: Job, loaded: LoadedModel, deadline: float) -> Iterator[Event]:
    options = job.options
    assert options is not None
    model, tokenizer = loaded.model, loaded.tokenizer
    eos_ids = set(_eos_ids(model, tokenizer))
    processors = []
    if job.format is not None or job.force_tool_call:
        if loaded.grammar_compiler is None:
            loaded.grammar_compiler = compiler_for(tokenizer, model.config.vocab_size)
        forced = list(job.tools) if job.force_tool_call else None
        processors.append(logits_processor(loaded.grammar_compiler, job.format, forced, job.tool_syntax))
    tap = ScoreTap(tokenizer, job.top_logprobs) if job.logprobs else None
    if tap is not None:
        processors.append(tap)  # last: it sees what the grammar left
    if options.seed >= 0:
        torch.manual_seed(options.seed)
    started = time.monotonic()
    cancelled = threading.Event()
    stop_when = StopWhen(cancelled, deadline)
    streamer = TokenQueue()
    input_ids = torch.tensor([list(job.prompt_ids)], device=model.device)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with torch.inference_mode():
                model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=options.max_new_tokens,
                    repetition_penalty=options.repeat_penalty if options.repeat_penalty != 1.0 else None,
                    logits_processor=processors or None,
                    stopping_criteria=StoppingCriteriaList([stop_when]),
                    streamer=streamer,
                    pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos_ids),
                    eos_token_id=sorted(eos_ids),
                    **_sampling(options),
                )
        except BaseException as error:  # noqa: BLE001 - reported by the consumer below
            failure.append(error)
            streamer.end()

    worker = threading.Thread(target=run, name="generate", daemon=True)
    output = OutputFilter(options.stop, job.tool_syntax)
    decoder = IncrementalDecoder(tokenizer)
    first_token_at: float | None = None
    generated: list[int] = []
    done_reason = "length"
    last_yield = time.monotonic()
    worker.start()
    try:
        while True:
            try:
                token = streamer.tokens.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:  # prefill or a slow step: let a departed consumer stop us
                last_yield = time.monotonic()
                yield Heartbeat()
                continue
            if token is None:
                break
            first_token_at = first_token_at or time.monotonic()
            generated.append(token)
            scored = tap.take(token) if tap is not None else None
            if token in eos_ids:
                done_reason = "stop"
                continue
            piece = output.feed(decoder.push(token))
            events = list(_piece_events(piece, (scored,) if scored else ()))
            if not events and time.monotonic() - last_yield >= HEARTBEAT_SECONDS:
                events = [Heartbeat()]  # output held back (a tool call, a possible stop string)
            for event in events:
                last_yield = time.monotonic()
                yield event
            if piece.stopped:
                done_reason = "stop"
                break
        cancelled.set()
        worker.join()
        if failure:
            raise failure[0]
        yield from _piece_events(output.finish())
        if stop_when.timed_out:
            done_reason = "length"
    finally:
        cancelled.set()  # the consumer left early (GeneratorExit): stop generate() now
        worker.join()
    finished_at = time.monotonic()
    first = first_token_at or finished_at
    yield Finished(
        done_reason=done_reason,
        prompt_eval_count=len(job.prompt_ids),
        prompt_eval_duration=int((first - started) * 1e9),
        eval_count=len(generated),
        eval_duration=int((finished_at - first) * 1e9),
        output_ids=tuple(generated),
    )


def _piece_events(piece: Any, logprobs: tuple[dict[str, Any], ...] = ()) -> Iterator[Event]:
    if piece.text or logprobs:
        yield TextDelta(piece.text, logprobs)
    if piece.tool_calls:
        yield ToolCalls(piece.tool_calls)


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    configured = model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured] if configured is not None else []
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return list(dict.fromkeys(ids))


def embed(job: Job, loaded: LoadedModel) -> list[list[float]]:
    """Mean-pooled last hidden states: one vector per input (L2-normalised for /api/embed)."""
    vectors = []
    with torch.inference_mode():
        for ids in job.embed_inputs:
            input_ids = torch.tensor([list(ids)], device=loaded.model.device)
            hidden = loaded.model(input_ids=input_ids, output_hidden_states=True).hidden_states[-1][0]
            vector = hidden.float().mean(dim=0)
            if job.dimensions:
                vector = vector[: job.dimensions]
            if job.normalize:
                vector = torch.nn.functional.normalize(vector, dim=0)
            vectors.append(vector.cpu().tolist())
    return vectors


def execute(job: Job, runtime: ModelRuntime) -> Iterator[Event]:
    """Runs one job on this process's runtime. Yields events (heartbeats during slow steps); never raises."""
    grant_began, cold_start = CLOCK.job_started()
    started = time.monotonic()
    try:
        if job.op == "unload":
            note = ""
            if runtime.is_packed(job.entry.name):
                note = f"{job.entry.name} is packed on ZeroGPU: it stays resident in every GPU worker, never unloaded"
            else:
                runtime.unload(job.entry.name)
            yield Finished(done_reason="unload", resident=runtime.snapshot(), note=note)
            return

        def give_back(result: tuple[LoadedModel, float]) -> None:  # the consumer left during the load
            runtime.release(result[0], job.keep_alive, pinned=job.pinned)

        loaded, load_seconds = yield from in_background(lambda: runtime.acquire(job.entry, job.path), give_back)
        try:
            finished = Finished(done_reason="load")
            if job.op == "generate":
                for event in generate(job, loaded, deadline_for(job, grant_began)):
                    if isinstance(event, Finished):
                        finished = event
                    else:
                        yield event
            elif job.op == "embed":
                vectors = yield from in_background(lambda: embed(job, loaded))
                finished = Finished(
                    done_reason="stop", embeddings=vectors, prompt_eval_count=sum(len(i) for i in job.embed_inputs)
                )
        finally:
            runtime.release(loaded, job.keep_alive, pinned=job.pinned)
        yield Finished(
            **{
                **finished.__dict__,
                "load_duration": int(load_seconds * 1e9),
                "gpu_seconds": time.monotonic() - started + cold_start,
                "cold_start_seconds": cold_start,
                "resident": runtime.snapshot(),
            }
        )
    except ModelDoesNotFit as error:
        yield Failed(503, str(error))
    except torch.cuda.OutOfMemoryError:
        yield Failed(503, "the GPU ran out of memory for this request; retry with a shorter prompt or num_predict", 30)
    except Exception as error:  # noqa: BLE001 - must cross the process boundary with its message
        yield Failed(500, f"{type(error).__name__}: {error}")
