"""dataenvgym: Gymnasium teacher environments for data generation agents.

Importing the package registers the environment ids with Gymnasium::

    import gymnasium as gym
    import dataenvgym  # noqa: F401

    env = gym.make("dataenvgym/Arithmetic-SkillTree-v0")
"""

from __future__ import annotations

from dataenvgym.envs.registration import env_id, register_envs

__version__ = "0.1.0"
__all__ = ["__version__", "env_id", "register_envs"]

register_envs()
