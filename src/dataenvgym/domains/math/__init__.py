"""Real math benchmarks: MATH (boxed answers, equivalence by math-verify) and GSM8K.

They have no procedural generators: an LLM teacher writes their training data. Loading reads
a hub dataset (``datasets``, in the ``[hf]`` extra) or a local folder; scoring needs
``math-verify`` (also in ``[hf]``).
"""

from __future__ import annotations

from dataenvgym.domains.math.gsm8k import GSM8KConfig, GSM8KDomain
from dataenvgym.domains.math.hendrycks import MathConfig, MathDomain

__all__ = ["GSM8KConfig", "GSM8KDomain", "MathConfig", "MathDomain"]
