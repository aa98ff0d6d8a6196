"""Customers: questionnaire answers checked against the shop's fields, consent and marketing choices."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Connection

from .data.db import customer_answers, customers
from .errors import DomainError

FIELD_TYPES = ("text", "number", "date", "choice")


def check_questionnaire(fields) -> list[dict]:
    """Validates the shop's questionnaire definition (a list of {key, label, type, choices, required, min_age})."""
    if not isinstance(fields, list):
        raise DomainError("bad_questionnaire", "the questionnaire is a list of fields")
    seen = set()
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("key"), str) or not f["key"]:
            raise DomainError("bad_questionnaire", "every field needs a key")
        if f["key"] in seen:
            raise DomainError("bad_questionnaire", f"field {f['key']!r} is defined twice")
        seen.add(f["key"])
        if f.get("type") not in FIELD_TYPES:
            raise DomainError("bad_questionnaire", f"field {f['key']!r}: type must be one of {', '.join(FIELD_TYPES)}")
        if f["type"] == "choice" and not (isinstance(f.get("choices"), list) and f["choices"]
                                          and all(isinstance(c, str) for c in f["choices"])):
            raise DomainError("bad_questionnaire", f"field {f['key']!r}: a choice field needs a list of choices")
        # the kiosk's birthday picker refuses a date younger than this (kiosk/flows/date_picker.py)
        age = f.get("min_age")
        if age is not None and (f["type"] != "date" or isinstance(age, bool) or not isinstance(age, int)
                                or not 1 <= age <= 120):
            raise DomainError("bad_questionnaire", f"field {f['key']!r}: min_age is a whole number of years "
                                                   "(1-120) on a date field")
    return fields


def clean_answer(field: dict, value) -> str:
    key, kind = field["key"], field["type"]
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise DomainError("bad_answer", f"{key}: a number is expected")
        try:
            number = float(value)
        except ValueError:
            raise DomainError("bad_answer", f"{key}: a number is expected") from None
        if number != number or abs(number) > 1e15:
            raise DomainError("bad_answer", f"{key}: a number is expected")
        return str(int(number)) if number.is_integer() else str(number)
    if not isinstance(value, str):
        raise DomainError("bad_answer", f"{key}: a string is expected")
    value = value.strip()
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise DomainError("bad_answer", f"{key}: a date YYYY-MM-DD is expected") from None
    if kind == "choice" and value not in field["choices"]:
        raise DomainError("bad_answer", f"{key}: one of {', '.join(field['choices'])} is expected")
    if len(value) > 500:
        raise DomainError("bad_answer", f"{key}: at most 500 characters")
    return value


def save_answers(conn: Connection, customer_id: int, answers, questionnaire: list[dict], *, at: datetime) -> None:
    if not isinstance(answers, dict):
        raise DomainError("bad_answer", "answers are an object of field key -> value")
    fields = {f["key"]: f for f in questionnaire or []}
    unknown = set(answers) - set(fields)
    if unknown:
        raise DomainError("bad_answer", f"no such question: {', '.join(sorted(unknown))}")
    for key, value in answers.items():
        conn.execute(delete(customer_answers).where(customer_answers.c.customer_id == customer_id,
                                                    customer_answers.c.field == key))
        if value is None or value == "":
            continue
        conn.execute(insert(customer_answers).values(customer_id=customer_id, field=key,
                                                     value=clean_answer(fields[key], value), answered_at=at))


def missing_required(questionnaire: list[dict], answers: dict) -> list[str]:
    return [f["key"] for f in questionnaire or [] if f.get("required") and answers.get(f["key"]) in (None, "")]


def set_choices(conn: Connection, customer_id: int, *, consent=None, marketing=None, at: datetime) -> None:
    """Consent and marketing opt-in, each with the moment it was given (or withdrawn)."""
    values: dict = {}
    for name, value in (("consent", consent), ("marketing", marketing)):
        if value is not None and not isinstance(value, bool):
            raise DomainError("bad_choice", f"{name} must be true or false")
    if consent is not None:
        values["consent_at"] = at if consent else None
    if marketing is not None:
        values["marketing_opt_in"] = marketing
        values["marketing_opt_in_at"] = at
    if values:
        conn.execute(update(customers).where(customers.c.id == customer_id).values(**values))
