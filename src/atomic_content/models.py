"""Pydantic models of every content file kind.

The models check the *shape* of one file (types, allowed values, unknown keys — every model is
``extra="forbid"``). Checks that need more than one file (does this segment exist? is that layout
there?) live in :mod:`atomic_content.repository`. The field docs here are the source of the JSON
Schemas written by ``atomic schema``; docs/format.md explains them with examples.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Mapping
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parseaddr
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    StringConstraints,
    create_model,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError

from .tokens import check_header_value

if TYPE_CHECKING:
    from .channels.base import ChannelRenderer

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
    """Base of all content models: unknown keys are errors, values are never coerced silently,
    and a validation error never repeats the input (it may be customer data)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True
    )


# --------------------------------------------------------------------------- atomic.yaml


# Brand values end up in e-mail headers (From, Reply-To, List-Unsubscribe) and in the HTML of
# every message (colours in style attributes, URLs in href/src). Python's email package before
# 3.11.10/3.12.5 does not refuse header injection (CVE-2024-6923), so the checks are done here,
# on the content, whatever Python runs; channels/email.py repeats them before it writes headers.

# A bare address, deliberately narrower than RFC 5322: dot-atoms of letters, digits, "_", "+",
# "=" and "-" (so no "?" or "%", which would change the meaning of a mailto: URL), an ASCII
# domain of at least two labels.
_ADDRESS: Final = re.compile(
    r"[A-Za-z0-9_+=-]+(?:\.[A-Za-z0-9_+=-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_ADDRESS_MAX: Final = 254  # RFC 5321 path limit
_LABEL: Final = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
# Dots between labels are required, so a long run of letters cannot be split many ways.
_HOST: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_HOST_MAX: Final = 253
_HEX_COLOUR: Final = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# Characters that end a URL in HTML attributes, CSS url(...) or an <...> in a header.
_URL_BREAKERS: Final = {
    '"': "a double quote",
    "'": "a single quote",
    "<": "an angle bracket (<)",
    ">": "an angle bracket (>)",
    "\\": "a backslash",
    "`": "a backtick",
}
_ADDRESS_BREAKERS: Final = {
    ",": "a comma",
    ";": "a semicolon",
    "<": "an angle bracket (<)",
    ">": "an angle bracket (>)",
    '"': "a double quote",
    "(": "a parenthesis",
    ")": "a parenthesis",
    ":": "a colon",
    "\\": "a backslash",
    "[": "a square bracket",
    "]": "a square bracket",
}


def _control_problem(value: str) -> str | None:
    """The first control character of ``value``, described (never the value)."""
    for char in value:
        code = ord(char)
        if char == "\r":
            return "contains a carriage return (CR)"
        if char == "\n":
            return "contains a line feed (LF)"
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return f"contains a control character (U+{code:04X})"
    return None


def _space_problem(value: str) -> str | None:
    return "contains a space" if any(char.isspace() for char in value) else None


def address_problem(value: str) -> str | None:
    """Why ``value`` is not one bare e-mail address (``hello@example.com``), or None.

    Refused: control characters and spaces (CR/LF above all), anything that makes it a list
    or adds a display name (``,`` ``;`` ``<`` ``>`` quotes, parentheses, ``:``), non-ASCII
    text, and whatever does not match a plain ``local@domain.tld`` pattern or does not parse
    back unchanged with :func:`email.utils.parseaddr` and :class:`email.headerregistry.Address`.
    The reason describes the problem, never the value (the same check guards customer
    addresses at render time).
    """
    problem = _control_problem(value)
    if problem is not None:
        return problem
    for char in value:
        if char in _ADDRESS_BREAKERS:
            return f"contains {_ADDRESS_BREAKERS[char]}"
    problem = _space_problem(value)
    if problem is not None:
        return problem
    if "=?" in value:
        return "contains '=?', which mail programs may decode as an encoded word"
    if not value.isascii():
        return "contains a non-ASCII character"
    if len(value) > _ADDRESS_MAX:
        return f"is longer than {_ADDRESS_MAX} characters"
    if _ADDRESS.fullmatch(value) is None:
        return "is not an e-mail address such as hello@example.com"
    try:
        parsed = Address(addr_spec=value)
    except (ValueError, IndexError, HeaderParseError):
        return "is not an e-mail address such as hello@example.com"
    if parsed.addr_spec != value or parseaddr(value) != ("", value):
        return "is not an e-mail address such as hello@example.com"
    return None


def https_url_problem(value: str, *, in_header: bool = False) -> str | None:
    """Why ``value`` is not a safe absolute ``https://`` URL, or None.

    Refused: control characters and white space, non-ASCII characters (percent-encode them;
    a domain in its ``xn--`` form), quotes, angle brackets, backslashes and backticks (they
    end an HTML attribute, a CSS ``url(...)`` or a ``<...>`` in a header), another scheme, a
    missing host and a user name before the host (``https://brand.example@evil.example``).
    ``in_header``: the URL goes into List-Unsubscribe, where a comma separates entries and
    ``=?`` may be decoded as an RFC 2047 encoded word, so both are refused too. The reason
    describes the problem, never the value.
    """
    problem = _control_problem(value)
    if problem is not None:
        return problem
    if not value.isascii():
        return "contains a non-ASCII character"
    for char in value:
        if char in _URL_BREAKERS:
            return f"contains {_URL_BREAKERS[char]}"
    if in_header and "," in value:
        return "contains a comma, which would split the List-Unsubscribe header"
    if in_header and "=?" in value:
        return "contains '=?', which mail programs may decode as an encoded word"
    problem = _space_problem(value)
    if problem is not None:
        return problem
    if not value.startswith("https://"):
        return "must start with https://"
    try:
        parts = urlsplit(value)
        if parts.port == 0:  # reading .port also raises ValueError for a malformed one
            return "is not a valid URL"
    except ValueError:
        return "is not a valid URL"
    if "@" in parts.netloc:
        return "names a user before the host (an '@' in the address part)"
    host = parts.hostname
    if not host or len(host) > _HOST_MAX or _HOST.fullmatch(host) is None:
        return "does not name a host such as www.example.com"
    return None


_DEEP_LINK_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_RESERVED_SCHEMES: Final = frozenset(
    {
        # Run code or read local data in a browser or mail client.
        "javascript", "vbscript", "data", "blob", "file", "filesystem", "about", "view-source",
        "jar", "chrome", "resource", "ms-appx", "res",
        # The web's and the mail client's own: an app link written with them is not one.
        "http", "https", "mailto", "tel", "ftp", "ws", "wss",
    }
)  # fmt: skip


def deep_link_scheme_problem(value: str) -> str | None:
    """Why ``value`` cannot be the brand's app deep-link scheme (``northwind`` for
    ``northwind://...``), or None.

    The scheme is added to the link schemes that content may use (CTAs, Markdown links, push
    deep links), so one that a browser or mail client acts on itself would let an atom run
    script (``javascript``) or open local data (``data``, ``file``) in every message; the
    web's own schemes (``https``, ``mailto``, ...) are allowed anyway and are not an app's.
    """
    if _DEEP_LINK_SCHEME.fullmatch(value) is None:
        return "is not a URL scheme: lower-case letters, digits, '+', '-' or '.', a letter first"
    if value in _RESERVED_SCHEMES:
        return "is a scheme browsers or mail programs handle themselves, not an app's own"
    return None


def colour_problem(value: str) -> str | None:
    """Why ``value`` is not exactly a hex colour ``#rgb`` or ``#rrggbb``, or None.

    Brand colours are written into ``style`` attributes, so anything after the colour
    (``;background-image:url(...)``) would be CSS of its own. ``#rrggbbaa`` is refused too:
    several mail clients (Outlook above all) do not understand it.
    """
    if _HEX_COLOUR.fullmatch(value) is not None:
        return None
    if re.fullmatch(r"#(?:[0-9a-fA-F]{4}|[0-9a-fA-F]{8})", value) is not None:
        return "has an alpha part, which several mail clients ignore"
    if _HEX_COLOUR.match(value) is not None:
        return "has text after the colour, which would become CSS of its own"
    return "is not a hex colour such as #1f5f4a"


def _checked(problem: Callable[..., str | None], hint: str, **options: bool) -> AfterValidator:
    """A validator raising a positioned schema error with ``hint`` when ``problem`` objects."""

    def check(value: str) -> str:
        reason = problem(value, **options)
        if reason is not None:
            # ``invalid_format`` maps to schema.invalid_format; ``hint`` replaces the generic
            # one (repository.schema_diagnostics).
            raise PydanticCustomError("invalid_format", reason, {"hint": hint})
        return value

    return AfterValidator(check)


DeepLinkScheme = Annotated[
    str,
    _checked(
        deep_link_scheme_problem,
        "write your app's own scheme without '://', e.g. northwind for northwind://...; "
        "javascript, data, file, http(s), mailto and other schemes browsers handle are refused",
    ),
    Field(
        description="The app's own URL scheme for deep links (northwind for northwind://...); "
        "not one that browsers or mail programs handle themselves.",
        json_schema_extra={
            "pattern": "^[a-z][a-z0-9+.-]*$",
            "not": {"enum": sorted(_RESERVED_SCHEMES)},
        },
    ),
]
MailAddress = Annotated[
    str,
    _checked(
        address_problem,
        "write one plain address such as hello@example.com, without a name, quotes, commas "
        "or angle brackets",
    ),
    Field(
        description="One bare e-mail address such as hello@example.com: no display name, "
        "quotes, commas, angle brackets or line breaks.",
        json_schema_extra={"pattern": "^" + _ADDRESS.pattern + "$", "maxLength": _ADDRESS_MAX},
    ),
]
HttpsUrl = Annotated[
    str,
    _checked(
        https_url_problem,
        "write an https:// address without spaces or quotes, e.g. https://www.example.com/; "
        "percent-encode other characters",
    ),
    Field(
        description="An absolute https:// URL without spaces, quotes or angle brackets.",
        json_schema_extra={"pattern": "^https://[^\\s\"'<>\\\\`]+$"},
    ),
]
HeaderUrl = Annotated[
    str,
    _checked(
        https_url_problem,
        "write an https:// address without spaces, quotes or commas, e.g. "
        "https://www.example.com/unsubscribe; percent-encode a comma as %2C and ? as %3F",
        in_header=True,
    ),
    Field(
        description="An absolute https:// URL without spaces, quotes, angle brackets, "
        "commas or '=?' (it goes into the List-Unsubscribe header).",
        json_schema_extra={"pattern": "^(?!.*=\\?)https://[^\\s\"'<>\\\\`,]+$"},
    ),
]
HexColour = Annotated[
    str,
    _checked(colour_problem, "write a colour as #rrggbb, e.g. #1f5f4a (or #rgb, e.g. #fff)"),
    Field(
        description="A hex colour: #rgb or #rrggbb, and nothing else.",
        json_schema_extra={"pattern": "^" + _HEX_COLOUR.pattern + "$"},
    ),
]
SenderName = Annotated[
    NonEmpty,
    _checked(
        check_header_value,
        "write the name as plain text on one line; it becomes the From header's display name",
    ),
    Field(description="The From display name: one line, no control characters, no '=?'."),
]


class Sender(Model):
    name: SenderName
    email: MailAddress


ASSET_PATH: Final = re.compile(
    r"assets(?:/[A-Za-z0-9][A-Za-z0-9._-]*)+\.(?:png|jpg|jpeg|gif)", re.IGNORECASE
)


def image_source_problem(value: str) -> str | None:
    """Why ``value`` is neither an asset path (``assets/logo.png``: a png, jpg or gif below
    the content's assets/ folder, no ``..``) nor a safe https URL, or None."""
    if value.startswith("assets/"):
        if ASSET_PATH.fullmatch(value) is None:
            return "is not an asset path such as assets/logo.png (png, jpg or gif; no '..')"
        return None
    return https_url_problem(value)


ImageSource = Annotated[
    str,
    _checked(
        image_source_problem,
        "write an asset path such as assets/logo.png or an https:// address without spaces "
        "or quotes",
    ),
    Field(
        description="An image shipped with the content (assets/logo.png) or an absolute "
        "https:// URL.",
        json_schema_extra={
            "pattern": "^(assets/[A-Za-z0-9][A-Za-z0-9._/-]*|https://[^\\s\"'<>\\\\`]+)$"
        },
    ),
]


class Logo(Model):
    src: ImageSource
    alt: NonEmpty


class Unsubscribe(Model):
    url: HeaderUrl
    mailto: MailAddress | None = None


class DarkColors(Model):
    """The brand colours on dark backgrounds (``prefers-color-scheme: dark``); the same roles
    as :class:`Colors`."""

    primary: HexColour = "#7cc4a8"
    accent: HexColour = "#e8955a"
    text: HexColour = "#ecebe6"
    background: HexColour = "#161816"
    surface: HexColour = "#1f2220"
    muted: HexColour = "#a9a69e"
    on_primary: HexColour = "#0f2a20"
    on_accent: HexColour = "#161816"


class Colors(Model):
    """Brand colours by role. Layouts put text on these pairs only, and ``atomic validate``
    checks each pair for WCAG AA contrast (:mod:`atomic_content.contrast`)."""

    primary: HexColour = Field(
        default="#1f5f4a", description="Headlines, links and the button background."
    )
    accent: HexColour = Field(default="#b4531b", description="The offer panel background.")
    text: HexColour = Field(default="#1d1d1b", description="Body text.")
    background: HexColour = Field(default="#f6f3ee", description="The page background.")
    surface: HexColour = Field(default="#ffffff", description="The content panel background.")
    muted: HexColour = Field(default="#6b6b66", description="Footer and secondary text.")
    on_primary: HexColour = Field(default="#ffffff", description="Text on primary (buttons).")
    on_accent: HexColour = Field(default="#ffffff", description="Text on accent (the offer).")
    dark: DarkColors = Field(
        default=DarkColors(), description="The same roles for dark mode (prefers-color-scheme)."
    )


class Brand(Model):
    name: NonEmpty
    sender: Sender
    reply_to: MailAddress | None = None
    base_url: HttpsUrl
    asset_base_url: HttpsUrl | None = Field(
        default=None,
        description="Production URL of the assets/ folder: an asset path assets/x.png is "
        "sent as <asset_base_url>x.png (default: <base_url>/assets/).",
    )
    deep_link_scheme: DeepLinkScheme | None = None
    logo: Logo | None = None
    address: str | None = None
    unsubscribe: Unsubscribe
    colors: Colors = Colors()


class LocaleSettings(Model):
    name: str | None = None
    fallback: LocaleCode | None = Field(
        default=None, description="The locale to try next when content in this one is missing."
    )


class Channels(Model):
    """The ``channels:`` block of atomic.yaml: one optional block per registered channel.

    This class has no fields; settings hold an instance of :func:`channels_model`, its subclass
    with one field per channel of the registry (:mod:`atomic_content.channels`), typed by the
    channel's ``settings_model``. A channel is enabled when its block is present.
    """

    def enabled(self) -> list[str]:
        """Names of the channels present in the settings, in registry order."""
        return [name for name in type(self).model_fields if getattr(self, name) is not None]

    def block(self, name: str) -> BaseModel | None:
        """The settings block of channel ``name``; None when it is absent or not a channel."""
        value = getattr(self, name) if name in type(self).model_fields else None
        return value if isinstance(value, BaseModel) else None


def channel_registry() -> Mapping[str, ChannelRenderer]:
    """The registered channels by name, in registry order (:data:`atomic_content.channels.
    RENDERERS`).

    Imported when called: the channel modules build on this module (and on the loader and the
    resolver), so the layers below them reach the registry at run time, never at import time.
    """
    from .channels import RENDERERS

    return RENDERERS


_CHANNELS_MODELS: dict[tuple[tuple[str, type[BaseModel]], ...], type[Channels]] = {}


def channels_model() -> type[Channels]:
    """The :class:`Channels` model of the registered channels (made once per registry state).

    Field ``<name>`` is ``<settings_model> | None`` (default None), in registry order, so that
    the JSON Schema, validation and :meth:`Channels.enabled` follow the registry.
    """
    key = tuple((name, r.settings_model) for name, r in channel_registry().items())
    model = _CHANNELS_MODELS.get(key)
    if model is None:
        fields: dict[str, Any] = {name: (spec | None, None) for name, spec in key}
        model = create_model("Channels", __base__=Channels, __module__=__name__, **fields)
        _CHANNELS_MODELS[key] = model
    return model


def _channels_schema(_source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    # Runs when Settings is first used (defer_build), when the registry can be imported.
    return handler(channels_model())


class PrivacyBudget(Model):
    """The creepiness budget of a channel: how many distinct personal attributes one message
    may use (tokens of its atoms plus the conditions of the audience that selected it)."""

    max_personal_dimensions: Annotated[int, Field(ge=0, le=1000)]
    level: Literal["warning", "error"] = Field(
        default="warning", description="How a message over the budget is reported."
    )


class ChannelSettings(Model):
    """What every ``channels.<name>`` block of atomic.yaml may say, whatever the channel."""

    purpose: Identifier | None = Field(
        default=None,
        description="The consent purpose a customer must have given for this channel to send "
        "at all (e.g. email_marketing); without it the message is suppressed, never sent.",
    )
    budget: PrivacyBudget | None = None


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
    contrast: RuleLevel = Field(
        default=RuleLevel.ERROR,
        description="Brand colour pairs below WCAG AA contrast (a11y.contrast).",
    )
    experiment_freeze: RuleLevel = Field(
        default=RuleLevel.ERROR,
        description="`atomic diff`: a change to an atom of a running experiment's variants "
        "(it invalidates the experiment).",
    )
    experiment_power: RuleLevel = Field(
        default=RuleLevel.WARNING,
        description="validate/diff: a segment too small to detect the experiment's minimum "
        "detectable effect within its window.",
    )


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

    # Built on first use, not at import: the model of the ``channels`` block comes from the
    # channel registry, which imports this module.
    model_config = ConfigDict(defer_build=True)

    brand: Brand
    default_locale: LocaleCode
    locales: dict[LocaleCode, LocaleSettings]
    channels: Annotated[Channels, GetPydanticSchema(_channels_schema)]
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
    """How much harm the misuse of an attribute can do (docs/privacy.md).

    ``special`` are the GDPR Art. 9 categories (health, religion, ethnicity, sexual
    orientation ...): never in a token, targeting only with an ``allowed_use``. ``sensitive``
    needs an ``allowed_use`` for any use. ``personal`` attributes count against the channel's
    creepiness budget; ``none`` is not personal data.
    """

    NONE = "none"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"
    SPECIAL = "special"

    @property
    def personal(self) -> bool:
        """Whether the attribute is personal data (counts against the creepiness budget)."""
        return self is not Sensitivity.NONE

    @property
    def needs_allowed_use(self) -> bool:
        """Whether any use (targeting or token) needs a written ``allowed_use``."""
        return self in (Sensitivity.SENSITIVE, Sensitivity.SPECIAL)


AttributePath = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
]


class AttributeSpec(Model):
    type: AttributeType
    optional: bool = False
    description: str = ""
    example: Any = None
    sensitivity: Sensitivity = Sensitivity.NONE
    purposes: list[Identifier] | None = Field(
        default=None,
        max_length=MAX_LIST_ITEMS,
        description="The consent purposes a use of this attribute needs (targeting or tokens); "
        "a customer who did not give one of them is treated as not having the attribute. "
        "Absent: `personalization` when the profile names where that consent lives (except "
        "for the id, locale and consent attributes); [] = no consent needed.",
    )
    allowed_use: NonEmpty | None = Field(
        default=None,
        description="Why a sensitive or special attribute may be used (a written "
        "justification a data-protection review can read); without it, targeting or tokens on "
        "the attribute are errors.",
    )


PERSONALIZATION = "personalization"
"""The purpose the legacy ``consent_attribute`` stands for."""


class Profile(Model):
    """``profile.yaml``: the customer attributes conditions and tokens may use."""

    id_attribute: AttributePath = "id"
    locale_attribute: AttributePath | None = None
    consent_attribute: AttributePath | None = Field(
        default=None,
        description="Where the customer's consent to personalization lives (a boolean "
        "attribute). Kept for older profiles: the same as `consents: {personalization: ...}`.",
    )
    consents: dict[Identifier, AttributePath] = Field(
        default_factory=dict,
        description="Consent purpose -> the boolean attribute holding the customer's consent "
        "to it (e.g. personalization: consent.personalization). Only `true` grants a purpose.",
    )
    email_attribute: AttributePath | None = Field(
        default=None,
        description="The attribute holding the customer's email address: the To header of "
        "an .eml (a string attribute).",
    )
    attributes: dict[AttributePath, AttributeSpec]

    @property
    def consent_attributes(self) -> dict[str, str]:
        """Purpose -> consent attribute, the legacy ``consent_attribute`` as
        ``personalization`` (unless ``consents`` names that purpose itself)."""
        found = dict(self.consents)
        if self.consent_attribute is not None:
            found.setdefault(PERSONALIZATION, self.consent_attribute)
        return dict(sorted(found.items()))

    def purposes_of(self, attribute: str) -> frozenset[str]:
        """The consent purposes a use of ``attribute`` needs (see ``AttributeSpec.purposes``)."""
        spec = self.attributes.get(attribute)
        if spec is None:
            return frozenset()
        if spec.purposes is not None:
            return frozenset(spec.purposes)
        consents = self.consent_attributes
        if PERSONALIZATION not in consents:
            return frozenset()
        if attribute in (self.id_attribute, self.locale_attribute, *consents.values()):
            return frozenset()
        return frozenset({PERSONALIZATION})


# --------------------------------------------------------------------------- segments


GENERIC: Final = "generic"
"""The audience id of the message for nobody in particular (customers in none of a journey's
segments): every journey's generic variant id ends in it."""

OVERALL: Final = "all"
"""The segment name of ``atomic analyze``'s row over every customer of an experiment."""

RESERVED_SEGMENT_IDS: Final[Mapping[str, tuple[str, str]]] = {
    GENERIC: (
        "it names the audience of customers in no segment (every journey's generic variant "
        "ends in it)",
        "customers in no segment already get the generic message, made of atoms without "
        "`segments:`",
    ),
    OVERALL: ("`atomic analyze` names its row over every customer so", ""),
}
"""Ids the engine gives a meaning of its own, which a segment therefore may not have: id ->
(why it is reserved, advice for the hint). A segment named ``generic`` would share its
variant ids with the generic audience's, so the manifest would hold two variants of one id."""


def _not_reserved(value: str) -> str:
    """``value`` unless it is a reserved segment id (error type ``reserved_id``, which
    :func:`atomic_content.repository.schema_diagnostics` positions and explains)."""
    reserved = RESERVED_SEGMENT_IDS.get(value)
    if reserved is not None:
        reason, advice = reserved
        raise PydanticCustomError(
            "reserved_id",
            "segment id '{id}' is reserved: {reason}",
            {"id": value, "reason": reason, "advice": advice},
        )
    return value


SegmentId = Annotated[
    Identifier,
    AfterValidator(_not_reserved),
    Field(
        description="Lower-case letters, digits, '-' and '_'; starts with a letter or digit; "
        "not " + " or ".join(sorted(RESERVED_SEGMENT_IDS)) + " (reserved).",
        json_schema_extra={"not": {"enum": sorted(RESERVED_SEGMENT_IDS)}},
    ),
]


class Segment(Model):
    id: SegmentId
    name: str | None = None
    description: str = ""
    condition: dict[str, Any]
    priority: int = 0
    size: Annotated[int, Field(ge=0)] | None = None
    value: Annotated[float, Field(ge=0)] | None = None
    baseline_rate: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        default=None,
        description="Share of the segment's customers that convert without personalization "
        "(e.g. 0.04); the baseline of `atomic experiments plan`.",
    )


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
        if not present:
            # Its own error type: the loader names the key the atom's slot kind needs.
            raise PydanticCustomError(
                "atom_no_content", "an atom holds exactly one of text, cta, image or offer"
            )
        if len(present) != 1:
            raise ValueError(
                "an atom holds exactly one of text, cta, image or offer"
                + f" (found {', '.join(present)})"
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


def _not_empty(message: str, hint: str) -> AfterValidator:
    """A validator refusing an empty list (``schema.empty`` with ``message`` and ``hint``) for
    a field whose absence means "all": an empty list would silently mean none."""

    def check(value: list[str]) -> list[str]:
        if not value:
            raise PydanticCustomError("too_short", message, {"hint": hint})
        return value

    return AfterValidator(check)


JourneyLocales = Annotated[
    list[LocaleCode],
    Field(max_length=MAX_LIST_ITEMS, json_schema_extra={"minItems": 1}),
    _not_empty(
        "an empty list names no locale, so the journey would have no message at all",
        "remove `locales:` to write the journey in every locale of atomic.yaml, or list the "
        "locales it is written in, e.g. [en, de]",
    ),
]


class Journey(Model):
    id: Identifier
    name: str
    description: str = ""
    audience: dict[str, Any] | None = None
    segments: list[Identifier] | None = Field(default=None, max_length=MAX_LIST_ITEMS)
    locales: JourneyLocales | None = Field(
        default=None,
        description="The locales the journey is written in; absent: every locale.",
    )
    allow_large_change: bool = False
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_JOURNEY_STEPS)]

    def locales_in(self, settings: Settings) -> list[str]:
        """The locales this journey's messages are built in: its ``locales`` in the order
        written, without repeats, else every locale of ``settings`` in theirs. The one reading
        of the field (the plan, the locale rule, validate and coverage all ask here); never
        empty when ``settings`` has a locale, since an empty ``locales:`` does not load
        (``schema.empty``)."""
        if self.locales is not None:
            return list(dict.fromkeys(self.locales))
        return list(settings.locales)


