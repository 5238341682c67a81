"""Second-factor tables: one TOTP authenticator per user, and the recovery codes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from authapi.extensions import db


class TotpFactor(db.Model):
    """A confirmed TOTP authenticator. Pending enrolments live in Redis, not here."""

    __tablename__ = "mfa_totp"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # AES-GCM ciphertext (authapi.mfa.crypto), never the secret itself.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # The last time step (unix time // 30) a code was accepted for: never again.
    last_used_step: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RecoveryCode(db.Model):
    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (Index("ix_mfa_recovery_codes_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    # "<key id>$<HMAC-SHA256 hex>" (authapi.mfa.crypto.hash_code), never the code.
    code_hash: Mapped[str] = mapped_column(String(80))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
