"""Designed forms' tables: every saved version of a form-js form, and the versions each deployed process
definition pins.

A form is stored by key; saving a changed schema makes the next version, an unchanged one makes nothing. A
process definition records, when it is deployed, the version of each designed form its user tasks name
(``designed_form_pins``): a task always opens and validates with that version, so a case that started under
version 1 of a form keeps it after the designer saves version 2. The engine's ``process_definitions`` table stays
domain-free; the pins live beside it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models import Base, IdType, ProcessDefinition, UtcDateTime


class DesignedForm(Base):
    """One version of a designed form: the form-js schema as the editor saved it."""

    __tablename__ = "designed_forms"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    schema: Mapped[dict] = mapped_column(JSON)
    # sha256 of the schema's canonical JSON: saving the same form again answers the existing version.
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DesignedFormPin(Base):
    """Process definition `definition_id` uses version `form_version` of the designed form `form_key`."""

    __tablename__ = "designed_form_pins"
    __table_args__ = (
        ForeignKeyConstraint(["form_key", "form_version"], ["designed_forms.key", "designed_forms.version"],
                             name="fk_designed_form_pins_form"),
    )

    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id", ondelete="CASCADE"),
                                               primary_key=True)
    form_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    form_version: Mapped[int] = mapped_column(Integer)
    # Set at deploy, before the definition has its id (workflows.forms.designed_store).
    definition: Mapped[ProcessDefinition] = relationship()
