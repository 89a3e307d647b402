"""The built-in VQA student: a small CNN image encoder, a GRU question encoder, an answer head.

It answers by classifying over a fixed answer vocabulary, as VQA models usually do. The
question conditions the image features through FiLM (a per-channel scale and shift, as in
FiLM for CLEVR), and coordinate channels give the convolutions a sense of where things are,
which spatial questions need. Sized to train on two CPU cores in minutes: a 64×64 image
goes through four 3×3 convolutions, the first two with stride 2.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field
from torch import nn
from torch.nn import functional as F

from dataenvgym.domains.vqa.images import image_key, load_image, split_prompt
from dataenvgym.domains.vqa.questions import ANSWERS, RELATIONS, normalize_text
from dataenvgym.domains.vqa.scene import COLORS, SHAPES, SIZES
from dataenvgym.types import TaskInstance, TrainingDatum, TrainStats

ProgressCallback = Callable[[int, float], None]
PAD, UNK = 0, 1

_GRAMMAR_WORDS = (
    "what color shape is the how many are there a an left right of above below larger "
    "smaller than more do and have same"
)
# easy-vqa phrases its questions with a few more words; knowing them costs nothing.
_EASY_VQA_WORDS = "does image contain in not present"
WORDS: tuple[str, ...] = tuple(
    sorted(
        {
            *_GRAMMAR_WORDS.split(),
            *_EASY_VQA_WORDS.split(),
            *COLORS,
            *SHAPES,
            *SIZES,
            *(f"{s}s" for s in (*SHAPES, "shape")),
            *(w for r in RELATIONS for w in r.split()),
        }
    )
)


class VQAStudentConfig(BaseModel):
    """Size and optimisation of the built-in VQA student."""

    image_size: int = Field(default=64, description="Images are resized to this square.")
    channels: tuple[int, int, int, int] = Field(
        default=(24, 32, 48, 64), description="Output channels of the four convolutions."
    )
    word_dim: int = Field(default=64, description="Word embedding width.")
    question_dim: int = Field(default=128, description="GRU state width.")
    hidden_dim: int = Field(default=192, description="Width of the answer head.")
    answers: tuple[str, ...] = Field(default=ANSWERS, description="The answer vocabulary.")
    words: tuple[str, ...] = Field(default=WORDS, description="Question words; others are UNK.")
    max_words: int = Field(default=24, description="Longer questions are cut.")
    lr: float = Field(default=1e-3, description="Peak AdamW learning rate of each fit().")
    # Measured on the default mix: at 3e-3 the net never learns to find a shape (colour and
    # existence questions stay at chance after 3,000 steps); at 1e-3 it masters them in 2,000.
    pretrain_lr: float = Field(default=1e-3, description="Peak learning rate of pretraining.")
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    batch_size: int = 32
    eval_batch_size: int = 256
    image_cache: int = Field(default=8192, description="Decoded images kept in memory.")
    seed: int = 0


class _FiLMConv(nn.Module):
    """3×3 convolution whose output the question scales and shifts, channel by channel."""

    def __init__(self, c_in: int, c_out: int, question_dim: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(min(8, c_out), c_out, affine=False)
        self.film = nn.Linear(question_dim, 2 * c_out)

    def forward(self, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(q).chunk(2, dim=1)
        x = self.norm(self.conv(x))
        return F.relu((1 + gamma[:, :, None, None]) * x + beta[:, :, None, None])


def _coords(x: torch.Tensor) -> torch.Tensor:
    """Append two channels holding each pixel's column and row in [-1, 1]."""
    b, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, device=x.device).view(1, 1, h, 1).expand(b, 1, h, w)
    xs = torch.linspace(-1, 1, w, device=x.device).view(1, 1, 1, w).expand(b, 1, h, w)
    return torch.cat([x, xs, ys], dim=1)


