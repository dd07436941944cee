"""The one shape of a no: a rule's code, the value that decided it, the threshold it was held to, a sentence.

Risk layers, the firewall, the engine's state and the strategies' context all say no this way, so a refusal
reads the same in the evaluation rows, on a proposal, in the log and on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    value: float
    threshold: float
    detail: str = ""

    @classmethod
    def of(cls, r: Any) -> Refusal:
        """From any layer's own refusal record (a breaker block, a firewall rejection, a state block...)."""
        return cls(r.code, float(r.value), float(r.threshold), r.detail)

    def text(self) -> str:
        out = f"{self.code} value={self.value:.6g} threshold={self.threshold:.6g}"
        return f"{out}: {self.detail}" if self.detail else out

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "value": self.value, "threshold": self.threshold, "detail": self.detail}
