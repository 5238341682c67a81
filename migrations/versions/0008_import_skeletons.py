"""imported users: the email_skeleton that `flask users import` left out

`flask users import` wrote its rows with COPY, which skips the model's default, so
every imported account had a NULL ``email_skeleton``: a look-alike of an imported
address could register as a second account. Each such row now gets the skeleton of
its address; where it looks like an account that already has one (or an older
imported one), it keeps NULL (nothing lost) and the log line says how many, for an
operator to review, as in 0004_security.

Revision ID: 0008_import_skeletons
Revises: 0007_passkeys
Create Date: 2026-12-03 14:30:00

"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_import_skeletons'
down_revision = '0007_passkeys'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')


def upgrade():
    from authapi.emails import skeleton

    connection = op.get_bind()
    users = sa.table(
        'users',
        sa.column('id', sa.Uuid()),
        sa.column('email', sa.String()),
        sa.column('email_skeleton', sa.String()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    taken = set(
        connection.scalars(
            sa.select(users.c.email_skeleton).where(users.c.email_skeleton.is_not(None))
        )
    )
    missing = connection.execute(
        sa.select(users.c.id, users.c.email)
        .where(users.c.email_skeleton.is_(None))
        .order_by(users.c.created_at, users.c.id)
    ).all()
    shared = 0
    for user_id, email in missing:
        key = skeleton(email)
        if key in taken:
            shared += 1
            continue
        taken.add(key)
        connection.execute(
            sa.update(users).where(users.c.id == user_id).values(email_skeleton=key)
        )
    if shared:
        log.warning('%d account(s) look like another one: email_skeleton left NULL', shared)


def downgrade():
    pass  # the skeletons are right for every release
