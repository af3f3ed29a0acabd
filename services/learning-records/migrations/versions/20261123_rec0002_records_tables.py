"""Records tables: people, employment, headcounts, enrolments, results, change feed, idempotency.

Revision ID: rec0002
Revises: lea0001
Create Date: 2026-11-23 09:02:14.623960
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rec0002"
down_revision: str | None = "lea0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "change",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_change")),
    )
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_counter")),
    )
    op.bulk_insert(
        sa.table(
            "change_counter", sa.column("id", sa.Integer()), sa.column("last_seq", sa.BigInteger())
        ),
        [{"id": 1, "last_seq": 0}],
    )
    op.create_table(
        "headcount",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("position_group", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_headcount")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_headcount_source_system_external_id")
        ),
    )
    with op.batch_alter_table("headcount", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_headcount_institution"), ["institution"], unique=False)
        batch_op.create_index(batch_op.f("ix_headcount_seq"), ["seq"], unique=False)

    op.create_table(
        "idempotency_record",
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "key", name=op.f("pk_idempotency_record")),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_person_pseudonym")),
    )
    op.create_table(
        "certificate",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("course_code", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=True),
        sa.Column("certificate_number", sa.String(length=64), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_certificate_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_certificate_source_system_external_id")
        ),
    )
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_course_code"), ["course_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_certificate_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificate_seq"), ["seq"], unique=False)

    op.create_table(
        "competency_assessment",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("institution", sa.String(length=32), nullable=True),
        sa.Column("framework", sa.String(length=64), nullable=False),
        sa.Column("competency", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_competency_assessment_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competency_assessment")),
        sa.UniqueConstraint(
            "source_system",
            "external_id",
            name=op.f("uq_competency_assessment_source_system_external_id"),
        ),
    )
    with op.batch_alter_table("competency_assessment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_competency_assessment_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_competency_assessment_seq"), ["seq"], unique=False)

    op.create_table(
        "employment",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("sector", sa.String(length=16), nullable=False),
        sa.Column("municipality", sa.String(length=32), nullable=True),
        sa.Column("position_group", sa.String(length=64), nullable=True),
        sa.Column("management_level", sa.String(length=16), nullable=True),
        sa.Column("civil_servant", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_employment_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employment")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_employment_source_system_external_id")
        ),
    )
    with op.batch_alter_table("employment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_employment_institution"), ["institution"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_employment_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_employment_seq"), ["seq"], unique=False)

    op.create_table(
        "enrolment",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("course_code", sa.String(length=64), nullable=False),
        sa.Column("session_code", sa.String(length=64), nullable=True),
        sa.Column("institution", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=True),
        sa.Column("status_date", sa.Date(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_enrolment_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_enrolment_source_system_external_id")
        ),
    )
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolment_course_code"), ["course_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrolment_institution"), ["institution"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrolment_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrolment_seq"), ["seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrolment_status_date"), ["status_date"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("course_code", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("applied_at_work", sa.Boolean(), nullable=True),
        sa.Column("applied_share", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_feedback_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_feedback_source_system_external_id")
        ),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_course_code"), ["course_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_seq"), ["seq"], unique=False)

    op.create_table(
        "person_link",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_person_link_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_link")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_person_link_source_system_external_id")
        ),
    )
    with op.batch_alter_table("person_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_link_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_link_seq"), ["seq"], unique=False)

    op.create_table(
        "enrolment_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_date", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["enrolment.id"],
            name=op.f("fk_enrolment_status_change_enrolment_id_enrolment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_status_change")),
    )
    with op.batch_alter_table("enrolment_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrolment_status_change_enrolment_id"), ["enrolment_id"], unique=False
        )

    op.create_table(
        "learning_event",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("created_enrolment", sa.Boolean(), nullable=False),
        sa.Column("prior_state", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["enrolment.id"],
            name=op.f("fk_learning_event_enrolment_id_enrolment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_event")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_learning_event_source_system_external_id")
        ),
    )
    with op.batch_alter_table("learning_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_learning_event_enrolment_id"), ["enrolment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_learning_event_seq"), ["seq"], unique=False)

    op.create_table(
        "role_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employment_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["employment_id"],
            ["employment.id"],
            name=op.f("fk_role_assignment_employment_id_employment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_role_assignment_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_assignment")),
    )
    with op.batch_alter_table("role_assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_role_assignment_employment_id"), ["employment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_role_assignment_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "test_attempt",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("course_code", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=True),
        sa.Column("attempted_on", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("learning_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["learning_event_id"],
            ["learning_event.id"],
            name=op.f("fk_test_attempt_learning_event_id_learning_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_test_attempt_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_attempt")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_test_attempt_source_system_external_id")
        ),
    )
    with op.batch_alter_table("test_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_test_attempt_course_code"), ["course_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_test_attempt_learning_event_id"), ["learning_event_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_test_attempt_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_test_attempt_seq"), ["seq"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("test_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_test_attempt_seq"))
        batch_op.drop_index(batch_op.f("ix_test_attempt_person_id"))
        batch_op.drop_index(batch_op.f("ix_test_attempt_learning_event_id"))
        batch_op.drop_index(batch_op.f("ix_test_attempt_course_code"))

    op.drop_table("test_attempt")
    with op.batch_alter_table("role_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_assignment_person_id"))
        batch_op.drop_index(batch_op.f("ix_role_assignment_employment_id"))

    op.drop_table("role_assignment")
    with op.batch_alter_table("learning_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_learning_event_seq"))
        batch_op.drop_index(batch_op.f("ix_learning_event_enrolment_id"))

    op.drop_table("learning_event")
    with op.batch_alter_table("enrolment_status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_status_change_enrolment_id"))

    op.drop_table("enrolment_status_change")
    with op.batch_alter_table("person_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_link_seq"))
        batch_op.drop_index(batch_op.f("ix_person_link_person_id"))

    op.drop_table("person_link")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_seq"))
        batch_op.drop_index(batch_op.f("ix_feedback_person_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_course_code"))

    op.drop_table("feedback")
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_status_date"))
        batch_op.drop_index(batch_op.f("ix_enrolment_seq"))
        batch_op.drop_index(batch_op.f("ix_enrolment_person_id"))
        batch_op.drop_index(batch_op.f("ix_enrolment_institution"))
        batch_op.drop_index(batch_op.f("ix_enrolment_course_code"))

    op.drop_table("enrolment")
    with op.batch_alter_table("employment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employment_seq"))
        batch_op.drop_index(batch_op.f("ix_employment_person_id"))
        batch_op.drop_index(batch_op.f("ix_employment_institution"))

    op.drop_table("employment")
    with op.batch_alter_table("competency_assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competency_assessment_seq"))
        batch_op.drop_index(batch_op.f("ix_competency_assessment_person_id"))

    op.drop_table("competency_assessment")
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_seq"))
        batch_op.drop_index(batch_op.f("ix_certificate_person_id"))
        batch_op.drop_index(batch_op.f("ix_certificate_course_code"))

    op.drop_table("certificate")
    op.drop_table("person")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_created_at"))

    op.drop_table("idempotency_record")
    with op.batch_alter_table("headcount", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_headcount_seq"))
        batch_op.drop_index(batch_op.f("ix_headcount_institution"))

    op.drop_table("headcount")
    op.drop_table("change_counter")
    op.drop_table("change")
