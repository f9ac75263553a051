"""data versions: a counter per data set, for answering unchanged lists early

Revision ID: 0009_data_versions
Revises: 0008_toilet_search_index
Create Date: 2026-11-26 11:20:00

One row per data set, created here so that writers only ever UPDATE it (two first writers
would otherwise race to INSERT): ``toilets`` (everything a toilet list shows).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_data_versions'
down_revision = '0008_toilet_search_index'
branch_labels = None
depends_on = None


def upgrade():
    data_versions = op.create_table(
        'data_versions',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_data_versions')),
    )
    op.bulk_insert(data_versions, [{'name': 'toilets', 'version': 0}])


def downgrade():
    op.drop_table('data_versions')
