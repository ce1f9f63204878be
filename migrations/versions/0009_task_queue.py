"""task queue: procrastinate's schema (PostgreSQL only) for experiment workers

corpmail owns the queue's schema through its own migrations, so `corpmail db upgrade` (compose's one-shot
`migrate` step) applies it once and workers never race it. The SQL is procrastinate's own
(`SchemaManager.get_schema()` of the pinned 3.10 release); a later procrastinate release that changes
it comes with a new revision applying that release's migration files. SQLite has no queue (nothing to do).

Revision ID: 0009
Revises: 0004
"""

from alembic import op

revision = "0009"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)


def _raw():
    """The psycopg connection under Alembic's (same transaction): the schema is run as one script
    without bind-parameter parsing (it contains % and :)."""
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    raw = _raw()
    if raw.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is not None:
        return  # applied by hand (`procrastinate schema --apply`) before corpmail owned it
    raw.execute(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    raw = _raw()
    raw.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)} CASCADE")
    raw.execute(
        """
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || r.sig || ' CASCADE';
            END LOOP;
            FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                     WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%'
                       AND t.typtype IN ('e', 'c') LOOP
                EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(r.typname) || ' CASCADE';
            END LOOP;
        END $$;
        """
    )
