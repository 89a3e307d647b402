"""Cached greedy decoding must give exactly the answers of decoding without a cache."""

from __future__ import annotations

import torch

from dataenvgym.students.tiny import (
    BOS,
    SEP,
    DecodeCache,
    TinyStudent,
    TinyStudentConfig,
    decode,
    encode,
)


def _uncached_greedy(student: TinyStudent, prompt: str, max_new: int) -> str:
    ids = torch.tensor([[BOS, *encode(prompt), SEP]])
    for _ in range(max_new):
        next_id = student.model(ids)[:, -1, :].argmax(dim=-1)
        ids = torch.cat([ids, next_id[:, None]], dim=1)
    return decode(ids[0, len(prompt) + 2 :].tolist())


def _noisy_student() -> TinyStudent:
    """A small untrained student with its weights shaken: it writes long, varied answers
    (20 characters at most, front to back), so every decoding step exercises the cache."""
    config = TinyStudentConfig(
        d_model=32, n_layer=2, n_head=2, max_len=40, max_new_tokens=20, reverse_response=False
    )
    student = TinyStudent(config)
    with torch.no_grad():
        for parameter in student.model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.5)
    return student


def test_cached_decoding_equals_full_recomputation() -> None:
    student = _noisy_student()
    prompts = ["keep items above 12", "abc", "sort by x%7", "z"]
    cached = student.predict_prompts(prompts)
    with torch.no_grad():
        expected = [_uncached_greedy(student, p, 20) for p in prompts]
    assert cached == expected
    assert any(len(answer) > 5 for answer in cached)


def test_cache_continues_positions() -> None:
    student = TinyStudent(TinyStudentConfig(d_model=32, n_layer=1, n_head=2))
    ids = torch.tensor([[BOS, *encode("hello"), SEP]])
    with torch.no_grad():
        full = student.model(ids)
        cache = DecodeCache(student.model, batch=1)
        first = student.model(ids[:, :3], cache)
        rest = student.model(ids[:, 3:], cache)
    assert torch.allclose(torch.cat([first, rest], dim=1), full, atol=1e-5)


def test_rows_that_finish_early_leave_the_batch_without_changing_any_answer() -> None:
    torch.manual_seed(0)
    student = _noisy_student()
    # Equal lengths: one batch, whose rows stop at different steps (some at once, some
    # mid-way, some never), so finished rows are dropped while others still decode.
    prompts = [f"item {i:02d}" for i in range(40)]
    batched = student.predict_prompts(prompts)
    with torch.no_grad():
        expected = [_uncached_greedy(student, p, 20) for p in prompts]
    assert batched == expected
    lengths = {len(answer) for answer in batched}
    assert 0 in lengths and 20 in lengths and any(0 < n < 20 for n in lengths)


def test_kept_rows_continue_as_if_decoded_alone() -> None:
    student = TinyStudent(TinyStudentConfig(d_model=32, n_layer=2, n_head=2))
    ids = torch.tensor([[BOS, *encode(text), SEP] for text in ("abc", "xyz", "k+m")])
    with torch.no_grad():
        cache = DecodeCache(student.model, batch=3)
        student.model(ids[:, :4], cache)
        cache.keep(torch.tensor([2, 0]))
        kept = student.model(ids[[2, 0], 4:], cache)
        alone = student.model(ids[[2, 0]])[:, 4:]
    assert torch.allclose(kept, alone, atol=1e-5)
