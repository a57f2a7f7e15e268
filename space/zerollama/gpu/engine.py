"""The engine: a batch of generation jobs on one model, decoded together, one forward step for all rows.

`Engine` (in generation.py) is the seam the GPU entry drives; `LoopEngine` implements it: it takes the
jobs of one GPU call and yields events tagged by member. Each member keeps its own options (sampling,
seed, repeat penalty, grammar, logprobs), stops on its own (end of turn, stop string, `num_predict`, its
caller leaving) and reports its own counts and its share of the call's GPU time: every step's seconds are
split among the rows still decoding in it.

The decode loop runs in a thread and hands token ids to the consumer (the GPU generator), which turns
them into text, applies stop strings and tool syntax, and tells the loop which rows are done. A row that
finishes is no longer fed or read (the eager step also drops its KV cache rows).

How the model runs (prefill, one step per token) is the `Forward` chosen at start-up: gpu/steps.py's
eager step on CPUs, gpu/graphs.py's static cache and CUDA graph on GPUs.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import RepetitionPenaltyLogitsProcessor

from ..settings import GpuSettings
from .constrained import compiler_for, logits_processor
from .generation import HEARTBEAT_SECONDS, Failed, Finished, Heartbeat, Job, Tagged, TextDelta, ToolCalls
from .graphs import GraphForward
from .runtime import LoadedModel
from .steps import EagerForward, Forward
from .textstream import OutputFilter

# ---- what the loop thread hands the consumer -------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    member: int
    token: int
    scores: torch.Tensor | None  # the step's log-probabilities, for members that asked for logprobs


@dataclass(frozen=True)
class _RowEnded:
    member: int
    timed_out: bool
    seconds: float  # this row's share of the steps it took part in
    step: str  # what ran the steps (Steps.kind) and the seconds captured for them
    capture_seconds: float


@dataclass(frozen=True)
class _RowFailed:
    member: int
    error: Exception


_DONE = object()


# ---- the decode loop ---------------------------------------------------------------------------------


@dataclass
class _Row:
    member: int
    job: Job
    ids: list[int]  # prompt and generated tokens (the repeat penalty and the grammar read them)
    generator: torch.Generator
    grammar: Any = None
    penalty: Any = None
    new_tokens: int = 0
    seconds: float = 0.0


def _sampler_tensors(rows: list[_Row], device: Any) -> tuple[torch.Tensor, ...]:
    options = [r.job.options for r in rows]
    return (
        torch.tensor([o.temperature for o in options], device=device),
        torch.tensor([max(o.top_k, 0) for o in options], device=device),
        torch.tensor([o.top_p if 0 < o.top_p < 1 else 1.0 for o in options], device=device),
        torch.tensor([o.min_p for o in options], device=device),
    )


def warp(
    scores: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, min_p: torch.Tensor
) -> torch.Tensor:
    """Probabilities to sample from, per row: temperature, then top-k, top-p and min-p, as generate() orders
    them. A row's 0 top_k, 1.0 top_p or 0 min_p leaves that filter off for it."""
    scores = scores / temperature[:, None]
    vocabulary = scores.shape[-1]
    if bool((top_k > 0).any()):
        k = torch.where(top_k > 0, top_k, vocabulary).clamp(max=vocabulary)
        kth = scores.sort(dim=-1, descending=True).values.gather(1, (k - 1)[:, None])
        scores = scores.masked_fill(scores < kth, -torch.inf)
    if bool((top_p < 1).any()):
        ordered, order = scores.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        outside = (probs.cumsum(dim=-1) - probs) > top_p[:, None]  # the most likely token always stays
        scores = scores.masked_fill(outside.scatter(1, order, outside), -torch.inf)
    probs = scores.softmax(dim=-1)
    if bool((min_p > 0).any()):
        floor = min_p[:, None] * probs.max(dim=-1, keepdim=True).values
        probs = probs.masked_fill(probs < floor, 0.0)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


