"""Every brain by name, and the one the value strategy asks: `[strategies.value] brains` (and `brain_weights`).

One name builds that brain; several build an ensemble of them (engine/brains/ensemble.py), weighted in
log-odds by `brain_weights` (equal when empty). The fitted brains read the parameters shipped in
engine/brains/params/; `llm` needs its endpoint in the environment (engine/brains/llm.py).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

from engine.brains.base import Brain

BRAINS: dict[str, str] = {
    "microprice": "engine.brains.microprice:MicropriceBrain",
    "calibrated": "engine.brains.calibrated:CalibratedBrain",
    "base_rate": "engine.brains.base_rate:BaseRateBrain",
    "llm": "engine.brains.llm:LlmBrain",
}


def _load(name: str, env: Mapping[str, str]) -> Brain:
    module, _, cls = BRAINS[name].partition(":")
    brain_cls: Any = getattr(importlib.import_module(module), cls)
    if name == "llm":
        from engine.brains.llm import LlmSettings

        settings = LlmSettings.from_env(env)
        if settings is None:
            raise ValueError(
                "strategies.value.brains: 'llm' needs BIGEARN_LLM_URL and BIGEARN_LLM_MODEL in the environment"
                " (and BIGEARN_LLM_API_KEY if the endpoint wants one)"
            )
        return brain_cls(settings)
    return brain_cls()


def build_brain(names: Sequence[str], weights: Sequence[float] = (), env: Mapping[str, str] | None = None) -> Brain:
    """The brain for these names (validated by the strategy's config); an ensemble when more than one."""
    env = os.environ if env is None else env
    brains = [_load(n, env) for n in names]
    if len(brains) == 1:
        return brains[0]
    from engine.brains.ensemble import EnsembleBrain

    w = list(weights) if weights else [1.0] * len(brains)
    return EnsembleBrain(list(zip(brains, w, strict=True)))


def brains_with_loops(brain: Any) -> list[Any]:
    """The brains (the one given, or an ensemble's members) that work in the background (`run(stop)`)."""
    members = [b for b, _ in getattr(brain, "members", [])] or [brain]
    return [b for b in members if callable(getattr(b, "run", None))]


__all__ = ["BRAINS", "brains_with_loops", "build_brain"]
