"""Pydantic models of every content file kind.

The models check the *shape* of one file (types, allowed values, unknown keys — every model is
``extra="forbid"``). Checks that need more than one file (does this segment exist? is that layout
there?) live in :mod:`atomic_content.repository`. The field docs here are the source of the JSON
Schemas written by ``atomic schema``; docs/format.md explains them with examples.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80),
    Field(description="Lower-case letters, digits, '-' and '_'; starts with a letter or digit."),
]
LocaleCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35),
    Field(description="A BCP 47 language tag such as en, de or de-AT."),
]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]

MAX_LIST_ITEMS = 1_000
"""Most items of a list field (tags, segments, channels ...): far beyond real use, small enough
that an accidental paste of a customer list is an error, not a slow build."""
MAX_JOURNEY_STEPS = 100
"""Most steps of one journey; every step multiplies the variants a build renders."""


class Model(BaseModel):
    """Base of all content models: unknown keys are errors, values are never coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- atomic.yaml


class Sender(Model):
    name: NonEmpty
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")]


class Logo(Model):
    src: Annotated[str, StringConstraints(pattern=r"^https://")]
    alt: NonEmpty


class Unsubscribe(Model):
    url: Annotated[str, StringConstraints(pattern=r"^https://")]
    mailto: str | None = None


class Colors(Model):
    primary: str = "#1f5f4a"
    accent: str = "#e07a2f"
    text: str = "#1d1d1b"
    background: str = "#f6f3ee"


class Brand(Model):
    name: NonEmpty
    sender: Sender
    reply_to: str | None = None
    base_url: Annotated[str, StringConstraints(pattern=r"^https://")]
    deep_link_scheme: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9+.-]*$")] | None = (
        None
    )
    logo: Logo | None = None
    address: str | None = None
    unsubscribe: Unsubscribe
    colors: Colors = Colors()


class LocaleSettings(Model):
    name: str | None = None
    fallback: LocaleCode | None = Field(
        default=None, description="The locale to try next when content in this one is missing."
    )


class EmailLimits(Model):
    subject_recommended: int = 60
    subject_hard: int = 150
    preheader_min: int = 40
    preheader_recommended: int = 110
    html_bytes_hard: int = 102_400


class AppLimits(Model):
    push_title_recommended: int = 40
    push_body_recommended: int = 120
    push_body_hard: int = 178
    push_payload_bytes_hard: int = 4096


class MicrositeLimits(Model):
    title_recommended: int = 60
    description_recommended: int = 160


class EmailChannel(Model):
    limits: EmailLimits = EmailLimits()


class AppChannel(Model):
    limits: AppLimits = AppLimits()


class MicrositeChannel(Model):
    limits: MicrositeLimits = MicrositeLimits()


class Channels(Model):
    email: EmailChannel | None = None
    app: AppChannel | None = None
    microsite: MicrositeChannel | None = None

    def enabled(self) -> list[str]:
        """Names of the channels present in the settings, in a fixed order."""
        return [name for name in ("email", "app", "microsite") if getattr(self, name) is not None]


class SlotKind(enum.StrEnum):
    LINE = "line"
    MARKDOWN = "markdown"
    CTA = "cta"
    IMAGE = "image"
    OFFER = "offer"


class SlotSpec(Model):
    kind: SlotKind
    description: str = ""


class RuleLevel(enum.StrEnum):
    OFF = "off"
    WARNING = "warning"
    ERROR = "error"


class Governance(Model):
    """Rules applied by ``atomic validate`` (static) and ``atomic diff`` (change rules)."""

    owner_required: RuleLevel = RuleLevel.WARNING
    expired_approved: RuleLevel = RuleLevel.WARNING
    expiry_horizon_days: int = Field(default=14, ge=0)
    change_budget: RuleLevel = RuleLevel.WARNING
    change_budget_percent: float = Field(default=30.0, gt=0, le=100)
    retired_revival: RuleLevel = RuleLevel.ERROR


DEFAULT_SLOTS: dict[str, SlotSpec] = {
    "subject": SlotSpec(kind=SlotKind.LINE, description="Email subject line"),
    "preheader": SlotSpec(kind=SlotKind.LINE, description="Inbox preview text"),
    "headline": SlotSpec(kind=SlotKind.LINE, description="The main headline"),
    "summary": SlotSpec(kind=SlotKind.LINE, description="One sentence summary"),
    "body": SlotSpec(kind=SlotKind.MARKDOWN, description="Body copy"),
    "cta": SlotSpec(kind=SlotKind.CTA, description="Call to action"),
    "offer": SlotSpec(kind=SlotKind.OFFER, description="Promotion"),
    "image": SlotSpec(kind=SlotKind.IMAGE, description="Hero image"),
    "push_title": SlotSpec(kind=SlotKind.LINE, description="Push title"),
    "push_body": SlotSpec(kind=SlotKind.LINE, description="Push body"),
}


