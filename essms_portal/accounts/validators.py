"""The portal's password rule, after the CNIL (délibération n° 2022-100 du 21 juillet 2022
portant adoption d'une recommandation relative aux mots de passe et autres secrets partagés).

The CNIL asks for about 80 bits of entropy when a password is the only factor, and gives as
examples 12 characters drawn from the four classes, or a passphrase of several words. The
portal's exact rule (docs/operations.md):

* at least 12 characters with at least 3 of the 4 classes (lower case, upper case, digits,
  special characters — anything else, space and accented letters included); or
* a passphrase of at least 16 characters, whatever its classes;
* in both cases, at least 6 distinct characters (``aaaaaaaaaaaaaaaa`` is no passphrase).

Common passwords (Django's list and the French list ``common-passwords-fr.txt.gz``) and
passwords resembling the account's attributes are refused by Django's own validators.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

MIN_LENGTH = 12
MIN_CLASSES = 3
PASSPHRASE_LENGTH = 16
MIN_DISTINCT = 6


def character_classes(password: str) -> int:
    """How many of the 4 classes (lower, upper, digit, special) the password uses."""
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not (c.islower() or c.isupper() or c.isdigit()) for c in password),
        )
    )


class CnilPasswordValidator:
    """12 characters and 3 classes out of 4, or a passphrase of 16 characters (CNIL 2022-100)."""

    def validate(self, password: str, user: Any = None) -> None:
        errors = []
        if len(set(password)) < MIN_DISTINCT:
            errors.append(
                ValidationError(
                    "Ce mot de passe répète trop les mêmes caractères "
                    "(au moins %(distinct)d caractères différents).",
                    code="password_repetitive",
                    params={"distinct": MIN_DISTINCT},
                )
            )
        if len(password) < PASSPHRASE_LENGTH and (
            len(password) < MIN_LENGTH or character_classes(password) < MIN_CLASSES
        ):
            errors.append(
                ValidationError(
                    "Ce mot de passe est trop faible : il ne mélange que %(classes)d type(s) de "
                    "caractères sur 4 (minuscules, majuscules, chiffres, caractères spéciaux). "
                    "Utilisez au moins %(min_length)d caractères de 3 types, ou une phrase de "
                    "passe d'au moins %(passphrase)d caractères.",
                    code="password_too_weak",
                    params={
                        "classes": character_classes(password),
                        "min_length": MIN_LENGTH,
                        "passphrase": PASSPHRASE_LENGTH,
                    },
                )
            )
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        return (
            f"Au moins {MIN_LENGTH} caractères mêlant 3 types parmi minuscules, majuscules, "
            f"chiffres et caractères spéciaux, ou une phrase de passe d'au moins "
            f"{PASSPHRASE_LENGTH} caractères (recommandation CNIL n° 2022-100)."
        )
