"""Cached greedy decoding must give exactly the answers of decoding without a cache."""

from __future__ import annotations

import torch

from dataenvgym.students.tiny import BOS, SEP, TinyStudent, TinyStudentConfig, decode, encode


def _uncached_greedy(student: TinyStudent, prompt: str, max_new: int) -> str:
    ids = torch.tensor([[BOS, *encode(prompt), SEP]])
    for _ in range(max_new):
        next_id = student.model(ids)[:, -1, :].argmax(dim=-1)
        ids = torch.cat([ids, next_id[:, None]], dim=1)
    return decode(ids[0, len(prompt) + 2 :].tolist())


def test_cached_decoding_equals_full_recomputation() -> None:
    config = TinyStudentConfig(
        d_model=32, n_layer=2, n_head=2, max_len=40, max_new_tokens=20, reverse_response=False
    )
    student = TinyStudent(config)
    # A random, untrained model writes long varied answers: every step exercises the cache.
    with torch.no_grad():
        for parameter in student.model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.5)
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
        cache: list[list[torch.Tensor]] = [[] for _ in student.model.blocks]
        first = student.model(ids[:, :3], cache)
        rest = student.model(ids[:, 3:], cache)
    assert torch.allclose(torch.cat([first, rest], dim=1), full, atol=1e-5)