class Settings(Model):
    """``atomic.yaml``: brand, locales, channels and the slot vocabulary."""

    brand: Brand
    default_locale: LocaleCode
    locales: dict[LocaleCode, LocaleSettings]
    channels: Channels
    slots: dict[Identifier, SlotSpec] = Field(default_factory=lambda: dict(DEFAULT_SLOTS))
    governance: Governance = Governance()


# --------------------------------------------------------------------------- profile.yaml


class AttributeType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    LIST = "list"


class Sensitivity(enum.StrEnum):
    NONE = "none"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"


AttributePath = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
]


class AttributeSpec(Model):
    type: AttributeType
    optional: bool = False
    description: str = ""
    example: Any = None
    sensitivity: Sensitivity = Sensitivity.NONE


class Profile(Model):
    """``profile.yaml``: the customer attributes conditions and tokens may use."""

    id_attribute: AttributePath = "id"
    locale_attribute: AttributePath | None = None
    consent_attribute: AttributePath | None = None
    attributes: dict[AttributePath, AttributeSpec]


# --------------------------------------------------------------------------- segments


class Segment(Model):
    id: Identifier
    name: str | None = None
    description: str = ""
    condition: dict[str, Any]
    priority: int = 0
    size: Annotated[int, Field(ge=0)] | None = None
    value: Annotated[float, Field(ge=0)] | None = None


# --------------------------------------------------------------------------- atoms


class Status(enum.StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    APPROVED = "approved"
    RETIRED = "retired"


class Cta(Model):
    label: NonEmpty
    url: NonEmpty


class Image(Model):
    src: NonEmpty
    alt: NonEmpty
    width: Annotated[int, Field(gt=0, le=2000)] | None = None


class Offer(Model):
    code: NonEmpty
    headline: NonEmpty
    expires: dt.date | None = None
    terms: str | None = None


CONTENT_FIELDS = ("text", "cta", "image", "offer")


class Atom(Model):
    """One piece of content for one slot, with its targeting."""

    id: Identifier
    slot: Identifier
    text: str | None = None
    cta: Cta | None = None
    image: Image | None = None
    offer: Offer | None = None
    segments: list[Identifier] | None = Field(
        default=None,
        max_length=MAX_LIST_ITEMS,
        description="Any of these segments; absent means the generic fallback.",
    )
    journeys: (
        list[
            Annotated[
                str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?$")
            ]
        ]
        | None
    ) = Field(
        default=None,
        max_length=MAX_LIST_ITEMS,
        description="Journey ids or journey/step; absent means any journey.",
    )
    channels: list[Identifier] | None = Field(default=None, max_length=MAX_LIST_ITEMS)
    locale: LocaleCode | None = None
    priority: int = 0
    status: Status = Status.DRAFT
    owner: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    tags: list[str] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    notes: str | None = None

    @model_validator(mode="after")
    def _one_content_field(self) -> Atom:
        present = [name for name in CONTENT_FIELDS if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError(
                "an atom holds exactly one of text, cta, image or offer"
                + (f" (found {', '.join(present)})" if present else " (found none)")
            )
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError("valid_from is after valid_until")
        return self

    @property
    def content_field(self) -> str:
        """Which of text/cta/image/offer this atom uses."""
        return next(name for name in CONTENT_FIELDS if getattr(self, name) is not None)


# --------------------------------------------------------------------------- journeys


class Step(Model):
    id: Identifier
    name: str | None = None
    trigger: str | None = None
    delay: str | None = None
    channels: dict[Identifier, Identifier] = Field(
        description="Channel -> layout id (layouts/<channel>/<layout>.yaml)."
    )


class Journey(Model):
    id: Identifier
    name: str
    description: str = ""
    audience: dict[str, Any] | None = None
    segments: list[Identifier] | None = Field(default=None, max_length=MAX_LIST_ITEMS)
    locales: list[LocaleCode] | None = Field(default=None, max_length=MAX_LIST_ITEMS)
    allow_large_change: bool = False
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_JOURNEY_STEPS)]


# --------------------------------------------------------------------------- layouts


class Layout(Model):
    id: Identifier
    description: str = ""
    template: str | None = None
    slots: dict[Identifier, Literal["required", "optional"]]


# --------------------------------------------------------------------------- customers


class Customer(Model):
    id: Identifier
    description: str = ""
    attributes: dict[str, Any]


FILE_KINDS: dict[str, type[Model]] = {
    "settings": Settings,
    "profile": Profile,
    "segment": Segment,
    "atom": Atom,
    "journey": Journey,
    "layout": Layout,
    "customer": Customer,
}
"""File kind -> model; the schema names of ``atomic schema``."""
