"""episode.purpose: run (an agent episode) or check (`corpmail monitor check`: tool calls with no model)

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("episode") as batch:
        batch.add_column(
            sa.Column(
                "purpose", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default="run"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("episode") as batch:
        batch.drop_column("purpose")
