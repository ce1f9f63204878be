"""episode.harness: which harness played the episode (corpmail's loop, an MCP client, Inspect)

Revision ID: 0006
Revises: 0007
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("episode") as batch:
        batch.add_column(
            sa.Column(
                "harness",
                sqlmodel.sql.sqltypes.AutoString(length=80),
                nullable=False,
                server_default="corpmail",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("episode") as batch:
        batch.drop_column("harness")
