"""From validated requests to GPU jobs: templating, limits, the GPU time to request; results recorded.

Everything that can be checked without the GPU is checked here, so a bad request never costs quota.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from jinja2 import TemplateError

from ..gpu.constrained import validate_format
from ..gpu.generation import Event, Failed, Finished, Job
from ..gpu.runner import GpuRunner
from ..gpu.runtime import ModelDoesNotFit
from ..gpu.textstream import ToolSyntax, tool_syntax_for
from ..settings import GenerationLimits
from ..store import StoredModel
from .catalog import CatalogModel
from .costs import CostSettings, reply_cost
from .errors import ApiError, bad_request, model_not_pulled
from .gpu_budget import Durations, GpuBudget
from .options import GenerationOptions, parse_keep_alive, parse_options
from .quota import QuotaLedger
from .registry import ModelRegistry
from .schemas import ChatRequest, EmbeddingsRequest, EmbedRequest, GenerateRequest, Message

ROLES = {"system", "user", "assistant", "tool"}
ROLE_ALIASES = {"developer": "system"}  # OpenAI's developer messages reach Ollama's templates as system ones
# A prompt is refused before it is templated or tokenised when it has more characters than this many per
# token of its context: no real text averages that much, and tokenising is the slow part of a huge prompt.
MAX_CHARS_PER_TOKEN = 16
log = logging.getLogger("zerollama.service")


class Service:
    def __init__(
        self,
        registry: ModelRegistry,
        runner: GpuRunner,
        costs: CostSettings,
        ledger: QuotaLedger,
        budget: GpuBudget | None = None,
        limits: GenerationLimits | None = None,
    ) -> None:
        self.registry = registry
        self.runner = runner
        self.costs = costs
        self.ledger = ledger
        self.budget = budget or GpuBudget(on_zerogpu=False)
        self.limits = limits or GenerationLimits()

    # ---- jobs -------------------------------------------------------------------------------------

    def chat_job(self, req: ChatRequest, force_tool_call: bool = False) -> Job:
        if not req.model:
            raise bad_request("model is required")
        scoring = self._scoring(req)
        entry, stored = self.registry.find(req.model)
        keep_alive = parse_keep_alive(req.keep_alive)
        fmt = validate_format(req.format)
        self._check_think(req.think, req.model)
        tools = [t.model_dump(exclude_none=True) for t in req.tools or []]
        if tools and "tools" not in self.registry.capabilities(entry, stored):
            raise bad_request(f"registry.ollama.ai/library/{entry.display_name} does not support tools")
        messages = req.messages or []
        if any(m.images for m in messages) and not entry.supports_vision:
            raise bad_request(f'"{req.model}" does not support images: it is a text-only model')
        if not messages:
            return self._residency_job(entry, stored, keep_alive)
        options = parse_options(req.options, entry, self.limits)
        rendered = [self._message(m) for m in messages]
        self._check_length(entry, options, [m["content"] for m in rendered], tools)
        tokenizer = self.registry.runtime.tokenizer(stored.path)
        prompt = self._render(entry, tokenizer, rendered, tools)
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        syntax = tool_syntax_for(str(tokenizer.chat_template or "")) if tools else None
        return self._generation_job(
            entry, stored, ids, options, keep_alive, fmt, tools, syntax, force_tool_call, scoring
        )

    def generate_job(self, req: GenerateRequest) -> Job:
        if not req.model:
            raise ApiError(404, "model '' not found")
        scoring = self._scoring(req)
        entry, stored = self.registry.find(req.model)
        keep_alive = parse_keep_alive(req.keep_alive)
        fmt = validate_format(req.format)
        self._check_think(req.think, req.model)
        if req.raw and (req.template or req.system or req.context):
            raise bad_request("raw mode does not support template, system, or context")
        if req.template:
            raise bad_request("template overrides are not supported: this server uses each model's chat template")
        if req.suffix:
            raise bad_request(f'"{req.model}" does not support insert')
        if req.images and not entry.supports_vision:
            raise bad_request(f'"{req.model}" does not support images: it is a text-only model')
        if not req.prompt:
            return self._residency_job(entry, stored, keep_alive)
        options = parse_options(req.options, entry, self.limits)
        self._check_length(entry, options, [req.prompt, req.system or ""], [])
        tokenizer = self.registry.runtime.tokenizer(stored.path)
        self._check_context(entry, tokenizer, req.context or [])
        if req.raw:
            ids = tokenizer(req.prompt, add_special_tokens=False)["input_ids"]
        else:
            messages = ([{"role": "system", "content": req.system}] if req.system else []) + [
                {"role": "user", "content": req.prompt}
            ]
            prompt = self._render(entry, tokenizer, messages, [])
            ids = list(req.context or []) + tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return self._generation_job(entry, stored, ids, options, keep_alive, fmt, [], None, False, scoring)

    def embed_job(self, req: EmbedRequest | EmbeddingsRequest, legacy: bool) -> Job | None:
        """The job; None for empty input."""
        if not req.model:
            raise model_not_pulled("")
        entry, stored = self.registry.find(req.model, not_found=model_not_pulled)
        keep_alive = parse_keep_alive(req.keep_alive)
        options = parse_options(req.options, entry, self.limits)
        if legacy:
            texts = [req.prompt] if req.prompt else []
            truncate, dimensions = True, None
        else:
            texts = [req.input] if isinstance(req.input, str) else list(req.input or [])
            truncate, dimensions = req.truncate is not False, req.dimensions
            if dimensions is not None and dimensions < 1:
                raise bad_request("dimensions must be positive")
        if not texts:
            return None
        tokenizer = self.registry.runtime.tokenizer(stored.path)
        inputs = []
        longest = options.num_ctx * MAX_CHARS_PER_TOKEN
        for text in texts:
            if len(text) > longest and not truncate:
                raise bad_request("the input length exceeds the context length")
            # Truncation keeps the start: what lies past `longest` characters is past the context anyway.
            ids = tokenizer(text[:longest], add_special_tokens=True)["input_ids"] or [tokenizer.eos_token_id]
            if len(ids) > options.num_ctx:
                if not truncate:
                    raise bad_request("the input length exceeds the context length")
                ids = ids[: options.num_ctx]
            inputs.append(tuple(ids))
        tokens = sum(len(i) for i in inputs)
        durations = self._duration(entry, stored, tokens, 0)
        job = self._job(
            "embed",
            entry,
            stored,
            keep_alive,
            embed_inputs=tuple(inputs),
            normalize=not legacy,
            dimensions=dimensions,
            requested_seconds=durations.requested_seconds,
            granted_seconds=durations.granted_seconds,
        )
        return job

    # ---- running ----------------------------------------------------------------------------------

    async def run(self, job: Job, request: Any | None, watch_disconnect: bool = False) -> AsyncIterator[Event]:
        """Runs `job` for `request` (its caller is billed); the API routes also stop it if the client leaves."""
        async for event in self.runner.events(job, request, watch_disconnect):
            if isinstance(event, Finished):
                self._record(job, event, request.headers if request is not None else {})
            if isinstance(event, Failed) and event.status == 500:
                event = self._internal_failure(job, event, request)
            yield event

    @staticmethod
    def _internal_failure(job: Job, failed: Failed, request: Any | None) -> Failed:
        """An unexpected failure of the GPU work: its detail goes to the log, the caller gets no exception text."""
        route = getattr(getattr(request, "url", None), "path", "the page")
        log.error("GPU job %s on %s failed (route %s): %s", job.op, job.entry.name, route, failed.message)
        return Failed(500, "internal error: the GPU work failed (details are in the server log)")

    def _record(self, job: Job, finished: Finished, headers: Mapping[str, str]) -> None:
        self.registry.record(job.entry, finished)
        self.ledger.record(headers, reply_cost(finished.gpu_seconds, self.costs).quota_seconds)

    # ---- helpers ----------------------------------------------------------------------------------

    def _generation_job(
        self,
        entry: CatalogModel,
        stored: StoredModel,
        ids: list[int],
        options: GenerationOptions,
        keep_alive: float | None,
        fmt: str | dict | None,
        tools: list[dict],
        tool_syntax: ToolSyntax | None,
        force_tool_call: bool,
        scoring: tuple[bool, int],
    ) -> Job:
        # Like Ollama (truncate: true), keep the end of an over-long prompt, leaving room to answer.
        room = max(1, min(options.max_new_tokens, options.num_ctx // 4))
        if len(ids) > options.num_ctx - room:
            ids = ids[-(options.num_ctx - room) :]
        max_new = max(1, min(options.max_new_tokens, options.num_ctx - len(ids)))
        options = GenerationOptions(**{**options.__dict__, "max_new_tokens": max_new})
        durations = self._duration(entry, stored, len(ids), max_new)
        return self._job(
            "generate",
            entry,
            stored,
            keep_alive,
            prompt_ids=tuple(ids),
            options=options,
            format=fmt,
            tools=tuple(tools),
            tool_syntax=tool_syntax,
            force_tool_call=force_tool_call and bool(tools),
            logprobs=scoring[0],
            top_logprobs=scoring[1],
            requested_seconds=durations.requested_seconds,
            granted_seconds=durations.granted_seconds,
        )

    def _residency_job(self, entry: CatalogModel, stored: StoredModel, keep_alive: float | None) -> Job:
        op = "unload" if keep_alive == 0 else "load"
        durations = self._duration(entry, stored, 0, 0)
        return self._job(
            op,
            entry,
            stored,
            keep_alive,
            requested_seconds=durations.requested_seconds,
            granted_seconds=durations.granted_seconds,
        )

    def _job(self, op: str, entry: CatalogModel, stored: StoredModel, keep_alive: float | None, **work: Any) -> Job:
        """A job on `entry`'s stored weights; the catalog's default models stay resident unless a request
        says otherwise (pinned)."""
        return Job(
            op=op,
            entry=entry,
            path=stored.path,
            pinned=self.registry.catalog.is_default(entry),
            keep_alive=keep_alive,
            **work,
        )

    def _duration(self, entry: CatalogModel, stored: StoredModel, prompt_tokens: int, new_tokens: int) -> Durations:
        """GPU seconds to request (ZeroGPU checks quota against them) and to expect granted. Refuses (503),
        before any GPU work, a model that can never fit beside the packed ones."""
        try:
            self.registry.runtime.check_fits(entry.name, stored.size)
        except ModelDoesNotFit as error:
            raise ApiError(503, str(error)) from None
        load_bytes = 0 if self.registry.surely_resident(entry) else entry.bf16_bytes
        work = prompt_tokens / self.registry.prefill_rate(entry) + new_tokens / self.registry.decode_rate(entry)
        return self.budget.durations(self.registry.runtime.packed_bytes(), load_bytes, work)

    @staticmethod
    def _check_length(entry: CatalogModel, options: GenerationOptions, texts: list[str], tools: list[dict]) -> None:
        """Refuses (400), before any templating or tokenising, a prompt far longer than the context can hold."""
        size = sum(len(t) for t in texts) + (len(str(tools)) if tools else 0)
        if size > options.num_ctx * MAX_CHARS_PER_TOKEN:
            raise bad_request(
                f"the prompt is too long for the context of {entry.name}: {size} characters, at most "
                f"{options.num_ctx * MAX_CHARS_PER_TOKEN} for num_ctx {options.num_ctx}"
            )

    @staticmethod
    def _check_context(entry: CatalogModel, tokenizer: Any, context: list[int]) -> None:
        """`context` ids from an earlier reply must be token ids of this model's vocabulary."""
        vocabulary = len(tokenizer)
        if any(not 0 <= token < vocabulary for token in context):
            raise bad_request(f"context holds token ids outside the vocabulary of {entry.name} (0 to {vocabulary - 1})")

    @staticmethod
    def _render(entry: CatalogModel, tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict]) -> str:
        """The prompt from the model's chat template. Templates without a system role (Gemma 2's) get the
        system text in front of the first user message instead, as people do by hand for those models."""

        def apply(conversation: list[dict[str, Any]]) -> str:
            return tokenizer.apply_chat_template(
                conversation, tools=tools or None, add_generation_prompt=True, tokenize=False
            )

        try:
            return apply(messages)
        except TemplateError as error:
            system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
            rest = [dict(m) for m in messages if m["role"] != "system"]
            users = [m for m in rest if m["role"] == "user"]
            if not system or not users:
                raise bad_request(f"the chat template of {entry.name} rejected these messages: {error}") from None
            users[0]["content"] = f"{system}\n\n{users[0]['content']}"
        try:
            return apply(rest)
        except TemplateError as error:
            raise bad_request(f"the chat template of {entry.name} rejected these messages: {error}") from None

    @staticmethod
    def _scoring(req: ChatRequest | GenerateRequest) -> tuple[bool, int]:
        """(logprobs, top_logprobs) as Ollama reads them: alternatives only count with logprobs on."""
        top = req.top_logprobs or 0
        if not 0 <= top <= 20:
            raise bad_request("top_logprobs must be between 0 and 20")
        return bool(req.logprobs), top if req.logprobs else 0

    @staticmethod
    def _check_think(think: bool | str | None, name: str) -> None:
        if think is None or think is False:
            return
        if isinstance(think, str) and think not in {"low", "medium", "high", "max"}:
            raise bad_request(f"invalid think value: {think!r}")
        raise bad_request(f'"{name}" does not support thinking')

    @staticmethod
    def _message(message: Message) -> dict[str, Any]:
        role = message.role.lower()
        role = ROLE_ALIASES.get(role, role)
        if role not in ROLES:
            raise bad_request(f"invalid role {message.role!r}: use system, user, assistant or tool")
        rendered: dict[str, Any] = {"role": role, "content": message.content or ""}
        if message.tool_calls:
            calls = []
            for call in message.tool_calls:
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                    raise bad_request("tool_calls[].function.name must be a string")
                calls.append(
                    {
                        "type": "function",
                        "function": {"name": function["name"], "arguments": function.get("arguments") or {}},
                    }
                )
            rendered["tool_calls"] = calls
        if message.tool_name:
            rendered["name"] = message.tool_name
        return rendered
