"""Gymnasium spaces whose elements are pydantic models (structured observations and actions)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import gymnasium as gym
import numpy as np
from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)


class ModelSpace(gym.Space[ModelT], Generic[ModelT]):
    """A space of instances of one pydantic model.

    ``contains`` is a type check: whether an action is *valid* in the environment's current
    state (known subskills, budget) depends on that state, so the environment checks it in
    ``step`` and raises :class:`~dataenvgym.envs.base.InvalidActionError` with the reason.
    ``sample`` returns the model's default instance (for actions: an empty plan), which is
    always a well-formed element.
    """

    def __init__(self, model: type[ModelT], seed: int | np.random.Generator | None = None) -> None:
        super().__init__(shape=None, dtype=None, seed=seed)
        self.model = model

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> ModelT:
        return self.model()

    def contains(self, x: Any) -> bool:
        return isinstance(x, self.model)

    def __repr__(self) -> str:
        return f"ModelSpace({self.model.__name__})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelSpace) and other.model is self.model

    def __hash__(self) -> int:
        return hash(self.model)
