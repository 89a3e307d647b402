"""Prompt formatting for a Hugging Face student: chat template, training tokens, stop tokens.

Training and generation must see the very same prompt text, or the student learns one format
and is asked in another; both go through :class:`ChatFormat`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dataenvgym.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: End-of-turn markers of common chat templates; generation stops at any that the vocabulary
#: has, beside the tokenizer's own EOS (Gemma ends a turn with <end_of_turn>, not <eos>).
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "<|endoftext|>")


@dataclass(frozen=True)
class TrainingExample:
    """Token ids of prompt + response; the loss covers ``ids[response_start:]`` only."""

    ids: list[int]
    response_start: int


class ChatFormat:
    """How prompts and responses become text and tokens for one tokenizer.

    Args:
        tokenizer: The student's tokenizer.
        mode: ``auto`` uses the chat template when the tokenizer has one; ``always`` requires
            it; ``never`` feeds the raw prompt (a base model, or a format learnt from scratch).
        system_prompt: An optional system message (chat template only).
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        mode: Literal["auto", "always", "never"] = "auto",
        system_prompt: str | None = None,
    ) -> None:
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if mode == "always" and not has_template:
            raise ConfigError(
                "student_config.chat_template is 'always' but the tokenizer has no chat "
                "template; use 'auto' or 'never'"
            )
        self.tokenizer = tokenizer
        self.use_template = has_template and mode != "never"
        self.system_prompt = system_prompt

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*messages, {"role": "user", "content": prompt}]

    def prompt_text(self, prompt: str) -> str:
        """The text the model continues: the templated user turn, or the raw prompt."""
        if not self.use_template:
            return prompt
        text = self.tokenizer.apply_chat_template(
            self._messages(prompt), tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def add_special_tokens(self) -> bool:
        """Whether tokenizing :meth:`prompt_text` should add BOS: the template has its own."""
        return not self.use_template

    def completion_text(self, prompt: str, response: str) -> str:
        """What follows :meth:`prompt_text` in a training example, end-of-turn included."""
        eos = self.tokenizer.eos_token or ""
        if not self.use_template:
            return response + eos
        prefix = self.prompt_text(prompt)
        full = str(
            self.tokenizer.apply_chat_template(
                [*self._messages(prompt), {"role": "assistant", "content": response}],
                tokenize=False,
            )
        )
        # Templates render the assistant turn after the generation prompt; one that rewrites
        # earlier text (some strip reasoning) falls back to response + EOS.
        return full[len(prefix) :] if full.startswith(prefix) else response + eos

    def training_example(self, prompt: str, response: str, max_length: int) -> TrainingExample:
        """Token ids with the response start marked, cut to ``max_length``.

        A long example keeps at least half of ``max_length`` for the response and cuts the
        prompt from the left, so the tokens next to the answer survive.
        """
        encode = self.tokenizer
        prompt_ids = list(
            encode(self.prompt_text(prompt), add_special_tokens=self.add_special_tokens())[
                "input_ids"
            ]
        )
        completion_ids = list(
            encode(self.completion_text(prompt, response), add_special_tokens=False)["input_ids"]
        )
        if len(prompt_ids) + len(completion_ids) > max_length:
            completion_ids = completion_ids[: max(max_length - len(prompt_ids), max_length // 2)]
            prompt_ids = prompt_ids[len(prompt_ids) - (max_length - len(completion_ids)) :]
        return TrainingExample(prompt_ids + completion_ids, len(prompt_ids))

    def stop_token_ids(self, generation_eos: int | list[int] | None = None) -> list[int]:
        """Token ids that end an answer: EOS, the model's own, and known end-of-turn markers."""
        ids: list[int] = []
        if isinstance(generation_eos, int):
            ids.append(generation_eos)
        elif generation_eos:
            ids.extend(generation_eos)
        if self.tokenizer.eos_token_id is not None:
            ids.append(int(self.tokenizer.eos_token_id))
        vocab = self.tokenizer.get_vocab()
        ids.extend(vocab[token] for token in END_OF_TURN_TOKENS if token in vocab)
        return sorted(set(ids))


def cut_at_stop(text: str, stops: list[str]) -> str:
    """``text`` up to its earliest stop string.

    Generation halts only after the token that completes a stop string, and that token may
    carry more text, so the cut is made on the decoded string.
    """
    cut = len(text)
    for stop in stops:
        index = text.find(stop)
        if index != -1:
            cut = min(cut, index)
    return text[:cut]
