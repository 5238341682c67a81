"""security review: users.email_skeleton (look-alike addresses are one account)

Existing rows: each gets the skeleton of its address, with its domain IDNA-encoded
as new registrations are (``jörg@exämple.com`` becomes ``jörg@xn--exmple-cua.com``,
so that the login's normalisation still finds it). Where two existing accounts look
alike, the older keeps the skeleton and the younger keeps NULL (no uniqueness for it,
nothing lost); the log line names how many, for an operator to review.

Uses ``authapi.emails`` as it is at the time the migration runs: the rules of this
release are the ones the rows must follow.

Revision ID: 0004_security
Revises: 0003_mfa
Create Date: 2026-12-03 07:50:00

"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_security'
down_revision = '0003_mfa'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')


def upgrade():
    from authapi.emails import normalize_email, skeleton

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_skeleton', sa.String(length=254), nullable=True))

    connection = op.get_bind()
    users = sa.table(
        'users',
        sa.column('id', sa.Uuid()),
        sa.column('email', sa.String()),
        sa.column('email_skeleton', sa.String()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    rows = connection.execute(
        sa.select(users.c.id, users.c.email).order_by(users.c.created_at, users.c.id)
    ).all()
    taken_emails = {email for _, email in rows}
    taken_skeletons: set[str] = set()
    shared = 0
    for user_id, email in rows:
        normalized = normalize_email(email)
        if normalized != email and normalized not in taken_emails:
            taken_emails.add(normalized)
        else:
            normalized = email
        key = skeleton(normalized)
        if key in taken_skeletons:
            key, shared = None, shared + 1
        else:
            taken_skeletons.add(key)
        connection.execute(
            sa.update(users)
            .where(users.c.id == user_id)
            .values(email=normalized, email_skeleton=key)
        )
    if shared:
        log.warning('%d existing account(s) look like an older one: email_skeleton left NULL', shared)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f('uq_users_email_skeleton'), ['email_skeleton']
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_email_skeleton'), type_='unique')
        batch_op.drop_column('email_skeleton')
