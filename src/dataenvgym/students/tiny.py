"""The built-in student: a small character-level causal transformer trained from scratch on CPU.

It is deliberately plain (pre-LayerNorm GPT blocks, learned positions, tied embeddings) so
that a whole episode trains in seconds on two cores. The loss covers the response only, and
decoding is greedy. ``reverse_response`` makes the model write the response back to front,
which lets it produce the least significant digit first, as carries flow - a known trick that
turns multi-digit arithmetic from unlearnable into learnable at this size.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from pydantic import BaseModel, Field
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel

from dataenvgym.types import TaskInstance, TrainingDatum, TrainStats

PAD, BOS, SEP, EOS = 0, 1, 2, 3
_FIRST_CHAR = 4
# Printable ASCII: enough for every built-in text domain; other characters map to "?".
_CHARS = [chr(c) for c in range(32, 127)]
_CHAR_TO_ID = {c: i + _FIRST_CHAR for i, c in enumerate(_CHARS)}
VOCAB_SIZE = _FIRST_CHAR + len(_CHARS)

ProgressCallback = Callable[[int, float], None]


class TinyStudentConfig(BaseModel):
    """Size and optimisation of the built-in student.

    The defaults are the measured sweet spot on a 2-core CPU for the arithmetic domain: big
    enough to master no-carry addition, small enough that an episode takes about a minute.
    """

    d_model: int = Field(default=128, description="Embedding width.")
    n_layer: int = Field(default=3, description="Transformer blocks.")
    n_head: int = Field(default=4, description="Attention heads per block.")
    max_len: int = Field(default=48, description="Longest prompt + response, in characters.")
    max_new_tokens: int = Field(default=8, description="Longest response generated.")
    dropout: float = 0.0
    lr: float = Field(default=1e-3, description="Peak AdamW learning rate of each fit().")
    pretrain_lr: float = Field(default=2e-3, description="Peak learning rate of pretraining.")
    warmup_fraction: float = Field(
        default=0.1, description="Share of each fit() spent warming the learning rate up."
    )
    weight_decay: float = 0.01
    average_last: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of each fit()'s last steps whose weights are averaged into the "
        "weights it ends with; 0 ends at the last step's weights.",
    )
    batch_size: int = 64
    length_groups: int = Field(
        default=1,
        ge=1,
        description="Pieces each training batch is cut into by length, each padded only to "
        "its own longest example; the gradient is the whole batch's (up to rounding). Pays "
        "where lengths vary (code, tool use: 1.3-1.5x faster steps in 3 pieces), not where "
        "they do not (arithmetic: smaller pieces only cost).",
    )
    reverse_response: bool = Field(
        default=True, description="Train and decode the response back to front."
    )
    eval_batch_size: int = 1024
    seed: int = 0


def encode(text: str) -> list[int]:
    """Characters -> token ids (unknown characters become '?')."""
    unknown = _CHAR_TO_ID["?"]
    return [_CHAR_TO_ID.get(ch, unknown) for ch in text]


def decode(ids: Sequence[int]) -> str:
    """Token ids -> characters, stopping at EOS and skipping special tokens."""
    out: list[str] = []
    for i in ids:
        if i == EOS:
            break
        if i >= _FIRST_CHAR:
            out.append(_CHARS[i - _FIRST_CHAR])
    return "".join(out)


class _Block(nn.Module):
    def __init__(self, cfg: TinyStudentConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )
        self.n_head = cfg.n_head
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, cache: _LayerCache | None = None) -> torch.Tensor:
        """One block; ``cache`` (decoding only) holds this block's keys and values so far.

        With a cache, ``x`` holds only the new positions: they attend to every cached
        position and causally among themselves.
        """
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        causal = True
        if cache is not None:
            first = cache.owner.length == 0
            k, v = cache.extend(k, v)
            causal = first or t > 1  # one new position may see all keys; more need a mask
        drop = self.dropout if self.training else 0.0
        if causal and k.shape[2] != t:
            mask = torch.ones(t, k.shape[2], dtype=torch.bool).tril(k.shape[2] - t)
            attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        else:
            attn = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=drop)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x))


class DecodeCache:
    """Keys and values of the positions decoded so far, for every block of a :class:`TinyGPT`.

    Each block writes into a buffer sized for the longest sequence the rows will reach, so
    a decoding step copies only its new position (growing the keys by concatenation copied
    them all, every step: a third of the decoding time). :meth:`keep` drops the rows that
    are done.

    Args:
        model: The model being decoded.
        batch: Rows decoded together.
        length: Most positions the rows will hold (the model's ``max_len`` if not given).
    """

    def __init__(self, model: TinyGPT, batch: int, length: int | None = None) -> None:
        cfg = model.cfg
        length = cfg.max_len if length is None else min(length, cfg.max_len)
        shape = (batch, cfg.n_head, length, cfg.d_model // cfg.n_head)
        dtype = model.tok.weight.dtype
        self.length = 0
        self.layers = [_LayerCache(self, shape, dtype) for _ in range(cfg.n_layer)]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (indices into the current batch), in that order."""
        for layer in self.layers:
            layer.keys = _rows_of(layer.keys, rows, self.length)
            layer.values = _rows_of(layer.values, rows, self.length)


def _rows_of(buffer: torch.Tensor, rows: torch.Tensor, length: int) -> torch.Tensor:
    """A new buffer holding ``rows`` of ``buffer``; only the first ``length`` positions count."""
    out = buffer.new_empty((len(rows), *buffer.shape[1:]))
    out[:, :, :length] = buffer[:, :, :length].index_select(0, rows)
    return out


class _LayerCache:
    def __init__(self, owner: DecodeCache, shape: tuple[int, ...], dtype: torch.dtype) -> None:
        self.owner = owner
        self.keys = torch.empty(shape, dtype=dtype)
        self.values = torch.empty(shape, dtype=dtype)

    def extend(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new positions' keys and values; return all positions' so far."""
        start, end = self.owner.length, self.owner.length + k.shape[2]
        self.keys[:, :, start:end] = k
        self.values[:, :, start:end] = v
        return self.keys[:, :, :end], self.values[:, :, :end]


class TinyGPT(nn.Module):
    """A character-level GPT: token + position embeddings, causal blocks, tied output head."""

    def __init__(self, cfg: TinyStudentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(VOCAB_SIZE, cfg.d_model)
        self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor, cache: DecodeCache | None = None) -> torch.Tensor:
        """Logits for ``ids``; with a ``cache`` (filled in place), ``ids`` continue the
        cached positions, so greedy decoding costs one position a step.
        """
        start = cache.length if cache is not None else 0
        t = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(start, start + t, device=ids.device))
        for index, block in enumerate(self.blocks):
            x = block(x, cache.layers[index] if cache is not None else None)
        if cache is not None:
            cache.length += t
        return self.ln_f(x) @ self.tok.weight.T

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class TinyStudent:
    """The built-in :class:`~dataenvgym.protocols.Student`: a :class:`TinyGPT` with its loops.

    Args:
        config: Model size and optimisation settings.
        progress: Optional callback ``(steps_done, loss)`` called during :meth:`fit`.
    """

    def __init__(self, config: TinyStudentConfig | None = None) -> None:
        self.config = config or TinyStudentConfig()
        torch.manual_seed(self.config.seed)
        self.model = TinyGPT(self.config)
        self.progress: ProgressCallback | None = None

    # ------------------------------------------------------------------ encoding

    def _example(self, prompt: str, response: str) -> tuple[list[int], int]:
        if self.config.reverse_response:
            response = response[::-1]
        ids = [BOS, *encode(prompt), SEP, *encode(response), EOS]
        if len(ids) > self.config.max_len:
            raise ValueError(
                f"example of {len(ids)} tokens exceeds max_len={self.config.max_len}: "
                f"{prompt!r} -> {response!r}; raise TinyStudentConfig.max_len"
            )
        return ids, len(prompt) + 2  # index of the first response token

    def _batch(self, examples: Sequence[tuple[list[int], int]]) -> tuple[torch.Tensor, ...]:
        width = max(len(ids) for ids, _ in examples)
        inputs = torch.full((len(examples), width - 1), PAD, dtype=torch.long)
        targets = torch.full((len(examples), width - 1), -100, dtype=torch.long)
        for row, (ids, start) in enumerate(examples):
            seq = torch.tensor(ids, dtype=torch.long)
            inputs[row, : len(ids) - 1] = seq[:-1]
            # Loss on the response (and its EOS) only: the prompt is given, not learned.
            targets[row, start - 1 : len(ids) - 1] = seq[start:]
        return inputs, targets

    def _backward(self, batch: Sequence[tuple[list[int], int]]) -> float:
        """Backpropagate the mean loss over the response tokens of ``batch``; its value.

        With ``length_groups`` > 1 the batch is sorted by length and cut into that many
        pieces, each padded to its own longest example, and the pieces' summed token losses
        over the whole batch's token count are backpropagated one after another. Causal
        attention never lets a position see the padding after it, so the gradient is the
        one-piece gradient up to floating-point rounding, for fewer padded positions (a
        batch of 64 code or tool-use examples pads a fifth to a third less in two pieces).
        """
        groups = min(self.config.length_groups, len(batch))
        if groups == 1:
            inputs, targets = self._batch(batch)
            logits = self.model(inputs)
            loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1))
            loss.backward()
            return float(loss.item())
        ordered = sorted(batch, key=lambda example: len(example[0]))
        tokens = sum(len(ids) - start for ids, start in ordered)  # the positions with a loss
        size = math.ceil(len(ordered) / groups)
        total = 0.0
        for first in range(0, len(ordered), size):
            inputs, targets = self._batch(ordered[first : first + size])
            logits = self.model(inputs)
            loss = (
                F.cross_entropy(
                    logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1), reduction="sum"
                )
                / tokens
            )
            loss.backward()
            total += float(loss.item())
        return total

    # ------------------------------------------------------------------ protocol

    #: Passes over the data a trainer asks for when its config sets none: a from-scratch
    #: character model needs many; at the default episode (384 new + 192 replay, batch 64)
    #: 16 passes are 144 steps, about the 150 fixed steps it took before steps followed data.
    default_epochs = 16.0
    #: Fewest examples a trainer's call fits (the rest rehearsal, see dataenvgym.training):
    #: 16 passes over fewer pull this student towards them and away from what it knew.
    min_fit_examples = 576

    def examples_per_step(self, num_data: int) -> int:
        """Examples one step of :meth:`fit` draws: the batch size, or all data if fewer."""
        return max(1, min(self.config.batch_size, num_data))

    def fit(
        self,
        data: Sequence[TrainingDatum],
        *,
        steps: int,
        seed: int,
        lr: float | None = None,
        average_last: float | None = None,
    ) -> TrainStats:
        """Train for ``steps`` AdamW steps on batches sampled with replacement from ``data``.

        Each call warms the learning rate up and decays it linearly to a tenth: a fresh
        optimiser at full rate would knock a converged student off its minimum. ``lr`` and
        ``average_last`` override the config's for this call (pretraining uses its own).
        """
        started = time.perf_counter()
        if steps <= 0 or not data:
            return TrainStats(steps=0, examples_seen=0, final_loss=float("nan"), seconds=0.0)
        examples = [self._example(d.prompt, d.response) for d in data]
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=lr or self.config.lr, weight_decay=self.config.weight_decay
        )
        warmup = max(1, int(steps * self.config.warmup_fraction))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 1.0 - 0.9 * (step - warmup) / max(1, steps - warmup)

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        # Averaging the weights of the last steps (Polyak / tail averaging): over 60 fits of
        # one step's data it raised the mean test score by under a point and left the spread
        # over training seeds unchanged (bench/fit_noise.py), so it is off by default.
        tail = self.config.average_last if average_last is None else average_last
        average_from = steps - max(1, round(tail * steps))
        # The equal-weight running mean of the weights after each step from average_from on.
        averaged = AveragedModel(self.model) if tail > 0 else None
        self.model.train()
        batch_size = min(self.config.batch_size, max(len(examples), 1))
        smoothed = math.nan
        for step in range(steps):
            rows = torch.randint(len(examples), (batch_size,), generator=generator).tolist()
            optimizer.zero_grad(set_to_none=True)
            value = self._backward([examples[r] for r in rows])
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            if averaged is not None and step >= average_from:
                averaged.update_parameters(self.model)
            smoothed = value if math.isnan(smoothed) else 0.9 * smoothed + 0.1 * value
            if self.progress is not None:
                self.progress(step + 1, smoothed)
        if averaged is not None:
            with torch.no_grad():
                for param, mean in zip(
                    self.model.parameters(), averaged.module.parameters(), strict=True
                ):
                    param.copy_(mean)
        self.model.eval()
        return TrainStats(
            steps=steps,
            examples_seen=steps * batch_size,
            final_loss=smoothed,
            seconds=time.perf_counter() - started,
        )

    @torch.no_grad()
    def predict(self, instances: Sequence[TaskInstance]) -> list[str]:
        """Greedy answers; prompts of equal length are decoded together, so no padding leaks."""
        return self.predict_prompts([inst.prompt for inst in instances])

    @torch.no_grad()
    def predict_prompts(self, prompts: Sequence[str]) -> list[str]:
        """Greedy answers for raw prompt strings."""
        self.model.eval()
        answers: list[str] = [""] * len(prompts)
        by_length: dict[int, list[int]] = defaultdict(list)
        for index, prompt in enumerate(prompts):
            by_length[len(prompt)].append(index)
        for length, indices in by_length.items():
            room = self.config.max_len - (length + 2)
            max_new = max(0, min(self.config.max_new_tokens, room))
            for start in range(0, len(indices), self.config.eval_batch_size):
                chunk = indices[start : start + self.config.eval_batch_size]
                ids = torch.tensor([[BOS, *encode(prompts[i]), SEP] for i in chunk])
                for text, index in zip(self._greedy(ids, max_new), chunk, strict=True):
                    answers[index] = text
        return answers

    def _greedy(self, ids: torch.Tensor, max_new: int) -> list[str]:
        rows = ids.shape[0]
        written = torch.full((rows, max_new), EOS, dtype=ids.dtype)
        # Rows still in the batch, as indices into ``ids``. Finished rows leave it once an
        # eighth of it is done, so each step costs about what the unfinished answers need
        # (answer lengths differ up to 3x in code); until then a finished row writes past its
        # EOS, which decoding ignores. Near the end, copying the cache would cost more than
        # the remaining steps save, so the batch stays as it is.
        active = torch.arange(rows)
        finished = torch.zeros(rows, dtype=torch.bool)
        cache = DecodeCache(self.model, rows, ids.shape[1] + max_new)
        step_input = ids
        for step in range(max_new):
            next_id = self.model(step_input, cache)[:, -1, :].argmax(dim=-1)
            written[active, step] = next_id
            finished |= next_id == EOS
            done = int(finished.sum())
            if done == len(active):
                break
            if done * 8 >= len(active) and max_new - step > 8:
                keep = (~finished).nonzero().squeeze(1)
                cache.keep(keep)
                active, next_id, finished = active[keep], next_id[keep], finished[keep]
            step_input = next_id[:, None]
        texts = [decode(row.tolist()) for row in written]
        return [t[::-1] for t in texts] if self.config.reverse_response else texts

    def save(self, directory: Path) -> None:
        """Write ``config.json`` and ``model.pt`` into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text(self.config.model_dump_json(indent=2))
        torch.save(self.model.state_dict(), directory / "model.pt")

    def load(self, directory: Path) -> None:
        """Load weights written by :meth:`save` (the config must match)."""
        saved = TinyStudentConfig.model_validate(
            json.loads((directory / "config.json").read_text())
        )
        architecture = ("d_model", "n_layer", "n_head", "max_len")
        if any(getattr(saved, k) != getattr(self.config, k) for k in architecture):
            raise ValueError(
                f"checkpoint {directory} was saved with a different architecture: "
                f"{saved.model_dump(include=set(architecture))}"
            )
        self.model.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
        self.model.eval()

    def clone_weights(self) -> dict[str, torch.Tensor]:
        """A copy of the current weights (for an in-memory base checkpoint)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Load weights returned by :meth:`clone_weights`."""
        self.model.load_state_dict(weights)
        self.model.eval()