class VQANet(nn.Module):
    """Image + question -> answer logits.

    Two stride-2 convolutions take 64×64 down to 16×16 (cheap enough for a CPU); the
    question conditions all but the first, and chooses where the answer head looks.
    """

    def __init__(self, cfg: VQAStudentConfig) -> None:
        super().__init__()
        c1, c2, c3, c4 = cfg.channels
        self.embed = nn.Embedding(len(cfg.words) + 2, cfg.word_dim, padding_idx=PAD)
        self.gru = nn.GRU(cfg.word_dim, cfg.question_dim, batch_first=True)
        # Normalised convolutions: without them the net sits on a long loss plateau before
        # it starts reading colours (measured: ~300 steps at ln 8 on colour questions).
        self.stem = nn.Sequential(
            nn.Conv2d(5, c1, 3, stride=2, padding=1), nn.GroupNorm(min(8, c1), c1), nn.ReLU()
        )
        # The question conditions every layer after the stem, and the last two keep a 16×16
        # map: measured on colour questions, both made the net find "the circle" sooner.
        self.film2 = _FiLMConv(c1 + 2, c2, cfg.question_dim, stride=2)
        self.film3 = _FiLMConv(c2 + 2, c3, cfg.question_dim, stride=1)
        self.film4 = _FiLMConv(c3 + 2, c4, cfg.question_dim, stride=1)
        # Question-guided attention over the 16×16 map: "the red circle" picks its cells.
        self.attend = nn.Linear(cfg.question_dim, c4 + 2)
        self.head = nn.Sequential(
            nn.Linear(3 * c4 + 2 + cfg.question_dim, cfg.hidden_dim),
            nn.ReLU(),
            nn.Linear(cfg.hidden_dim, len(cfg.answers)),
        )

    def encode_question(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(words), lengths, batch_first=True, enforce_sorted=False
        )
        _, state = self.gru(packed)
        return state[-1]

    def forward(
        self, images: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        q = self.encode_question(words, lengths)
        x = self.stem(_coords(2 * images - 1))  # 32×32
        x = self.film2(_coords(x), q)  # 16×16
        x = self.film3(_coords(x), q)
        x = _coords(self.film4(_coords(x), q))
        cells = x.flatten(2)  # (batch, channels + 2, 64)
        weights = torch.softmax(torch.einsum("bc,bcn->bn", self.attend(q), cells), dim=1)
        attended = torch.einsum("bn,bcn->bc", weights, cells)  # includes where it looked
        pooled = torch.cat([x[:, :-2].amax(dim=(2, 3)), x[:, :-2].mean(dim=(2, 3)), attended], 1)
        return self.head(torch.cat([pooled, q], dim=1))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class VQAStudent:
    """The built-in VQA :class:`~dataenvgym.protocols.Student`.

    Items carry their image in ``metadata`` (see :mod:`dataenvgym.domains.vqa.images`);
    the prompt's question follows the image tag. Answers outside the vocabulary cannot be
    learned: :meth:`fit` refuses them, naming the first.
    """

    def __init__(self, config: VQAStudentConfig | None = None) -> None:
        self.config = config or VQAStudentConfig()
        torch.manual_seed(self.config.seed)
        self.model = VQANet(self.config)
        self.model.eval()
        self.progress: ProgressCallback | None = None
        self._word_ids = {w: i + 2 for i, w in enumerate(self.config.words)}
        self._answer_ids = {a: i for i, a in enumerate(self.config.answers)}
        self._images: OrderedDict[str, torch.Tensor] = OrderedDict()

    # ------------------------------------------------------------------ encoding

    def _image(self, metadata: dict[str, Any], prompt: str) -> torch.Tensor:
        key = image_key(metadata, prompt)
        cached = self._images.get(key)
        if cached is not None:
            self._images.move_to_end(key)
            return cached
        image = load_image(metadata)
        size = self.config.image_size
        if image.size != (size, size):
            image = image.resize((size, size))
        tensor = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)
        self._images[key] = tensor
        if len(self._images) > self.config.image_cache:
            self._images.popitem(last=False)
        return tensor

    def _words(self, prompt: str) -> list[int]:
        _, question = split_prompt(prompt)
        ids = [self._word_ids.get(w, UNK) for w in normalize_text(question).split()]
        return ids[: self.config.max_words] or [UNK]

    def _inputs(
        self, items: Sequence[tuple[dict[str, Any], str]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images = torch.stack([self._image(meta, prompt) for meta, prompt in items]).float() / 255
        words = [self._words(prompt) for _, prompt in items]
        lengths = torch.tensor([len(w) for w in words])
        padded = torch.zeros(len(words), int(lengths.max()), dtype=torch.long)
        for row, ids in enumerate(words):
            padded[row, : len(ids)] = torch.tensor(ids)
        return images, padded, lengths

    def _label(self, response: str) -> int:
        label = self._answer_ids.get(normalize_text(response))
        if label is None:
            raise ValueError(
                f"answer {response!r} is not in the student's answer vocabulary "
                f"({len(self.config.answers)} answers); add it to VQAStudentConfig.answers"
            )
        return label

    # ------------------------------------------------------------------ protocol

    #: Passes over the data a trainer asks for when its config sets none: 6 passes over the
    #: VQA episode default (1,536 new + 768 replay, batch 32) are 432 steps, about the 400
    #: steps that default fixes.
    default_epochs = 6.0

    def examples_per_step(self, num_data: int) -> int:
        """Examples one step of :meth:`fit` draws: the batch size, or all data if fewer."""
        return max(1, min(self.config.batch_size, num_data))

    def fit(
        self, data: Sequence[TrainingDatum], *, steps: int, seed: int, lr: float | None = None
    ) -> TrainStats:
        """``steps`` AdamW steps on batches drawn with replacement, warm-up then linear decay."""
        started = time.perf_counter()
        if steps <= 0 or not data:
            return TrainStats(steps=0, examples_seen=0, final_loss=float("nan"), seconds=0.0)
        labels = torch.tensor([self._label(d.response) for d in data])
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
        batch_size = min(self.config.batch_size, len(data))
        self.model.train()
        smoothed = math.nan
        for step in range(steps):
            rows = torch.randint(len(data), (batch_size,), generator=generator)
            images, words, lengths = self._inputs(
                [(data[r].metadata, data[r].prompt) for r in rows.tolist()]
            )
            loss = F.cross_entropy(self.model(images, words, lengths), labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            value = float(loss.item())
            smoothed = value if math.isnan(smoothed) else 0.9 * smoothed + 0.1 * value
            if self.progress is not None:
                self.progress(step + 1, smoothed)
        self.model.eval()
        return TrainStats(
            steps=steps,
            examples_seen=steps * batch_size,
            final_loss=smoothed,
            seconds=time.perf_counter() - started,
        )

    @torch.no_grad()
    def predict(self, instances: Sequence[TaskInstance]) -> list[str]:
        """The most likely answer of the vocabulary for each instance."""
        self.model.eval()
        answers: list[str] = []
        step = self.config.eval_batch_size
        for start in range(0, len(instances), step):
            chunk = instances[start : start + step]
            logits = self.model(*self._inputs([(i.metadata, i.prompt) for i in chunk]))
            answers.extend(self.config.answers[k] for k in logits.argmax(dim=1).tolist())
        return answers

    def save(self, directory: Path) -> None:
        """Write ``config.json`` and ``model.pt`` into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text(self.config.model_dump_json(indent=2))
        torch.save(self.model.state_dict(), directory / "model.pt")

    def load(self, directory: Path) -> None:
        """Load weights written by :meth:`save` (the architecture must match)."""
        saved = VQAStudentConfig.model_validate(json.loads((directory / "config.json").read_text()))
        architecture = ("image_size", "channels", "word_dim", "question_dim", "hidden_dim")
        mismatch = [
            k
            for k in (*architecture, "answers", "words")
            if getattr(saved, k) != getattr(self.config, k)
        ]
        if mismatch:
            raise ValueError(f"checkpoint {directory} differs in {', '.join(mismatch)}")
        self.model.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
        self.model.eval()
