"""updated_at indexed on every clinical table (the analysis store's incremental refresh)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 09:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = [
    "adverse_events",
    "assessments",
    "co_interventions",
    "conditions",
    "injection_sessions",
    "objective_measures",
    "patients",
    "practitioner_sites",
    "practitioners",
    "prior_treatments",
    "recurrences",
    "sites",
    "training_records",
    "treatment_courses",
    "work_statuses",
]


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_updated_at"), ["updated_at"], unique=False
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_updated_at"))
