"""The first schema: clinics, users, patients, visits, photos, assessments, sessions, tokens, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

T = sa.String(32)  # ISO-8601 UTC time
# Ids are never reused (SQLite would reuse the highest after a delete): a link or an audit row
# naming a deleted photo or assessment must never lead to another one.


def upgrade() -> None:
    op.create_table("clinics", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(200), nullable=False, unique=True),
                    sa.Column("created_at", T, nullable=False),
                    sqlite_autoincrement=True)
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("clinic_id", sa.Integer, sa.ForeignKey("clinics.id"), nullable=False, index=True),
                    sa.Column("username", sa.String(150), nullable=False, unique=True),
                    sa.Column("password_hash", sa.String(200), nullable=False),
                    sa.Column("role", sa.String(20), nullable=False),
                    sa.Column("active", sa.Boolean, nullable=False),
                    sa.Column("created_at", T, nullable=False),
                    sqlite_autoincrement=True)
    op.create_table("patients", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("clinic_id", sa.Integer, sa.ForeignKey("clinics.id"), nullable=False, index=True),
                    sa.Column("external_id", sa.String(200), nullable=False),
                    sa.Column("fitzpatrick", sa.String(3), nullable=True),
                    sa.Column("consent", sa.String(100), nullable=False),
                    sa.Column("created_at", T, nullable=False),
                    sa.UniqueConstraint("clinic_id", "external_id"),
                    sqlite_autoincrement=True)
    op.create_table("visits", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False, index=True),
                    sa.Column("name", sa.String(200), nullable=False),
                    sa.Column("day", sa.Integer, nullable=False),
                    sa.Column("created_at", T, nullable=False),
                    sa.UniqueConstraint("patient_id", "name"),
                    sqlite_autoincrement=True)
    op.create_table("photos", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("visit_id", sa.Integer, sa.ForeignKey("visits.id"), nullable=False, index=True),
                    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False, index=True),
                    sa.Column("view", sa.String(40), nullable=False),
                    sa.Column("sha256", sa.String(64), nullable=False),
                    sa.Column("stored_name", sa.String(100), nullable=False, unique=True),
                    sa.Column("width", sa.Integer, nullable=False),
                    sa.Column("height", sa.Integer, nullable=False),
                    sa.Column("captured_at", T, nullable=True),
                    sa.Column("uploaded_at", T, nullable=False),
                    sa.Column("uploaded_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
                    sqlite_autoincrement=True)
    op.create_table("assessments", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False, index=True),
                    sa.Column("photo_id", sa.Integer, sa.ForeignKey("photos.id"), nullable=False, index=True),
                    sa.Column("baseline_photo_id", sa.Integer, sa.ForeignKey("photos.id"), nullable=False),
                    sa.Column("status", sa.String(10), nullable=False, index=True),
                    sa.Column("attempts", sa.Integer, nullable=False),
                    sa.Column("claimed_by", sa.String(120), nullable=True),
                    sa.Column("error", sa.Text, nullable=True),
                    sa.Column("error_code", sa.String(60), nullable=True),
                    sa.Column("result", sa.Text, nullable=True),
                    sa.Column("created_at", T, nullable=False),
                    sa.Column("started_at", T, nullable=True),
                    sa.Column("finished_at", T, nullable=True),
                    sa.UniqueConstraint("photo_id", "baseline_photo_id"),
                    sqlite_autoincrement=True)
    op.create_table("page_sessions", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
                    sa.Column("csrf_token", sa.String(64), nullable=False),
                    sa.Column("created_at", T, nullable=False),
                    sa.Column("last_seen_at", T, nullable=False),
                    sa.Column("revoked_at", T, nullable=True),
                    sqlite_autoincrement=True)
    op.create_table("api_tokens", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
                    sa.Column("created_at", T, nullable=False),
                    sa.Column("expires_at", T, nullable=False),
                    sa.Column("revoked_at", T, nullable=True),
                    sqlite_autoincrement=True)
    op.create_table("audit_log", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("at", T, nullable=False),
                    sa.Column("clinic_id", sa.Integer, nullable=True),
                    sa.Column("user_id", sa.Integer, nullable=True),
                    sa.Column("username", sa.String(150), nullable=False),
                    sa.Column("action", sa.String(40), nullable=False),
                    sa.Column("object_type", sa.String(40), nullable=True),
                    sa.Column("object_id", sa.Integer, nullable=True),
                    sa.Column("patient_id", sa.Integer, nullable=True, index=True),
                    sa.Column("detail", sa.Text, nullable=False),
                    sa.Column("ip", sa.String(60), nullable=False),
                    sa.Column("prev_hash", sa.String(64), nullable=False),
                    sa.Column("row_hash", sa.String(64), nullable=False),
                    sqlite_autoincrement=True)
    op.create_index("ix_audit_action_username_at", "audit_log", ["action", "username", "at"])
    op.create_index("ix_audit_action_ip_at", "audit_log", ["action", "ip", "at"])
    head = op.create_table("audit_head", sa.Column("id", sa.Integer, primary_key=True),
                           sa.Column("last_id", sa.Integer, nullable=False),
                           sa.Column("last_hash", sa.String(64), nullable=False),
                    sqlite_autoincrement=True)
    # The chain starts from a fixed genesis hash.
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": hashlib.sha256(b"outcomes audit log").hexdigest()}])


def downgrade() -> None:
    for table in ("audit_head", "audit_log", "api_tokens", "page_sessions", "assessments", "photos", "visits",
                  "patients", "users", "clinics"):
        op.drop_table(table)