class DecodeLoop:
    """Prefills the rows together (left-padded) and decodes until every row is done; runs in a thread."""

    def __init__(
        self,
        loaded: LoadedModel,
        rows: list[_Row],
        eos: set[int],
        deadline: float,
        stopped: Callable[[int], bool],
        out: queue.Queue,
        forward: Forward,
    ) -> None:
        self.loaded = loaded
        self.device = loaded.model.device
        self.rows = rows
        self.eos = eos
        self.deadline = deadline
        self.stopped = stopped
        self.out = out
        self.forward = forward
        self.pad = min(eos) if eos else 0

    def run(self) -> None:
        try:
            with torch.inference_mode():
                self._decode()
        except Exception as error:  # noqa: BLE001 - raised again by the consumer
            self.out.put(error)
        self.out.put(_DONE)

    def _decode(self) -> None:
        active = list(range(len(self.rows)))
        longest = max(len(r.ids) for r in self.rows)
        capacity = max(len(r.ids) + r.job.options.max_new_tokens for r in self.rows)
        started = time.monotonic()  # a graph captured now is part of the first step, shared by every row
        steps = self.forward.open(self.loaded, len(self.rows), capacity)
        logits = steps.prefill(*self._prompts(longest))
        while True:
            rows = [self.rows[i] for i in active]
            tokens = self._pick(rows, logits)
            keep = [
                i
                for i, row, token in zip(active, rows, tokens, strict=True)
                if token is not None and not self._ends(row, token)
            ]
            now = time.monotonic()
            for row in rows:
                row.seconds += (now - started) / len(rows)
            timed_out = now >= self.deadline
            for i, row, token in zip(active, rows, tokens, strict=True):
                if token is not None and (i not in keep or timed_out):
                    cut = timed_out and i in keep
                    self.out.put(_RowEnded(row.member, cut, row.seconds, steps.kind, steps.capture_seconds))
            if timed_out or not keep:
                return
            started = now
            fed = [token for i, token in zip(active, tokens, strict=True) if i in keep]
            active = keep
            logits = steps.step(fed, active)

    def _prompts(self, longest: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows' prompts, left-padded to `longest`, and their attention mask (0 on the padding)."""
        ids = torch.full((len(self.rows), longest), self.pad, dtype=torch.long, device=self.device)
        mask = torch.zeros((len(self.rows), longest), dtype=torch.long, device=self.device)
        for i, row in enumerate(self.rows):
            ids[i, longest - len(row.ids) :] = torch.tensor(row.ids, device=self.device)
            mask[i, longest - len(row.ids) :] = 1
        return ids, mask

    def _ends(self, row: _Row, token: int) -> bool:
        row.ids.append(token)
        row.new_tokens += 1
        options = row.job.options
        return token in self.eos or row.new_tokens >= options.max_new_tokens or self.stopped(row.member)

    def _pick(self, rows: list[_Row], logits: torch.Tensor) -> list[int | None]:
        """Each row's next token (None for a row whose processing failed: it is reported and dropped)."""
        scores = logits.float()
        failed: set[int] = set()
        for i, row in enumerate(rows):
            try:
                scores[i : i + 1] = self._process(row, scores[i : i + 1])
            except Exception as error:  # noqa: BLE001 - one member's failure, the others go on
                failed.add(i)
                self.out.put(_RowFailed(row.member, error))
        picked = scores.argmax(dim=-1)
        sampled = [i for i, r in enumerate(rows) if r.job.options.temperature > 0 and i not in failed]
        if sampled:
            probs = warp(scores[sampled], *_sampler_tensors([rows[i] for i in sampled], self.device))
            for j, i in enumerate(sampled):
                picked[i] = torch.multinomial(probs[j], 1, generator=rows[i].generator)[0]
        tokens: list[int | None] = [None if i in failed else t for i, t in enumerate(picked.tolist())]
        for i, row in enumerate(rows):
            if tokens[i] is not None:
                wanted = scores[i].log_softmax(dim=-1) if row.job.logprobs else None
                self.out.put(_Token(row.member, tokens[i], wanted))
        return tokens

    @staticmethod
    def _process(row: _Row, scores: torch.Tensor) -> torch.Tensor:
        """The repeat penalty, then the grammar: what logprobs report and what the sampler draws from."""
        if row.penalty is None and row.grammar is None:
            return scores
        seen = torch.tensor([row.ids], device=scores.device)
        if row.penalty is not None:
            scores = row.penalty(seen, scores)
        if row.grammar is not None:
            scores = row.grammar(seen, scores)
        return scores


# ---- the consumer: tokens to what each caller sees ---------------------------------------------------


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


@dataclass
class _Member:
    """One caller's reply as it forms: text, stop strings and tool syntax applied, counts kept."""

    job: Job
    tokenizer: Any
    eos: set[int]
    started: float
    output: OutputFilter = field(init=False)
    decoder: IncrementalDecoder = field(init=False)
    generated: list[int] = field(default_factory=list)
    first_token_at: float | None = None
    done_reason: str = "length"
    stopped: bool = False  # a stop string was found: the loop drops this row at its next step

    def __post_init__(self) -> None:
        assert self.job.options is not None
        self.output = OutputFilter(self.job.options.stop, self.job.tool_syntax)
        self.decoder = IncrementalDecoder(self.tokenizer)

    def token(self, token: int, scores: torch.Tensor | None) -> list[TextDelta | ToolCalls]:
        if self.stopped:
            return []  # generated after a stop string, before the loop dropped the row
        self.first_token_at = self.first_token_at or time.monotonic()
        self.generated.append(token)
        scored = (self._logprobs(token, scores),) if scores is not None else ()
        if token in self.eos:
            self.done_reason = "stop"
            return []
        piece = self.output.feed(self.decoder.push(token))
        if piece.stopped:
            self.done_reason, self.stopped = "stop", True
        return list(_piece_events(piece, scored))

    def finish(self, ended: _RowEnded) -> list[TextDelta | ToolCalls | Finished]:
        events: list[TextDelta | ToolCalls | Finished] = list(_piece_events(self.output.finish()))
        finished_at = time.monotonic()
        first = self.first_token_at or finished_at
        events.append(
            Finished(
                done_reason="length" if ended.timed_out else self.done_reason,
                prompt_eval_count=len(self.job.prompt_ids),
                prompt_eval_duration=int((first - self.started) * 1e9),
                eval_count=len(self.generated),
                eval_duration=int((finished_at - first) * 1e9),
                gpu_seconds=ended.seconds,
                output_ids=tuple(self.generated),
                decode_step=ended.step,
                capture_seconds=ended.capture_seconds,
            )
        )
        return events

    def _logprobs(self, token: int, row: torch.Tensor) -> dict[str, Any]:
        entry = self._entry(token, float(row[token]))
        if self.job.top_logprobs > 0:
            values, ids = row.topk(self.job.top_logprobs)
            entry["top_logprobs"] = [self._entry(i, v) for i, v in zip(ids.tolist(), values.tolist(), strict=True)]
        return entry

    def _entry(self, token: int, logprob: float) -> dict[str, Any]:
        text = self.tokenizer.decode([token])
        return {"token": text, "logprob": logprob, "bytes": list(text.encode())}


def _piece_events(piece: Any, logprobs: tuple[dict[str, Any], ...] = ()) -> Iterator[TextDelta | ToolCalls]:
    if piece.text or logprobs:
        yield TextDelta(piece.text, logprobs)
    if piece.tool_calls:
        yield ToolCalls(piece.tool_calls)


def eos_ids(model: Any, tokenizer: Any) -> set[int]:
    configured = model.generation_config.eos_token_id
    # A copy: appending to the generation config's own list would grow it by one id per request.
    ids = list(configured) if isinstance(configured, list) else [configured] if configured is not None else []
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return set(ids)


class LoopEngine:
    """The hand-written batched decode loop over `forward` (see the module docstring)."""

    def __init__(self, forward: Forward | None = None) -> None:
        self.forward = forward or EagerForward()

    def stream(
        self, jobs: Sequence[Job], loaded: LoadedModel, deadline: float, departed: Callable[[int], bool]
    ) -> Iterator[Tagged | Heartbeat]:
        eos = eos_ids(loaded.model, loaded.tokenizer)
        started = time.monotonic()
        members = {i: _Member(job, loaded.tokenizer, eos, started) for i, job in enumerate(jobs)}
        rows = []
        for i, job in enumerate(jobs):
            try:
                rows.append(self._row(i, job, loaded))
            except Exception as error:  # noqa: BLE001 - this member fails alone
                members.pop(i)
                yield Tagged(i, _failure(error))
        if not rows:
            return
        out: queue.Queue = queue.Queue()

        def stopped(member: int) -> bool:
            return members[member].stopped or departed(member)

        loop = DecodeLoop(loaded, rows, eos, deadline, stopped, out, self.forward)
        thread = threading.Thread(target=loop.run, name="decode", daemon=True)
        thread.start()
        try:
            yield from self._consume(out, members)
        finally:
            for member in members.values():
                member.stopped = True  # the consumer left (GeneratorExit): every row ends at the next step
            thread.join()

    @staticmethod
    def _consume(out: queue.Queue, members: dict[int, _Member]) -> Iterator[Tagged | Heartbeat]:
        last_yield = time.monotonic()
        while True:
            try:
                item = out.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:  # prefill or a slow step: let a departed consumer stop us
                last_yield = time.monotonic()
                yield Heartbeat()
                continue
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            member = members[item.member]
            if isinstance(item, _Token):
                events = member.token(item.token, item.scores)
            elif isinstance(item, _RowEnded):
                events = member.finish(item)
            else:
                member.stopped = True
                events = [_failure(item.error)]
            if not events and time.monotonic() - last_yield >= HEARTBEAT_SECONDS:
                events = [Heartbeat()]  # output held back (a tool call, a possible stop string)
            for event in events:
                last_yield = time.monotonic()
                yield event if isinstance(event, Heartbeat) else Tagged(item.member, event)

    @staticmethod
    def _row(member: int, job: Job, loaded: LoadedModel) -> _Row:
        options = job.options
        assert options is not None
        generator = torch.Generator(device=loaded.model.device)
        if options.seed >= 0:
            generator.manual_seed(options.seed)
        else:
            generator.seed()
        row = _Row(member, job, list(job.prompt_ids), generator)
        if options.repeat_penalty != 1.0:
            row.penalty = RepetitionPenaltyLogitsProcessor(options.repeat_penalty)
        if job.format is not None or job.force_tool_call:
            if loaded.grammar_compiler is None:
                loaded.grammar_compiler = compiler_for(loaded.tokenizer, loaded.model.config.vocab_size)
            forced = list(job.tools) if job.force_tool_call else None
            row.grammar = logits_processor(loaded.grammar_compiler, job.format, forced, job.tool_syntax)
        return row


def _failure(error: Exception) -> Failed:
    return Failed(500, f"{type(error).__name__}: {error}")


def engine_for(settings: GpuSettings) -> LoopEngine:
    """The engine chosen at start-up: CUDA graphs over a static cache where the model sits on a GPU (each
    call falls back to the eager step where graphs cannot serve it), the eager step everywhere else."""
    if not settings.cuda_graphs:
        return LoopEngine(EagerForward())
    return LoopEngine(GraphForward(max_cache_bytes=int(settings.static_cache_gb * 1e9)))