# --------------------------------------------------------------------------- layouts


class Layout(Model):
    id: Identifier
    description: str = ""
    template: str | None = None
    slots: dict[Identifier, Literal["required", "optional"]]


# --------------------------------------------------------------------------- experiments


class ArmKind(enum.StrEnum):
    """What an experiment arm sends: the generic variant, the audience variant, or nothing."""

    CONTROL = "control"
    PERSONALIZED = "personalized"
    HOLDOUT = "holdout"


class Metric(enum.StrEnum):
    CONVERSION = "conversion"
    REVENUE_PER_RECIPIENT = "revenue_per_recipient"


class ExperimentStatus(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    STOPPED = "stopped"
    FINISHED = "finished"


class Correction(enum.StrEnum):
    HOLM = "holm"
    BH = "bh"
    NONE = "none"


class Arm(Model):
    id: ArmKind = Field(
        description="control: the generic variant of every message; personalized: the "
        "audience's variant; holdout: no message."
    )
    weight: Annotated[float, Field(gt=0, le=1)] = Field(
        description="Share of the experiment's customers in this arm; the weights sum to 1."
    )


class Namespace(Model):
    """A GrowthBook namespace: only customers whose namespace hash falls in [start, end)."""

    id: NonEmpty
    start: Annotated[float, Field(ge=0, le=1)]
    end: Annotated[float, Field(ge=0, le=1)]

    @model_validator(mode="after")
    def _ordered(self) -> Namespace:
        if self.start >= self.end:
            raise ValueError("namespace start must be below its end")
        return self


ExperimentSteps = Annotated[
    list[Identifier],
    Field(max_length=MAX_JOURNEY_STEPS, json_schema_extra={"minItems": 1}),
    _not_empty(
        "an empty list names no step, so the experiment would cover no message",
        "remove `steps:` to run the experiment on the whole journey, or list the steps it "
        "covers, e.g. [day-0]",
    ),
]


class Experiment(Model):
    """``experiments/<id>.yaml``: a controlled test of personalization against the generic
    message (and, with a holdout, against no message), pre-registered before it starts."""

    id: Identifier
    key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None = Field(
        default=None,
        description="The experiment key (GrowthBook tracking key and hash seed); default: id.",
    )
    name: str | None = None
    journey: Identifier
    steps: ExperimentSteps | None = Field(
        default=None,
        description="The steps the experiment covers; absent means the whole journey.",
    )
    hypothesis: NonEmpty
    null_hypothesis: NonEmpty
    metric: Metric = Metric.CONVERSION
    secondary_metrics: list[Identifier] = Field(default_factory=list, max_length=20)
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    power: Annotated[float, Field(gt=0.5, lt=1)] = 0.8
    mde: Annotated[float, Field(gt=0)] = Field(
        description="Minimum detectable effect, absolute: a share of customers for conversion "
        "(0.02 = 2 percentage points), money per recipient for revenue."
    )
    baseline_rate: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        default=None,
        description="Conversion rate without personalization for segments that give none.",
    )
    revenue_sd: Annotated[float, Field(gt=0)] | None = Field(
        default=None,
        description="Standard deviation of revenue per recipient (metric revenue_per_recipient).",
    )
    daily_volume: Annotated[int, Field(gt=0)] | None = Field(
        default=None,
        description="Customers entering the journey per day (all audiences): with segment "
        "`size` it gives each segment's expected duration.",
    )
    correction: Correction = Correction.HOLM
    arms: Annotated[list[Arm], Field(min_length=2, max_length=3)]
    coverage: Annotated[float, Field(gt=0, le=1)] = 1.0
    namespace: Namespace | None = None
    hash_attribute: AttributePath | None = Field(
        default=None,
        description="Profile attribute hashed into an arm; default: the profile's id_attribute.",
    )
    hash_version: Literal[1, 2] = 2
    start: dt.date
    end: dt.date | None = None
    status: ExperimentStatus = ExperimentStatus.DRAFT
    owner: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        kinds = [arm.id for arm in self.arms]
        if len(set(kinds)) != len(kinds):
            raise ValueError("each arm (control, personalized, holdout) may appear once")
        if ArmKind.CONTROL not in kinds or ArmKind.PERSONALIZED not in kinds:
            raise ValueError("an experiment needs a control and a personalized arm")
        total = sum(arm.weight for arm in self.arms)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"the arm weights sum to {total:g}, not 1")
        if self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        if self.metric is Metric.REVENUE_PER_RECIPIENT and self.revenue_sd is None:
            raise ValueError("metric revenue_per_recipient needs revenue_sd for the power plan")
        return self

    @property
    def tracking_key(self) -> str:
        """The GrowthBook key (hash seed): ``key`` or the id."""
        return self.key or self.id

    def weight(self, arm: ArmKind) -> float:
        return next((a.weight for a in self.arms if a.id is arm), 0.0)

    def covers(self, journey: str, step: str) -> bool:
        return journey == self.journey and (self.steps is None or step in self.steps)

    def active_on(self, day: dt.date) -> bool:
        return (
            self.status is ExperimentStatus.RUNNING
            and self.start <= day
            and (self.end is None or day <= self.end)
        )


# --------------------------------------------------------------------------- strings

StringText = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class Strings(Model):
    """``strings/<locale>.yaml``: the words the engine and the layouts write themselves, in
    one locale (``id``: the locale, default the file name). A missing key falls back along the
    locale chain (:mod:`atomic_content.strings`)."""

    id: LocaleCode
    your_code: StringText | None = Field(default=None, description="Label above an offer code.")
    valid_until: StringText | None = Field(default=None, description="Before an offer's end date.")
    why_email: StringText | None = Field(
        default=None, description="Email footer: why the customer gets it; {brand} is the name."
    )
    unsubscribe: StringText | None = Field(default=None, description="The unsubscribe link.")
    email_preferences: StringText | None = Field(default=None, description="Preferences link.")
    privacy: StringText | None = Field(default=None, description="Privacy policy link.")
    imprint: StringText | None = Field(default=None, description="Imprint (legal notice) link.")
    opt_out: StringText | None = Field(
        default=None, description="The line that ends every text message."
    )


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
    "experiment": Experiment,
    "strings": Strings,
}
"""File kind -> model; the schema names of ``atomic schema``."""
