"""The email address rules, in one place for schemas, services and the CLI.

Plain functions on strings (no marshmallow, no Flask):

- :func:`normalize_email`: trim, NFKC, lower-case, and the domain IDNA-encoded
  (UTS 46, then the ASCII ``xn--`` form), so ``exämple.com`` and
  ``xn--exmple-cua.com`` are one domain, as they are one mailbox.
- :func:`email_problem`: why an address is refused, or None. Only plain dot-atom local
  parts (no quoted strings, comments or IP literals), no invisible characters, and no
  part that mixes writing systems (``p\u0430ypal``: a Cyrillic ``a`` among Latin letters).
- :func:`skeleton`: what an address looks like (Unicode TR39 confusables, by the
  ``disarm`` package), stored with a unique index: ``ace@example.com`` written in
  Cyrillic letters cannot become a second account beside ``ace@example.com``. ASCII
  characters are kept as they are, so plain addresses like ``bill1@`` and ``billl@``
  stay distinct: the look-alikes refused are the ones another script makes.
"""

from __future__ import annotations

import re
import unicodedata

import idna

EMAIL_MAX = 254
LOCAL_PART_MAX = 64  # octets (RFC 5321)
INVALID = "Invalid email address"
MIXED_SCRIPTS = (
    "Email address must not mix writing systems (such as Latin and Cyrillic) in one part"
)

# Invisible or non-printing characters (zero-width spaces and joiners, soft hyphens,
# bidi overrides, BOM, private use, unassigned, spaces): an address containing one
# could look exactly like another account's.
_NOT_IN_EMAILS = {"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs"}
# RFC 5322 atext, plus any letter, mark or digit beyond ASCII (RFC 6531).
_ATEXT_ASCII = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def has_invisible_characters(value: str) -> bool:
    return any(unicodedata.category(char) in _NOT_IN_EMAILS for char in value)


def _ascii_domain(domain: str) -> str | None:
    """The domain's IDNA (ASCII) form, or None when it is no valid IDNA domain.

    A domain with an invisible character is left alone (and refused by validation):
    UTS 46 would silently drop a zero-width space, and the address must not log in.
    """
    if domain.isascii() or has_invisible_characters(domain):
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def _unicode_domain(domain: str) -> str:
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain


def normalize_email(value: str) -> str:
    """The one email normalisation used everywhere: trim, NFKC, lower-case, IDNA domain."""
    email = unicodedata.normalize("NFKC", value).strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not domain:
        return email
    ascii_domain = _ascii_domain(domain)
    return f"{local}@{ascii_domain}" if ascii_domain is not None else email


def _atext(char: str) -> bool:
    if char.isascii():
        return bool(_ATEXT_ASCII.fullmatch(char))
    return unicodedata.category(char)[0] in {"L", "M", "N"}


def _dot_atom(local: str) -> bool:
    atoms = local.split(".")
    return all(atom and all(_atext(char) for char in atom) for atom in atoms)


def _domain_ok(domain: str) -> bool:
    labels = domain.split(".")
    if len(labels) < 2 or labels[-1].isdigit():  # a host name with a top-level domain
        return False
    return all(_LDH_LABEL.fullmatch(label) for label in labels)


def email_problem(email: str) -> str | None:
    """Why an already-normalised address is refused for an account, or None."""
    if not email or len(email) > EMAIL_MAX or has_invisible_characters(email):
        return INVALID
    local, at, domain = email.rpartition("@")
    if not at or not local or len(local.encode("utf-8")) > LOCAL_PART_MAX:
        return INVALID
    if not _dot_atom(local) or not _domain_ok(domain):
        return INVALID
    parts = [local, *_unicode_domain(domain).split(".")]
    if any(_mixed_scripts(part) for part in parts):
        return MIXED_SCRIPTS
    return None


def valid_email(email: str) -> bool:
    """Is an already-normalised address acceptable for an account?"""
    return email_problem(email) is None


def _mixed_scripts(part: str) -> bool:
    """ASCII text is never mixed-script; only other text needs disarm's Unicode tables
    (4.5 MB, so imported by the first non-ASCII address rather than by every process)."""
    if part.isascii():
        return False
    import disarm

    return bool(disarm.is_mixed_script(part))


def _skeleton_text(text: str) -> str:
    if text.isascii():
        return text
    import disarm  # see _mixed_scripts

    return "".join(
        char if char.isascii() else disarm.skeleton_key(char).lower() or char for char in text
    )


def skeleton(email: str) -> str:
    """What a normalised address looks like: two addresses with one skeleton are one
    account. Computed over the Unicode form of the domain, so a domain spelled in
    look-alike letters of another script meets its original."""
    local, _, domain = email.rpartition("@")
    return f"{_skeleton_text(local)}@{_skeleton_text(_unicode_domain(domain))}"
