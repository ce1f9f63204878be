"""experiments: experiment and trial tables, episode heartbeat (lease)

Revision ID: 0004
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", When(), nullable=True))

    op.create_table(
        "experiment",
        sa.Column("name", Str(length=200), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("scenario_hashes", JSON, nullable=False),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("message", Str(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "trial",
        sa.Column("id", Str(length=32), nullable=False),
        sa.Column("experiment", Str(length=200), nullable=False),
        sa.Column("cell", Str(length=32), nullable=False),
        sa.Column("scenario", Str(length=200), nullable=False),
        sa.Column("scenario_hash", Str(length=32), nullable=False),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("model", Str(length=200), nullable=False),
        sa.Column("sample", sa.Integer(), nullable=False),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("episode_id", Str(length=32), nullable=True),
        sa.Column("attempts", JSON, nullable=False),
        sa.Column("error", Str(), nullable=True),
        sa.Column("claimed_by", Str(length=200), nullable=True),
        sa.Column("claimed_at", When(), nullable=True),
        sa.Column("result", JSON, nullable=False),
        sa.ForeignKeyConstraint(["experiment"], ["experiment.name"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trial_experiment"), ["experiment"], unique=False)
        batch_op.create_index(batch_op.f("ix_trial_cell"), ["cell"], unique=False)
        batch_op.create_index(batch_op.f("ix_trial_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_trial_episode_id"), ["episode_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_episode_id"))
        batch_op.drop_index(batch_op.f("ix_trial_status"))
        batch_op.drop_index(batch_op.f("ix_trial_cell"))
        batch_op.drop_index(batch_op.f("ix_trial_experiment"))
    op.drop_table("trial")
    op.drop_table("experiment")
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
