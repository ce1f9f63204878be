"""events record who wrote them (origin: agent, world, researcher, system; the acting address) and when
(the episode's simulated clock)

Revision ID: 0007
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(
            sa.Column(
                "origin", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False, server_default="system"
            )
        )
        batch.add_column(sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True))
        batch.add_column(sa.Column("clock", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.drop_column("clock")
        batch.drop_column("actor")
        batch.drop_column("origin")
