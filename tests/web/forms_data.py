"""Complete, valid submissions of both public forms, every field filled with a marker."""

from __future__ import annotations

from coordinator.forms import PROVIDER_FORM, REQUEST_FORM, FormSchema, Widget

CANARY = "Canary-7f3a"

SPECIAL = {
    "email": f"{CANARY.lower()}@example.org",
    "phone": "+1 555 010 7733",
    "matrix": "@canary7f3a:example.org",
    "website": "https://canary-7f3a.example.org",
    "country": "US",
    "urgency": "high",
    "duration": "ongoing",
}


def full_form(schema: FormSchema, **changes: str | list[str]) -> list[tuple[str, str]]:
    """Every field of the schema filled in: free text carries the canary and the field name."""
    pairs: list[tuple[str, str]] = []
    for spec in schema.fields:
        if spec.name in changes:
            value = changes[spec.name]
            values = value if isinstance(value, list) else [value]
            pairs += [(spec.name, v) for v in values]
        elif spec.widget is Widget.CHECKBOXES:
            pairs += [(spec.name, c.value) for c in spec.choices[:2]]
        elif spec.name in SPECIAL:
            pairs.append((spec.name, SPECIAL[spec.name]))
        else:
            pairs.append((spec.name, f"{CANARY} {spec.name} text"))
    return pairs


def expected_text(pairs: list[tuple[str, str]], name: str) -> str:
    return ", ".join(v for k, v in pairs if k == name)


SCHEMAS = {"request": REQUEST_FORM, "provider": PROVIDER_FORM}
