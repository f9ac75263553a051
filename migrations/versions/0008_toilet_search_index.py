"""the nearest search's index also holds status (covering its first phase)

Revision ID: 0008_toilet_search_index
Revises: 0007_toilet_report_complaint
Create Date: 2026-11-26 11:30:00

Replaces ``ix_toilets_cell_lng_lat (lat_cell, lng, lat)`` with
``ix_toilets_cell_lng_lat_status (lat_cell, lng, lat, status)``, which on PostgreSQL also
INCLUDEs ``id``: the candidates of a search (id, position, not removed) come from the index
alone. The new index is created before the old one is dropped, so searches never run
without one.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008_toilet_search_index'
down_revision = '0007_toilet_report_complaint'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('toilets', schema=None) as batch_op:
        batch_op.create_index(
            'ix_toilets_cell_lng_lat_status',
            ['lat_cell', 'lng', 'lat', 'status'],
            unique=False,
            postgresql_include=['id'],
        )
        batch_op.drop_index('ix_toilets_cell_lng_lat')


def downgrade():
    with op.batch_alter_table('toilets', schema=None) as batch_op:
        batch_op.create_index('ix_toilets_cell_lng_lat', ['lat_cell', 'lng', 'lat'], unique=False)
        batch_op.drop_index('ix_toilets_cell_lng_lat_status')
