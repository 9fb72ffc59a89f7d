"""Where imported records came from: a key in another system (a REDCap record and event) and
the registry record it became, so that importing the same project again updates instead of
duplicating."""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from prolo.db import Base


class ExternalKey(Base):
    __tablename__ = "external_keys"
    __table_args__ = (UniqueConstraint("system", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # e.g. "redcap:<project>"; the key is unique within it ("<record>/<event>/<instrument>").
    system: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(255))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[int] = mapped_column(Integer, index=True)
