"""external keys of imported records (REDCap record ids)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 08:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_keys")),
        sa.UniqueConstraint("system", "key", name=op.f("uq_external_keys_system")),
    )
    with op.batch_alter_table("external_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_external_keys_entity_id"), ["entity_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("external_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_keys_entity_id"))
    op.drop_table("external_keys")
