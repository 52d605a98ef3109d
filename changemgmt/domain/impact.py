"""Expected impact on a service, ordered from least to worst (SPEC §2)."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from changemgmt.domain.errors import DomainError


class Impact(str, enum.Enum):
    NO_IMPACT = "NO-IMPACT"
    REDUCED_REDUNDANCY = "REDUCED-REDUNDANCY"
    DEGRADED = "DEGRADED"
    OUTAGE = "OUTAGE"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def label(self) -> str:
        return self.value.replace("-", " ").title()

    @classmethod
    def parse(cls, raw: str, field: str = "impact") -> Impact:
        """Accepts the BCOP spelling in any case, with '_' or ' ' for '-'."""
        key = str(raw).strip().upper().replace("_", "-").replace(" ", "-")
        try:
            return cls(key)
        except ValueError:
            allowed = ", ".join(i.value for i in cls)
            raise DomainError(field, f"{raw!r} is not an impact level ({allowed})") from None


_ORDER = list(Impact)
_BY_VALUE = {impact.value: impact for impact in Impact}


def stored_impact(value: str) -> Impact:
    """The level a database row holds. A look-up: `Impact(value)` costs a microsecond,
    paid for every impacted service when a GCR reaching thousands is planned and sent."""
    return _BY_VALUE[value]


def worst(impacts: Iterable[Impact]) -> Impact:
    """Returns the most severe impact; NO-IMPACT for none."""
    return max(impacts, key=lambda i: i.rank, default=Impact.NO_IMPACT)
