"""detections keyed by the received event

Translation now detects straight from ingest's MessageReceived, before ticket has a message id: a
detection is keyed by the id of that event. Rows from before keep their message id in that column
(ids are UUIDv7s, so they cannot collide with an event id).

Revision ID: ef681cb68735
Revises: 2bb818cd5bbb
Create Date: 2026-11-24 03:07:17.800384
"""
from alembic import op
import sqlalchemy as sa


revision = 'ef681cb68735'
down_revision = '2bb818cd5bbb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('detections', sa.Column('received_event_id', sa.UUID(), nullable=True))
    op.execute('UPDATE detections SET received_event_id = message_id')
    op.alter_column('detections', 'received_event_id', nullable=False)
    op.drop_index(op.f('ix_detections_tenant_id_conversation_id'), table_name='detections')
    op.drop_constraint(op.f('uq_detections_message_id'), 'detections', type_='unique')
    op.create_unique_constraint(op.f('uq_detections_received_event_id'), 'detections', ['received_event_id'])
    op.drop_column('detections', 'message_id')
    op.drop_column('detections', 'conversation_id')


def downgrade() -> None:
    # the conversation of a detection is not known to translation any more: rows are not kept
    op.execute('DELETE FROM detections')
    op.add_column('detections', sa.Column('conversation_id', sa.UUID(), nullable=False))
    op.add_column('detections', sa.Column('message_id', sa.UUID(), nullable=False))
    op.drop_constraint(op.f('uq_detections_received_event_id'), 'detections', type_='unique')
    op.create_unique_constraint(op.f('uq_detections_message_id'), 'detections', ['message_id'])
    op.create_index(op.f('ix_detections_tenant_id_conversation_id'), 'detections', ['tenant_id', 'conversation_id'],
                    unique=False)
    op.drop_column('detections', 'received_event_id')
