"""Request and response shapes of assessments."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prolo.registry.schemas import ReadSchema, UpdateSchema


class AssessmentCreate(BaseModel):
    """Item answers, or — for legacy data only — a score without items (marked score-only)."""

    model_config = ConfigDict(extra="forbid")

    patient_id: int
    course_id: int | None = None
    instrument: str = Field(min_length=1, max_length=32)
    assessed_on: dt.date
    items: list[Any] | None = Field(
        default=None,
        description='Answers in item order: numbers, true/false, null, or "not_asked", '
        '"missing", "refused".',
    )
    score: float | None = Field(
        default=None, description="Only for legacy data without items; never with items."
    )
    source: Literal["clinic", "tracing"] = Field(
        default="clinic",
        description='"tracing": answers obtained by tracing a course drawn for double sampling '
        "(phone call or letter after a missed questionnaire).",
    )

    @model_validator(mode="after")
    def _items_or_score(self) -> AssessmentCreate:
        if self.items is not None and self.score is not None:
            raise ValueError(
                "give items or a legacy score, not both: scores are computed from items"
            )
        if self.items is None and self.score is None:
            raise ValueError("give the item answers (or, for legacy data, a score)")
        return self


class AssessmentUpdate(UpdateSchema):
    assessed_on: dt.date | None = None
    items: list[Any] | None = None


class AssessmentRead(ReadSchema):
    patient_id: int
    course_id: int | None
    instrument: str
    assessed_on: dt.date
    source: Literal["clinic", "patient_link", "phone", "import", "tracing"]
    items: list[Any] | None
    score: float | None
    raw_score: float | None
    scorable: bool
    score_only: bool
    flags: list[str]
    day: int | None
    time_point: str | None
