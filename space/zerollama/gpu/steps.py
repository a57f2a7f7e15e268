"""How the decode loop runs the model: one prefill over the call's rows, then one forward step per token.

`Forward` is chosen at start-up (settings.decode) and opens one `Steps` per GPU call. `EagerForward` is
the step used on CPUs: a DynamicCache grown by concatenation, and a finished row leaves the batch (its KV
rows are dropped) so the others stop paying for it, which matters where compute, not memory bandwidth,
bounds a step. gpu/graphs.py holds the GPU step: a static KV cache and a CUDA-graph replay.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from .runtime import LoadedModel


class Steps(Protocol):
    """One GPU call's model state. Rows are numbered by their place in the prefill batch."""

    # What served the call, as each member's reply reports it (the diagnostics show the last one): "eager",
    # "cuda-graph", or "eager (static cache)" where a graph was refused; and seconds spent capturing for it.
    kind: str
    capture_seconds: float

    def prefill(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`ids`, `mask`: (rows, length), left-padded (mask 0 on padding). The last position's logits."""
        ...

    def step(self, tokens: list[int], rows: list[int]) -> torch.Tensor:
        """Feeds `tokens[i]` to row `rows[i]` (the rows still decoding, in order); their next logits."""
        ...


class Forward(Protocol):
    def open(self, loaded: LoadedModel, rows: int, capacity: int) -> Steps:
        """Steps for `rows` rows that will hold at most `capacity` tokens each (prompt and output)."""
        ...


def positions_of(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of a left-padded batch: each row counts from its first real token."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def last_logits(model: Any, **inputs: Any) -> torch.Tensor:
    out = model(**inputs, use_cache=True, logits_to_keep=1)
    return out.logits[:, -1, :]


class EagerSteps:
    kind = "eager"
    capture_seconds = 0.0

    def __init__(self, model: Any) -> None:
        self.model = model
        self.cache: Any = None
        self.rows: list[int] = []

    def prefill(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = positions_of(mask)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        self.cache, self.mask, self.positions = out.past_key_values, mask, positions[:, -1:]
        self.rows = list(range(ids.shape[0]))
        return out.logits[:, -1, :]

    def step(self, tokens: list[int], rows: list[int]) -> torch.Tensor:
        if rows != self.rows:  # rows that finished leave the cache
            index = torch.tensor([self.rows.index(r) for r in rows], device=self.mask.device)
            self.cache.batch_select_indices(index)
            self.mask, self.positions = self.mask[index], self.positions[index]
            self.rows = list(rows)
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(rows), 1))], dim=-1)
        self.positions = self.positions + 1
        ids = torch.tensor([[t] for t in tokens], device=self.mask.device)
        return last_logits(
            self.model,
            input_ids=ids,
            attention_mask=self.mask,
            position_ids=self.positions,
            past_key_values=self.cache,
        )


class EagerForward:
    """A DynamicCache and one eager forward per step, finished rows dropped (see the module docstring)."""

    def open(self, loaded: LoadedModel, rows: int, capacity: int) -> Steps:
        return EagerSteps(loaded.model)
