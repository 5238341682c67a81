"""The ``passkeys`` table: one row per WebAuthn credential registered to a user."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    Uuid,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from authapi.extensions import db

NAME_MAX = 64


class Passkey(db.Model):
    """A credential: its id and public key (never a secret), and what its authenticator
    said last time (the sign counter and the backup flags)."""

    __tablename__ = "passkeys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The user's passkeys go with the account.
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The authenticator's credential id (up to 1023 bytes): unique across all users.
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key, as registered
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)  # a uint32
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    # BE: the credential may be synced (a "multi-device" passkey); fixed for its life.
    backup_eligible: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # BS: it is backed up now (as of its last use).
    backed_up: Mapped[bool] = mapped_column(Boolean, server_default=false())
    aaguid: Mapped[str] = mapped_column(String(36))  # the authenticator model, or zeros
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
