"""Table of bad inputs, each with its exact expected diagnostic (position, code, message, hint).

Every case writes the valid base tree of ``contentkit`` plus one broken file and checks that
``check_content`` reports exactly the expected diagnostic — and that loading never raises.
``test_all_bad_inputs_in_one_run`` puts them all in one tree: every problem is reported at once.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import atomic_content
from atomic_content import inputs, yamlio
from atomic_content.build import build
from atomic_content.cli import main
from atomic_content.errors import ContentError, Diagnostic
from atomic_content.repository import content_files
from atomic_content.validate import check_content
from conftest import DEMO_CONTENT
from contentkit import BASE, JOURNEY, LAYOUT_EMAIL, MJML, PROFILE, SEGMENT_VIP, write_tree

DAY = dt.date(2026, 11, 22)
MJML_UNCLOSED = MJML.replace("</mj-column>", "", 1)  # lints clean, fails only when rendered


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes | None]
    expected: str  # "path:line:col: severity[code]: message"
    hint: str  # a fragment the hint must contain


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


ATOM = "slot: headline\nstatus: approved\ntext: Hi\n"
# 69 levels of block lists / mappings under an atom field; level 65 is the first refused.
DEEP_BLOCK = ATOM + "tags:\n" + "".join("  " * i + "-\n" for i in range(1, 70))
DEEP_MAP = ATOM + "notes:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 70))
# 40 levels behind an anchor, used 30 levels down: only the expansion is too deep.
DEEP_ALIAS = ATOM + "notes: &d " + "[" * 40 + "]" * 40 + "\ntags: " + "[" * 30 + "*d" + "]" * 30
STEPS = "name: Big\nsteps:\n" + "".join(
    f"  - {{id: s{i}, channels: {{email: basic}}}}\n" for i in range(101)
)

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)

# An impossible date YAML cannot build (it used to abort the file at 1:1 with yaml.syntax and
# hide the other two mistakes).
EXPIRY = "slot: headline\nstatus: aproved\nsegements: [vip]\ntext: Hi\nvalid_until: 2026-13-01\n"

CASES = [
    Case(
        "locale-with-underscore",
        {"atoms/h6.yaml": "slot: headline\nstatus: approved\nlocale: de_AT\ntext: Servus\n"},
        "atoms/h6.yaml:3:9: error[schema.invalid_format]: locale: 'de_AT' is not a language tag",
        "did you mean 'de-AT'? locales are language tags written with '-'",
    ),
    Case(
        "id-from-file-name",
        {"atoms/My-Headline.yaml": "slot: headline\nstatus: approved\ntext: Hi\n"},
        "atoms/My-Headline.yaml:1:1: error[schema.invalid_format]: the id 'My-Headline' comes "
        "from the file name and is not a valid id",
        "rename the file to my-headline.yaml",
    ),
    Case(
        "cta-atom-without-content",
        {"atoms/no-cta.yaml": "slot: cta\nstatus: approved\n"},
        "atoms/no-cta.yaml:1:7: error[atom.no_content]: this atom has no content: slot 'cta' is "
        "a cta slot, which needs a `cta:` key",
        "add `cta: {label: Shop now, url: https://...}`",
    ),
    Case(
        "line-atom-without-content",
        {"atoms/no-text.yaml": "slot: headline\nstatus: approved\n"},
        "atoms/no-text.yaml:1:7: error[atom.no_content]: this atom has no content: slot "
        "'headline' is a line slot, which needs a `text:` key",
        "add `text: One line of copy`",
    ),
    Case(
        "method-call-in-token",
        {
            "atoms/shout.yaml": "slot: headline\nstatus: approved\n"
            'text: "Hi {{ customer.first_name.upper() }}"\n'
        },
        "atoms/shout.yaml:3:34: error[token.call_not_allowed]: upper() is a method call; tokens "
        "use filters, not methods",
        "filters, not methods: `{{ customer.first_name | upper }}`",
    ),
    Case(
        "key-indented-into-a-list",
        {
            "atoms/indent.yaml": "slot: headline\nstatus: approved\nsegments:\n  - vip\n"
            "   journeys: [welcome]\ntext: Hi\n"
        },
        "atoms/indent.yaml:5:12: error[yaml.syntax]: YAML syntax error: mapping values are not "
        "allowed here",
        "`journeys:` is indented into the `segments:` list (line 3); to add a field beside "
        "`segments:`, start it at column 1",
    ),
    Case(
        "yaml-syntax",
        {"atoms/broken.yaml": "slot: body\ntext: [unclosed, list\nstatus: approved\n"},
        "atoms/broken.yaml:3:7: error[yaml.syntax]: YAML syntax error: expected ',' or ']', but "
        "got ':' (parsing a flow sequence started at line 2, column 7)",
        "add the missing ] to the list at line 2, column 7",
    ),
    Case(
        "duplicate-key",
        {"atoms/dup.yaml": "slot: body\ntext: Hi\nslot: cta\n"},
        "atoms/dup.yaml:3:1: error[yaml.duplicate_key]: the key 'slot' appears twice in the same "
        "mapping",
        "keep one of the two entries",
    ),
    Case(
        "huge-hex-number",  # Python reads it but cannot print it: it was a crash (exit 70)
        {"atoms/huge.yaml": ATOM + "priority: 0x" + "f" * 5000 + "\n"},
        "atoms/huge.yaml:4:11: error[yaml.number_too_large]: this number is too large: written "
        "out, it has more than 4,300 digits",
        "write a smaller number; if this is text, not a number, put it in quotes",
    ),
    Case(
        "huge-decimal-in-a-text-field",  # it used to be taken for a tag 5 000 characters long
        {"atoms/hugetag.yaml": ATOM + "tags: [welcome, " + "9" * 5000 + "]\n"},
        "atoms/hugetag.yaml:4:17: error[yaml.number_too_large]: this number is too large: "
        "written out, it has more than 4,300 digits",
        "put it in quotes",
    ),
    Case(
        "duplicate-key-with-a-huge-number",  # was yaml.syntax at 1:1 in Python's words
        {"atoms/duptags.yaml": ATOM + "tags: [a]\ntags: [0x" + "f" * 5000 + "]\n"},
        "atoms/duptags.yaml:5:1: error[yaml.duplicate_key]: the key 'tags' appears twice in the "
        "same mapping",
        "keep one of the two entries",
    ),
    Case(
        "huge-number-in-a-token",  # Jinja's parser raised ValueError: was exit 70
        {
            "atoms/hugetoken.yaml": "slot: headline\nstatus: approved\n"
            'text: "Hi {{ customer.first_name | default(0x' + "f" * 5000 + ') }}"\n'
        },
        "atoms/hugetoken.yaml:3:44: error[token.number_too_large]: this number is too large: "
        "written out, it has more than 4,300 digits",
        "write a smaller number, or text in quotes",
    ),
    Case(
        "comment-in-text",
        {
            "atoms/fjell.yaml": "slot: headline\nstatus: approved\nsegments: [vip]\n"
            "text: Our bestseller, the Fjell 3L #1 rain shell, is back\n"
        },
        "atoms/fjell.yaml:4:36: warning[yaml.comment_in_text]: text: ' #' starts a YAML comment, "
        "so '#1 rain shell, is back' is not part of the text",
        'quote it: text: "Our bestseller, the Fjell 3L #1 rain shell, is back"',
    ),
    Case(
        "comment-in-cta-label",
        {
            "atoms/cta-hash.yaml": "slot: cta\nstatus: approved\nsegments: [vip]\ncta:\n"
            "  label: Shop #1 deals\n  url: https://www.acme.example/deals\n"
        },
        "atoms/cta-hash.yaml:5:15: warning[yaml.comment_in_text]: cta.label: ' #' starts a YAML "
        "comment, so '#1 deals' is not part of the text",
        'quote it: label: "Shop #1 deals"',
    ),
    Case(
        "impossible-date",
        {"atoms/expiry.yaml": EXPIRY},
        "atoms/expiry.yaml:5:14: error[schema.invalid_type]: valid_until: input should be a valid "
        "date or datetime, month value is outside expected range of 1-12",
        "write a date as YYYY-MM-DD",
    ),
    Case(
        "unbuildable-number",
        {"atoms/hex.yaml": "slot: headline\nstatus: approved\ntext: Hi\npriority: 0x_\n"},
        "atoms/hex.yaml:4:11: error[schema.invalid_type]: priority: input should be a valid "
        "integer, unable to parse string as an integer",
        "write a whole number",
    ),
    Case(
        "unknown-field",
        {"atoms/typo.yaml": "slot: headline\nstatus: approved\nsegements: [vip]\ntext: Hi\n"},
        "atoms/typo.yaml:3:1: error[schema.unknown_field]: unknown field 'segements'",
        "did you mean 'segments'?",
    ),
    Case(
        "wrong-type",
        {"atoms/prio.yaml": "slot: headline\nstatus: approved\npriority: high\ntext: Hi\n"},
        "atoms/prio.yaml:3:11: error[schema.invalid_type]: priority: input should be a valid "
        "integer, unable to parse string as an integer",
        "whole number",
    ),
    Case(
        "wrong-value",
        {"atoms/status.yaml": "slot: headline\nstatus: published\ntext: Hi\n"},
        "atoms/status.yaml:2:9: error[schema.invalid_value]: status: input should be 'draft', "
        "'review', 'approved' or 'retired'",
        "use one of: 'draft', 'review', 'approved' or 'retired'",
    ),
    Case(
        "missing-field",
        {"atoms/noslot.yaml": "status: approved\ntext: Hi\n"},
        "atoms/noslot.yaml:1:1: error[schema.missing_field]: missing required field 'slot'",
        "add `slot:`",
    ),
    Case(
        "duplicate-atom-id",
        {"atoms/extra/headline.yaml": "slot: headline\nstatus: approved\ntext: Another\n"},
        "atoms/headline.yaml:1:1: error[atom.duplicate_id]: atom id 'headline' is used by "
        "atoms/extra/headline.yaml and atoms/headline.yaml",
        "must be unique",
    ),
    Case(
        "unknown-segment",
        {"atoms/h2.yaml": "slot: headline\nstatus: approved\nsegments: [vipp]\ntext: Hi\n"},
        "atoms/h2.yaml:3:12: error[ref.unknown_segment]: unknown segment 'vipp'",
        "did you mean 'vip'?",
    ),
    Case(
        "unknown-slot",
        {"atoms/h3.yaml": "slot: headlin\nstatus: approved\ntext: Hi\n"},
        "atoms/h3.yaml:1:7: error[ref.unknown_slot]: unknown slot 'headlin'",
        "did you mean 'headline'?",
    ),
    Case(
        "unknown-channel",
        {"atoms/h4.yaml": "slot: headline\nstatus: approved\nchannels: [emial]\ntext: Hi\n"},
        "atoms/h4.yaml:3:12: error[ref.unknown_channel]: unknown channel 'emial'",
        "did you mean 'email'?",
    ),
    Case(
        "unknown-locale",
        {"atoms/h5.yaml": "slot: headline\nstatus: approved\nlocale: fr\ntext: Salut\n"},
        "atoms/h5.yaml:3:9: error[ref.unknown_locale]: unknown locale 'fr'",
        "known locales: de, de-AT, en",
    ),
    Case(
        "unknown-layout",
        {
            "journeys/welcome.yaml": "name: Welcome\nsteps:\n  - id: day-0\n"
            "    channels: {email: basik}\n"
        },
        "journeys/welcome.yaml:4:23: error[ref.unknown_layout]: step 'day-0' uses layout "
        "'basik', which is not in layouts/email/",
        "did you mean 'basic'?",
    ),
    Case(
        "layout-template-missing",
        {
            "layouts/email/basic.mjml": None,
            "layouts/email/basic.yaml": "template: basic.mjml\n"
            "slots: {subject: required, headline: required, body: required}\n",
        },
        "layouts/email/basic.yaml:1:11: error[layout.template_not_found]: template file "
        "'basic.mjml' does not exist beside basic.yaml",
        "create layouts/email/basic.mjml",
    ),
    Case(
        "jinja-syntax-in-block",
        {
            "atoms/j1.yaml": "slot: body\nstatus: approved\ntext: |\n  Hello there,\n"
            "  welcome {{ customer.first_name | default('x') \n"
        },
        "atoms/j1.yaml:5:11: error[token.syntax]: this token cannot be read: unexpected end of "
        "template, expected 'end of print statement'",
        "every {{ has a matching }}",
    ),
    Case(
        "undeclared-attribute",
        {
            "atoms/j2.yaml": "slot: headline\nstatus: approved\n"
            "text: \"Hi {{ customer.firstname | default('x') }}\"\n"
        },
        "atoms/j2.yaml:3:14: error[token.unknown_attribute]: customer.firstname is not a known "
        "customer attribute",
        "did you mean 'first_name'?",
    ),
    Case(
        "optional-without-default",
        {
            "atoms/j3.yaml": 'slot: headline\nstatus: approved\ntext: "Hi {{ customer.first_name }}"\n'
        },
        "atoms/j3.yaml:3:14: error[token.missing_default]: not every customer has "
        "customer.first_name, and this token has no fallback",
        'Add a fallback: {{ customer.first_name | default("...") }}',
    ),
    Case(
        "empty-content",
        {"atoms/e.yaml": 'slot: headline\nstatus: approved\ntext: "  "\n'},
        "atoms/e.yaml:3:7: error[content.empty]: text is empty",
        "write the text",
    ),
    Case(
        "unused-atom",
        {"atoms/u.yaml": "slot: offer\nstatus: approved\noffer: {code: X1, headline: Ten off}\n"},
        "atoms/u.yaml:1:7: warning[atom.unused]: no journey can use atom 'u'",
        "check its slot",
    ),
    Case(
        "condition-unknown-attribute",
        {"segments/vip.yaml": "condition: {teir: gold}\npriority: 5\n"},
        "segments/vip.yaml:1:13: error[condition.unknown_attribute]: unknown attribute 'teir'",
        "did you mean 'tier'?",
    ),
    Case(
        "condition-unknown-operator",
        {"segments/vip.yaml": "condition: {orders: {$gtee: 3}}\n"},
        "segments/vip.yaml:1:22: error[condition.unknown_operator]: unknown operator '$gtee'",
        "did you mean '$gte'?",
    ),
    Case(
        "alias-bomb",
        {"atoms/bomb.yaml": BOMB},
        "atoms/bomb.yaml:1:1: error[yaml.too_many_nodes]: aliases in this file expand to more "
        "than 100,000 values",
        "remove the anchors",
    ),
    Case(
        "yaml-1.1-directive",
        {"atoms/v11.yaml": "%YAML 1.1\n---\n" + ATOM + "priority: 010\n"},
        "atoms/v11.yaml:1:1: error[yaml.version]: this file asks for YAML 1.1; content files are "
        "read as YAML 1.2 only",
        "remove the `%YAML 1.1` line",
    ),
    Case(
        "yaml-1.3-directive",  # ruamel fails an assertion on it: must not be exit 70
        {"atoms/v13.yaml": "%YAML 1.3\n---\n" + ATOM},
        "atoms/v13.yaml:1:1: error[yaml.version]: this file asks for YAML 1.3; content files are "
        "read as YAML 1.2 only",
        "remove the `%YAML 1.3` line",
    ),
    Case(
        "leading-zero-number",
        {"atoms/zero.yaml": ATOM + "priority: 010\n"},
        "atoms/zero.yaml:4:11: error[yaml.ambiguous_number]: priority: 010 has a leading zero: "
        "YAML 1.2 reads it as 10, YAML 1.1 as the octal number 8",
        "write 10 (or 8 if an octal number was meant) without the leading zero",
    ),
    Case(
        "octal-number",
        {"atoms/octal.yaml": ATOM + "priority: 0o10\n"},
        "atoms/octal.yaml:4:11: error[yaml.ambiguous_number]: priority: 0o10 is an octal number "
        "(8)",
        "write the decimal number 8",
    ),
    Case(
        "quoted-leading-zero-number",
        {"atoms/quoted.yaml": ATOM + 'priority: "010"\n'},
        "atoms/quoted.yaml:4:11: error[yaml.ambiguous_number]: priority: '010' is quoted text "
        "with a leading zero, not a number",
        "write 10 (or 8 if an octal number was meant) without quotes and leading zero",
    ),
    Case(
        "nested-leading-zero-number",
        {
            "atoms/img.yaml": "slot: image\nstatus: approved\n"
            "image: {src: https://x.example/a.png, alt: A, width: 0640}\n"
        },
        "atoms/img.yaml:3:54: error[yaml.ambiguous_number]: image.width: 0640 has a leading "
        "zero: YAML 1.2 reads it as 640, YAML 1.1 as the octal number 416",
        "write 640 (or 416",
    ),
    # YAML 1.2 core numbers have no `_`, `0b` or sign before 0x/0o: such a scalar is text,
    # refused where a number is expected (in customer data and conditions too), as in JSON/CSV.
    Case(
        "underscore-number",
        {"atoms/sep.yaml": ATOM + "priority: 1_000\n"},
        "atoms/sep.yaml:4:11: error[yaml.ambiguous_number]: priority: 1_000 is text in YAML 1.2, "
        "not a number",
        "write 1000 (YAML 1.2 numbers have no _ between digits)",
    ),
    Case(
        "quoted-underscore-number",
        {"atoms/qsep.yaml": ATOM + 'priority: "1_000"\n'},
        "atoms/qsep.yaml:4:11: error[yaml.ambiguous_number]: priority: '1_000' is quoted text, "
        "not a number",
        "write 1000 without quotes and underscores",
    ),
    Case(
        "binary-number",
        {"atoms/bin.yaml": ATOM + "priority: 0b101\n"},
        "atoms/bin.yaml:4:11: error[schema.invalid_type]: priority: input should be a valid "
        "integer, unable to parse string as an integer",
        "whole number",
    ),
    Case(
        "underscore-number-in-condition",
        {"segments/big.yaml": "name: Big\ncondition: {orders: {$gte: 1_000}}\n"},
        "segments/big.yaml:2:28: error[condition.type_mismatch]: 'orders' is a whole number but "
        "'$gte' compares it with the text \"1_000\"",
        "write a whole number without quotes",
    ),
    Case(
        "underscore-number-in-customer",
        {
            "customers/big.yaml": "attributes:\n  id: C-9\n  locale: en\n  tier: gold\n"
            "  orders: 1_000\n"
        },
        "customers/big.yaml:5:11: error[customer.attribute_type]: orders should be an integer, "
        "not text",
        "write a whole number",
    ),
    Case(
        "underscore-number-as-example",
        {"profile.yaml": PROFILE.replace("example: 3}", "example: 1_000}")},
        "profile.yaml:9:36: error[profile.example_type]: example of 'orders' is not a integer",
        "give an example integer value",
    ),
    Case(
        "yes-as-boolean",
        {
            "profile.yaml": PROFILE.replace(
                "optional: true, example: Ada", "optional: yes, example: Ada"
            )
        },
        "profile.yaml:6:40: error[yaml.ambiguous_boolean]: attributes.first_name.optional: yes "
        "is text in YAML 1.2, not a boolean",
        "write true (YAML 1.2 booleans are only true and false)",
    ),
    Case(
        "off-as-boolean",
        {"journeys/welcome.yaml": JOURNEY.replace("steps:", "allow_large_change: off\nsteps:")},
        "journeys/welcome.yaml:4:21: error[yaml.ambiguous_boolean]: allow_large_change: off is "
        "text in YAML 1.2, not a boolean",
        "write false",
    ),
    Case(
        "recursive-alias",
        {"atoms/loop.yaml": ATOM + "tags: &a [x, *a]\n"},
        "atoms/loop.yaml:4:14: error[yaml.recursive_alias]: the alias *a is used inside the "
        "value it names",
        "remove *a here",
    ),
    Case(
        "recursive-alias-in-mapping",
        {"atoms/loopmap.yaml": ATOM + "notes: &m {a: {b: *m}}\n"},
        "atoms/loopmap.yaml:4:19: error[yaml.recursive_alias]: the alias *m is used inside the "
        "value it names",
        "remove *m here",
    ),
    Case(
        "thousand-brackets",  # the composer would exhaust Python's stack
        {"atoms/brackets.yaml": ATOM + "tags: " + "[" * 1000 + "]" * 1000 + "\n"},
        "atoms/brackets.yaml:4:71: error[yaml.too_deep]: lists and mappings are nested more "
        "than 64 levels deep here",
        "flatten this value",
    ),
    Case(
        "deep-block-lists",
        {"atoms/deeplist.yaml": DEEP_BLOCK},
        "atoms/deeplist.yaml:69:131: error[yaml.too_deep]: lists and mappings are nested more "
        "than 64 levels deep here",
        "flatten this value",
    ),
    Case(
        "deep-mappings",
        {"atoms/deepmap.yaml": DEEP_MAP},
        "atoms/deepmap.yaml:68:129: error[yaml.too_deep]: lists and mappings are nested more "
        "than 64 levels deep here",
        "flatten this value",
    ),
    Case(
        "deep-through-alias",
        {"atoms/deepalias.yaml": DEEP_ALIAS},
        "atoms/deepalias.yaml:5:37: error[yaml.too_deep]: lists and mappings are nested more "
        "than 64 levels deep here",
        "an alias that repeats a deep value",
    ),
    Case(
        "too-many-steps",
        {"journeys/big.yaml": STEPS},
        "journeys/big.yaml:3:3: error[schema.too_long]: steps: list should have at most 100 "
        "items after validation, not 101",
        "at most 100 items are allowed here",
    ),
    Case(
        "too-many-tags",
        {"atoms/tags.yaml": ATOM + "tags: [" + ", ".join(["x"] * 1001) + "]\n"},
        "atoms/tags.yaml:4:7: error[schema.too_long]: tags: list should have at most 1000 items "
        "after validation, not 1001",
        "at most 1000 items are allowed here",
    ),
    Case(
        "python-tag",
        {"atoms/tag.yaml": "slot: !!python/object/apply:os.system [echo hacked]\n"},
        "atoms/tag.yaml:1:7: error[yaml.tag_not_allowed]: the YAML tag "
        "tag:yaml.org,2002:python/object/apply:os.system is not allowed",
        "remove the '!' tag",
    ),
    Case(
        "invalid-utf8",
        {"atoms/latin1.yaml": b"slot: headline\ntext: Gr\xfc\xdfe\n"},
        "atoms/latin1.yaml:2:9: error[yaml.encoding]: invalid UTF-8 byte 0xfc",
        "save the file as UTF-8",
    ),
    Case(
        "binary",
        {"atoms/junk.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
        "atoms/junk.yaml:3:1: error[yaml.binary]: this file contains binary data (a NUL byte), "
        "not YAML text",
        "UTF-8 text",
    ),
    Case(
        "customer-unknown-attribute",
        {
            "customers/cy.yaml": "attributes:\n  id: C-9\n  locale: en\n  tier: gold\n  orders: 1\n"
            "  teir: gold\n"
        },
        "customers/cy.yaml:6:3: error[ref.unknown_attribute]: unknown attribute 'teir'",
        "did you mean 'tier'?",
    ),
    Case(
        "customer-wrong-type",
        {
            "customers/cz.yaml": "attributes:\n  id: C-9\n  locale: en\n  tier: gold\n  orders: many\n"
        },
        "customers/cz.yaml:5:11: error[customer.attribute_type]: orders should be an integer, not text",
        "whole number",
    ),
    Case(
        "offer-code-reads-a-slot",
        {
            "atoms/offer-self.yaml": "slot: offer\nstatus: approved\n"
            "offer: {code: 'X-{{ slots.offer.code }}', headline: 20% off}\n"
        },
        "atoms/offer-self.yaml:3:18: error[atom.token_not_allowed]: offer.code is plain text and "
        "cannot hold tokens",
        "other atoms show it with {{ slots.offer.code }}",
    ),
    Case(
        "offer-code-token",
        {
            "atoms/offer-personal.yaml": "slot: offer\nstatus: approved\noffer:\n"
            "  code: \"{{ customer.first_name | default('VIP') }}20\"\n  headline: 20% off\n"
        },
        "atoms/offer-personal.yaml:4:10: error[atom.token_not_allowed]: offer.code is plain text "
        "and cannot hold tokens",
        "personalize the headline, terms or body instead",
    ),
    Case(
        "offer-code-statement",
        {
            "atoms/offer-if.yaml": "slot: offer\nstatus: approved\noffer:\n"
            '  code: "VIP{% if customer.orders %}20{% endif %}"\n  headline: 20% off\n'
        },
        "atoms/offer-if.yaml:4:13: error[atom.token_not_allowed]: offer.code is plain text and "
        "cannot hold tokens",
        "write the code itself",
    ),
    Case(
        "body-reads-a-token-field",
        {
            "atoms/body-reads-cta.yaml": "slot: body\nstatus: approved\nsegments: [new]\n"
            "text: |\n  Tap {{ slots.cta.label }} now.\n"
        },
        "atoms/body-reads-cta.yaml:5:10: error[token.slot_field_not_allowed]: slots.cta.label "
        "cannot be shown here: that field may hold tokens of its own, which would be printed as "
        "written",
        "tokens can read only slots.image.width, slots.offer.code, slots.offer.expires",
    ),
    Case(
        "subject-reads-a-text",
        {
            "atoms/subject-echo.yaml": "slot: subject\nchannels: [email]\nstatus: approved\n"
            "segments: [vip]\ntext: 'Re: {{ slots.headline.text }}'\n"
        },
        "atoms/subject-echo.yaml:5:15: error[token.slot_field_not_allowed]: slots.headline.text "
        "cannot be shown here: that field may hold tokens of its own, which would be printed as "
        "written",
        "write the text itself",
    ),
    # Files the load does not read are named, never left out without a word.
    Case(
        "not-yaml-in-atoms",
        {"atoms/offer.yaml.txt": ATOM},
        "atoms/offer.yaml.txt:0:0: warning[io.not_loaded]: this file is not loaded: atoms/ holds "
        "only .yaml and .yml files",
        "rename it to end in .yaml if it is content; otherwise move it out of the content folder",
    ),
    Case(
        "upper-case-suffix",
        {"atoms/offer.YAML": ATOM},
        "atoms/offer.YAML:0:0: warning[io.not_loaded]: this file is not loaded: the .yaml or .yml "
        "suffix must be in lower case",
        "rename it to offer.yaml",
    ),
    Case(
        "journey-in-a-sub-folder",
        {"journeys/2026/sale.yaml": JOURNEY},
        "journeys/2026/sale.yaml:0:0: warning[io.not_loaded]: this file is not loaded: journeys/ "
        "is read without its sub-folders",
        "move it to journeys/sale.yaml",
    ),
    Case(
        "settings-named-yml",
        {"atomic.yaml": None, "atomic.yml": BASE["atomic.yaml"]},
        "atomic.yaml:0:0: error[io.missing_file]: atomic.yaml is missing from the content folder",
        "rename atomic.yml to atomic.yaml",
    ),
    Case(
        "profile-named-in-capitals",
        {"profile.yaml": None, "Profile.YAML": PROFILE},
        "profile.yaml:0:0: error[io.missing_file]: profile.yaml is missing from the content folder",
        "rename Profile.YAML to profile.yaml",
    ),
    Case(
        "yaml-at-the-top",
        {"headline.yaml": ATOM},
        "headline.yaml:0:0: warning[io.not_loaded]: this file is not loaded: at the top of the "
        "content folder only atomic.yaml and profile.yaml are read",
        "move it into the folder of its kind: segments/, atoms/, journeys/, layouts/<channel>/, "
        "customers/, experiments/ or strings/",
    ),
    Case(
        "second-spelling-of-the-settings",
        {"atomic.yml": BASE["atomic.yaml"]},
        "atomic.yml:0:0: warning[io.not_loaded]: this file is not loaded: atomic.yaml is read, "
        "not atomic.yml",
        "merge what atomic.yml holds into atomic.yaml and remove it",
    ),
    Case(
        "folder-named-like-a-content-folder",
        {"atom/offer.yaml": ATOM, "atom/more.yaml": ATOM},
        "atom:0:0: warning[io.not_loaded]: this folder is not loaded: atom/ is not a content "
        "folder",
        "did you mean 'atoms'? rename the folder",
    ),
    Case(
        "upper-case-suffix-in-a-sub-folder",
        {"segments/old/vip.Yml": "name: VIP\ncondition: {tier: gold}\n"},
        "segments/old/vip.Yml:0:0: warning[io.not_loaded]: this file is not loaded: the .yaml or "
        ".yml suffix must be in lower case",
        "rename it to vip.yml and move it to segments/",
    ),
    Case(
        "journey-with-empty-locales",  # absent means every locale; [] would build nothing
        {"journeys/sale.yaml": JOURNEY.replace("locales: [en, de]", "locales: []")},
        "journeys/sale.yaml:3:10: error[schema.empty]: locales: an empty list names no locale, "
        "so the journey would have no message at all",
        "remove `locales:` to write the journey in every locale of atomic.yaml, or list the "
        "locales it is written in",
    ),
    Case(
        "experiment-with-empty-steps",  # absent means the whole journey; [] would cover nothing
        {
            "experiments/welcome-test.yaml": "key: welcome-test\njourney: welcome\nsteps: []\n"
            "hypothesis: The VIP welcome wins more first orders.\n"
            "null_hypothesis: Personalization does not change first orders.\n"
            "mde: 0.02\narms:\n  - {id: control, weight: 0.5}\n"
            "  - {id: personalized, weight: 0.5}\nstart: 2026-11-01\nstatus: draft\n"
        },
        "experiments/welcome-test.yaml:3:8: error[schema.empty]: steps: an empty list names no "
        "step, so the experiment would cover no message",
        "remove `steps:` to run the experiment on the whole journey, or list the steps it covers",
    ),
    Case(
        "segment-named-generic-by-its-file",
        {"segments/generic.yaml": SEGMENT_VIP},
        "segments/generic.yaml:1:1: error[segment.reserved_id]: the segment id 'generic' comes "
        "from the file name generic.yaml and is reserved: it names the audience of customers "
        "in no segment (every journey's generic variant ends in it)",
        "rename the file (or give it another `id:`); customers in no segment already get the "
        "generic message",
    ),
    Case(
        "segment-named-generic-by-its-id",
        {"segments/everyone.yaml": "id: generic\n" + SEGMENT_VIP},
        "segments/everyone.yaml:1:5: error[segment.reserved_id]: segment id 'generic' is "
        "reserved: it names the audience of customers in no segment (every journey's generic "
        "variant ends in it)",
        "give the segment another id",
    ),
    Case(
        "segment-named-all",  # `atomic analyze`'s row over every customer
        {"segments/all.yaml": SEGMENT_VIP},
        "segments/all.yaml:1:1: error[segment.reserved_id]: the segment id 'all' comes from "
        "the file name all.yaml and is reserved: `atomic analyze` names its row over every "
        "customer so",
        "rename the file",
    ),
    Case(
        "layout-template-at-an-absolute-path",
        {"layouts/email/outside.yaml": LAYOUT_EMAIL.replace("basic.mjml", "/etc/passwd")},
        "layouts/email/outside.yaml:1:11: error[layout.template_outside]: template "
        "'/etc/passwd' is outside the content folder: a layout's template must be a file "
        "inside it, named relative to the layout file",
        "put the template in the content folder, e.g. beside outside.yaml, and name it "
        "relative to the layout file: `template: outside.mjml`",
    ),
    Case(
        "layout-template-above-the-content-folder",
        {"layouts/email/up.yaml": LAYOUT_EMAIL.replace("basic.mjml", "../../../up.mjml")},
        "layouts/email/up.yaml:1:11: error[layout.template_outside]: template "
        "'../../../up.mjml' is outside the content folder: a layout's template must be a file "
        "inside it, named relative to the layout file",
        "`template: up.mjml`",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(tmp_path: Path, case: Case) -> None:
    write_tree(tmp_path, case.files)
    _library, diagnostics = check_content(tmp_path)
    shown = [fmt(d) for d in diagnostics]
    matches = [d for d in diagnostics if fmt(d) == case.expected]
    assert matches, "\n".join(shown)
    assert case.hint.lower() in matches[0].hint.lower(), matches[0].hint
    # One broken file is reported once, not once per place that uses it.
    assert len(matches) == 1, "\n".join(shown)


def test_an_impossible_date_hides_no_other_mistake(tmp_path: Path) -> None:
    write_tree(tmp_path, {"atoms/expiry.yaml": EXPIRY})
    _library, diagnostics = check_content(tmp_path)
    assert [fmt(d) for d in diagnostics if d.path == "atoms/expiry.yaml"] == [
        "atoms/expiry.yaml:2:9: error[schema.invalid_value]: status: input should be 'draft', "
        "'review', 'approved' or 'retired'",
        "atoms/expiry.yaml:3:1: error[schema.unknown_field]: unknown field 'segements'",
        "atoms/expiry.yaml:5:14: error[schema.invalid_type]: valid_until: input should be a "
        "valid date or datetime, month value is outside expected range of 1-12",
    ]


def test_a_hash_inside_quotes_or_a_block_text_is_no_comment(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "atoms/quoted.yaml": "slot: headline\nstatus: approved\nsegments: [vip]\n"
            'text: "The Fjell 3L #1 is back"  # a real comment, nothing lost\n',
            "atoms/block.yaml": "slot: body\nstatus: approved\nsegments: [vip]\n"
            "text: |\n  Our #1 shell, and #2.\n",
            "atoms/no-space.yaml": "slot: preheader\nstatus: approved\nsegments: [vip]\n"
            "text: Issue#1 of our letter is out, the trail guide\n",
        },
    )
    _library, diagnostics = check_content(tmp_path)
    assert [d for d in diagnostics if d.code == "yaml.comment_in_text"] == []


def test_huge_file(tmp_path: Path) -> None:
    write_tree(tmp_path)
    big = tmp_path / "atoms" / "huge.yaml"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB without writing 50 MB
    _library, diagnostics = check_content(tmp_path)
    assert [fmt(d) for d in diagnostics] == [
        "atoms/huge.yaml:0:0: error[io.too_large]: file is 52,428,800 bytes; content files may "
        "be at most 1,048,576 bytes"
    ]


def test_folder_where_a_file_should_be(tmp_path: Path) -> None:
    write_tree(tmp_path)
    (tmp_path / "atoms" / "folder.yaml").mkdir()
    (tmp_path / "profile.yaml").unlink()
    (tmp_path / "profile.yaml").mkdir()
    _library, diagnostics = check_content(tmp_path)
    shown = [fmt(d) for d in diagnostics]
    assert (
        "atoms/folder.yaml:0:0: error[io.is_directory]: expected a YAML file here but found a folder"
        in shown
    )
    assert (
        "profile.yaml:0:0: error[io.is_directory]: expected a YAML file here but found a folder"
        in shown
    )


@pytest.mark.parametrize(
    "files",
    [
        {"atomic.yaml": None},
        {"profile.yaml": None},
        {"atomic.yaml": "brand: {name: Northwind}\n"},  # schema errors only
        {"profile.yaml": "attributes: [first_name, tier]\n"},  # not a mapping
    ],
    ids=["no-settings", "no-profile", "broken-settings", "broken-profile"],
)
def test_a_broken_project_file_is_reported_alone(
    tmp_path: Path, files: dict[str, str | None]
) -> None:
    """Slots, channels, locales and attributes are declared in atomic.yaml and profile.yaml:
    without one, every use elsewhere would be an error too (387 on the demo). Only the project
    file's own problems are reported; the rest is checked once it loads."""
    write_tree(tmp_path, files)
    _library, diagnostics = check_content(tmp_path, DAY)
    (name,) = files
    assert diagnostics.has_errors
    assert {d.path for d in diagnostics} == {name}, [fmt(d) for d in diagnostics]


def test_a_misspelt_project_file_alone_has_one_hint(tmp_path: Path) -> None:
    """atomic.yml without atomic.yaml: the missing file's error names it, and no warning
    tells the editor to move it somewhere else."""
    write_tree(tmp_path, {"atomic.yaml": None, "atomic.yml": BASE["atomic.yaml"]})
    _library, diagnostics = check_content(tmp_path, DAY)
    assert [(d.path, d.code, d.hint) for d in diagnostics] == [
        ("atomic.yaml", "io.missing_file", "rename atomic.yml to atomic.yaml")
    ]


def test_only_a_yaml_file_is_taken_for_a_misspelt_project_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {"atomic.yaml": None, "atomic.txt": "notes about the settings\n"})
    _library, diagnostics = check_content(tmp_path, DAY)
    assert [(d.path, d.code, d.hint) for d in diagnostics] == [
        (
            "atomic.yaml",
            "io.missing_file",
            "create atomic.yaml (see docs/format.md) or pass the right folder with --content",
        )
    ]


def test_files_an_editor_or_a_tool_leaves_are_let_be(tmp_path: Path) -> None:
    """Hidden files and folders, editor backups, READMEs, atoms in sub-folders (read), and
    files outside the YAML-only folders draw no io.not_loaded warning; a stray file does, and
    the build still succeeds with it."""
    let_be: dict[str, str | bytes | None] = {
        "atoms/.subject.yaml.swp": b"\x00vim",
        "atoms/subject.yaml~": ATOM,
        "atoms/#subject.yaml#": ATOM,
        "atoms/README.md": "# How we write atoms\n",
        "atoms/.drafts/idea.txt": "later\n",
        "atoms/deep/er/extra.yaml": "slot: body\nstatus: approved\nsegments: [vip]\ntext: More\n",
        "journeys/.hidden/old.yaml": JOURNEY,
        "layouts/email/notes.txt": "our layout notes\n",
        "notes.txt": "project notes\n",
        "README.md": "# Our content\n",
        ".pre-commit-config.yaml": "repos: []\n",
        "drafts/idea.yaml": ATOM,  # a folder of its own name: the team's business
        ".cache/entry.yaml": ATOM,
    }
    content = write_tree(tmp_path / "content", {**CLEAN, **let_be})
    _library, diagnostics = check_content(content, DAY)
    assert [fmt(d) for d in diagnostics if d.code == "io.not_loaded"] == []
    assert "extra" in _library.atoms  # atoms/ is read with its sub-folders

    (content / "atoms" / "notes.txt").write_text("remember the sale\n", encoding="utf-8")
    result = build(content, tmp_path / "dist", on=DAY, jobs=1)
    assert [fmt(d) for d in result.warnings if d.code == "io.not_loaded"] == [
        "atoms/notes.txt:0:0: warning[io.not_loaded]: this file is not loaded: atoms/ holds only "
        ".yaml and .yml files"
    ]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_outside_root(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "content")
    secret = tmp_path / "secret.yaml"
    secret.write_text("slot: headline\ntext: secret\n", encoding="utf-8")
    (root / "atoms" / "link.yaml").symlink_to(secret)
    _library, diagnostics = check_content(root)
    assert [fmt(d) for d in diagnostics] == [
        "atoms/link.yaml:0:0: error[io.outside_root]: this path is a link that points outside "
        "the content folder"
    ]


def test_missing_content_folder(tmp_path: Path) -> None:
    _library, diagnostics = check_content(tmp_path / "nope")
    assert [d.code for d in diagnostics] == ["io.missing_content"]


# What the plan warns about in the base tree: its German subject never wins (one message, one
# language: without a German headline and body every message is English), and no atom fills
# the optional preheader. Warnings only: the base tree builds.
BASE_WARNINGS = [
    "atoms/subject-de.yaml:1:7: warning[rank.shadowed]: atom 'subject-de' can be used but never "
    "wins for any audience: other atoms always rank higher",
    "journeys/welcome.yaml:7:23: warning[email.preheader_short]: preheader is 0 characters; at "
    "least 40 keep the inbox from filling it with body text (in 6 variants, e.g. "
    "welcome/day-0/email/de/generic)",
]
# The base tree without those two: nothing to report at all.
CLEAN: dict[str, str | bytes | None] = {
    "atoms/subject-de.yaml": None,
    "atoms/preheader.yaml": "slot: preheader\nstatus: approved\n"
    "text: Everything you need for your first trail, picked by our team\n",
}


def test_valid_base_tree_has_only_the_plan_warnings(tmp_path: Path) -> None:
    write_tree(tmp_path)
    _library, diagnostics = check_content(tmp_path)
    assert [fmt(d) for d in diagnostics] == BASE_WARNINGS


def test_valid_base_tree_is_clean(tmp_path: Path) -> None:
    write_tree(tmp_path, CLEAN)
    _library, diagnostics = check_content(tmp_path)
    assert [fmt(d) for d in diagnostics] == []


# Cases that break a file every other check needs (a refused profile.yaml leaves no attribute
# for the token checks); they are checked on their own above.
ALONE = {"yes-as-boolean", "settings-named-yml", "profile-named-in-capitals"}


def test_all_bad_inputs_in_one_run(tmp_path: Path) -> None:
    files: dict[str, str | bytes | None] = {}
    for case in CASES:
        if case.id in {"unused-atom"}:
            continue  # warnings are only computed for content without errors
        if case.id in ALONE:
            continue
        files.update(case.files)
    write_tree(tmp_path, files)
    _library, diagnostics = check_content(tmp_path)
    shown = [fmt(d) for d in diagnostics]
    for case in CASES:
        overridden = any(files.get(name) != content for name, content in case.files.items())
        if case.id == "unused-atom" or case.id in ALONE or overridden:
            continue  # a later case rewrote the same file
        assert case.expected in shown, (case.id, shown)


def test_an_atom_for_generic_is_told_to_leave_out_segments(tmp_path: Path) -> None:
    """`generic` is the audience of customers in no segment, not a segment: an atom that
    names it gets the fix (no `segments:` at all) with the unknown segment."""
    write_tree(
        tmp_path,
        {
            "atoms/generic-headline.yaml": "slot: headline\nstatus: approved\n"
            "segments: [generic]\ntext: Hi\n",
        },
    )
    _library, diagnostics = check_content(tmp_path, DAY)
    (found,) = [d for d in diagnostics if d.severity.value == "error"]
    assert fmt(found) == (
        "atoms/generic-headline.yaml:3:12: error[ref.unknown_segment]: unknown segment 'generic'"
    )
    assert found.hint == (
        "'generic' is no segment but the audience of customers in none: every journey builds "
        "its message, from atoms without `segments:` (leave the key out); known segments: "
        "new, vip"
    )


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_template_outside_the_content_folder_is_said_at_the_layout(tmp_path: Path) -> None:
    """An existing file outside is refused by its name, at `template:`, without being opened;
    a template behind a linked folder is the link's one error."""
    root = write_tree(tmp_path / "content")
    (tmp_path / "up.mjml").write_text(MJML, encoding="utf-8")
    layout = root / "layouts" / "email" / "basic.yaml"
    layout.write_text(LAYOUT_EMAIL.replace("basic.mjml", "../../../up.mjml"), encoding="utf-8")
    _library, diagnostics = check_content(root, DAY)
    assert [fmt(d) for d in diagnostics] == [
        "layouts/email/basic.yaml:1:11: error[layout.template_outside]: template "
        "'../../../up.mjml' is outside the content folder: a layout's template must be a file "
        "inside it, named relative to the layout file"
    ]
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "basic.mjml").write_text(MJML, encoding="utf-8")
    (root / "layouts" / "email" / "linked").symlink_to(tmp_path / "templates")
    layout.write_text(LAYOUT_EMAIL.replace("basic.mjml", "linked/basic.mjml"), encoding="utf-8")
    _library, diagnostics = check_content(root, DAY)
    assert [fmt(d) for d in diagnostics] == [
        "layouts/email/linked:0:0: error[io.outside_root]: this path is a link that points "
        "outside the content folder"
    ]


# -- one mistake, one error --------------------------------------------------------------------
# A file that does not load still names a known id: what refers to it draws no error of its
# own, and nothing is judged by a segment whose condition is broken. Every case lists *all*
# the diagnostics of its tree: only the real mistake.

# Files that refer to the journey, the segment and the layouts the cases break: an atom for
# welcome/day-0 whose token needs no default only because `vip` reads `tier`.
REFERRING: dict[str, str | bytes | None] = {
    "atoms/headline-welcome.yaml": "slot: headline\nstatus: approved\npriority: 5\n"
    'journeys: [welcome/day-0]\nsegments: [vip]\ntext: "Welcome, {{ customer.tier }} member"\n',
}


@dataclass(frozen=True)
class OneMistake:
    id: str
    files: dict[str, str | bytes | None]
    expected: list[str]  # every diagnostic of the tree, as fmt() shows it


ONE_MISTAKE = [
    OneMistake(
        "journey-step-id-a-path",
        {"journeys/welcome.yaml": JOURNEY.replace("id: day-0", "id: ../../../../x")},
        [
            "journeys/welcome.yaml:5:9: error[schema.invalid_format]: steps.0.id: string should "
            "match pattern '^[a-z0-9][a-z0-9_-]*$'"
        ],
    ),
    OneMistake(
        "journey-step-id-with-a-cyrillic-a",
        {"journeys/welcome.yaml": JOURNEY.replace("id: day-0", "id: d\u0430y-0")},
        [
            "journeys/welcome.yaml:5:9: error[schema.invalid_format]: steps.0.id: string should "
            "match pattern '^[a-z0-9][a-z0-9_-]*$'"
        ],
    ),
    OneMistake(
        "journey-locale-with-an-underscore",
        {"journeys/welcome.yaml": JOURNEY.replace("[en, de]", "[en, de_AT]")},
        [
            "journeys/welcome.yaml:3:15: error[schema.invalid_format]: locales.1: 'de_AT' is "
            "not a language tag"
        ],
    ),
    OneMistake(
        "journey-with-empty-locales",
        {"journeys/welcome.yaml": JOURNEY.replace("[en, de]", "[]")},
        [
            "journeys/welcome.yaml:3:10: error[schema.empty]: locales: an empty list names no "
            "locale, so the journey would have no message at all"
        ],
    ),
    OneMistake(
        "journey-yaml-syntax",  # no document at all: the id is the file name's
        {"journeys/welcome.yaml": "name: Welcome\nsteps: [\n"},
        [
            "journeys/welcome.yaml:3:1: error[yaml.syntax]: YAML syntax error: expected the node "
            "content, but found '<stream end>' (parsing a flow node started at line 3, column 1)"
        ],
    ),
    OneMistake(
        "segment-schema",
        {"segments/vip.yaml": SEGMENT_VIP.replace("priority: 50", "priority: high")},
        [
            "segments/vip.yaml:3:11: error[schema.invalid_type]: priority: input should be a "
            "valid integer, unable to parse string as an integer"
        ],
    ),
    OneMistake(
        "segment-condition-typo",  # no token.missing_default where atoms target it
        {"segments/vip.yaml": SEGMENT_VIP.replace("{tier:", "{tierr:")},
        ["segments/vip.yaml:2:13: error[condition.unknown_attribute]: unknown attribute 'tierr'"],
    ),
    OneMistake(
        "layout-schema",
        {"layouts/email/basic.yaml": LAYOUT_EMAIL + "colour: red\n"},
        ["layouts/email/basic.yaml:8:1: error[schema.unknown_field]: unknown field 'colour'"],
    ),
    OneMistake(
        "segment-named-generic-and-used",
        {
            "segments/generic.yaml": SEGMENT_VIP,
            "journeys/welcome.yaml": JOURNEY.replace("[vip, new]", "[vip, new, generic]"),
            "atoms/generic-headline.yaml": "slot: headline\nstatus: approved\n"
            "segments: [generic]\ntext: Hi\n",
        },
        [
            "segments/generic.yaml:1:1: error[segment.reserved_id]: the segment id 'generic' "
            "comes from the file name generic.yaml and is reserved: it names the audience of "
            "customers in no segment (every journey's generic variant ends in it)"
        ],
    ),
]


@pytest.mark.parametrize("case", ONE_MISTAKE, ids=[c.id for c in ONE_MISTAKE])
def test_one_broken_file_is_the_only_error(tmp_path: Path, case: OneMistake) -> None:
    write_tree(tmp_path, {**REFERRING, **case.files})
    _library, diagnostics = check_content(tmp_path, DAY)
    assert [fmt(d) for d in diagnostics] == case.expected


def test_the_referring_files_are_valid_without_the_mistakes(tmp_path: Path) -> None:
    """The references of REFERRING hold in the base tree: the cases above lose no error."""
    write_tree(tmp_path, {**CLEAN, **REFERRING})
    _library, diagnostics = check_content(tmp_path, DAY)
    assert not diagnostics.has_errors, [fmt(d) for d in diagnostics]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_refused_journey_file_is_the_only_error(tmp_path: Path) -> None:
    """A journey file the listing refuses (a link out of the tree) exists: its id is known."""
    root = write_tree(tmp_path / "content", REFERRING)
    outside = tmp_path / "welcome.yaml"
    outside.write_text(JOURNEY, encoding="utf-8")
    (root / "journeys" / "welcome.yaml").unlink()
    (root / "journeys" / "welcome.yaml").symlink_to(outside)
    _library, diagnostics = check_content(root, DAY)
    assert [fmt(d) for d in diagnostics] == [
        "journeys/welcome.yaml:0:0: error[io.outside_root]: this path is a link that points "
        "outside the content folder"
    ]


# The reviewers' reproductions on the demo content: one mistake buried under dozens of false
# errors (72 for a bad step id, 9 for a misspelt attribute in a segment).
DEMO_MISTAKES = [
    (
        "journeys/welcome.yaml",
        "  - id: day-0",
        "  - id: ../../../../x",
        "journeys/welcome.yaml:11:9: error[schema.invalid_format]: steps.0.id: string should "
        "match pattern '^[a-z0-9][a-z0-9_-]*$'",
    ),
    (
        "segments/vip.yaml",
        "condition: {tier:",
        "condition: {tierr:",
        "segments/vip.yaml:7:13: error[condition.unknown_attribute]: unknown attribute 'tierr'",
    ),
]


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"), DEMO_MISTAKES, ids=[m[0] for m in DEMO_MISTAKES]
)
def test_one_mistake_in_the_demo_is_one_error(
    tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    content = tmp_path / "content"
    shutil.copytree(DEMO_CONTENT, content)
    text = (content / name).read_text(encoding="utf-8")
    assert old in text
    (content / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    _library, diagnostics = check_content(content, DAY)
    assert [fmt(d) for d in diagnostics if d.severity.value == "error"] == [expected]


HOSTILE_YAML = [
    "yaml-1.1-directive",
    "yaml-1.3-directive",
    "leading-zero-number",
    "off-as-boolean",
    "recursive-alias",
    "thousand-brackets",
    "deep-through-alias",
    "too-many-steps",
    "huge-hex-number",
    "duplicate-key-with-a-huge-number",
    "huge-number-in-a-token",
]


@pytest.mark.parametrize("case_id", HOSTILE_YAML)
def test_hostile_yaml_exits_1_not_70(tmp_path: Path, case_id: str) -> None:
    case = next(case for case in CASES if case.id == case_id)
    write_tree(tmp_path, case.files)
    result = CliRunner().invoke(main, ["validate", "--content", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert case.expected.split(": ", 1)[0] in result.output  # path:line:col


# -- hostile file system entries ----------------------------------------------------------------
# Each case builds the valid base tree, then one entry no loader may open or follow.

DEEP_LEVELS = 1200


def _deep_folders(root: Path) -> None:
    # mkdir one level at a time: os.makedirs recurses once per level
    folder = root / "atoms"
    for _ in range(DEEP_LEVELS):
        folder = folder / "d"
        folder.mkdir()
    (folder / "deep.yaml").write_text(ATOM, encoding="utf-8")


def _remove_deep_folders(root: Path) -> None:
    # shutil.rmtree recurses once per level too; remove bottom-up
    folder = root / "atoms" / Path(*["d"] * DEEP_LEVELS)
    if not (root / "atoms" / "d").exists():
        return
    (folder / "deep.yaml").unlink(missing_ok=True)
    while folder != root / "atoms":
        folder.rmdir()
        folder = folder.parent


def _link(name: str, target: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / name).symlink_to(target if target.startswith("/") else root / target)

    return make


def _fifo(name: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / name).unlink(missing_ok=True)
        os.mkfifo(root / name)

    return make


def _both(*makers: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        for maker in makers:
            maker(root)

    return make


@dataclass(frozen=True)
class FsCase:
    id: str
    make: Callable[[Path], None]
    expected: str
    hint: str


FS_CASES = [
    FsCase(
        "fifo-atom",  # opening a pipe blocks until a writer comes
        _fifo("atoms/pipe.yaml"),
        "atoms/pipe.yaml:0:0: error[io.special_file]: this path is a named pipe (FIFO), not a "
        "regular file",
        "may hold only regular files and folders",
    ),
    FsCase(
        "fifo-template",
        _fifo("layouts/email/basic.mjml"),
        "layouts/email/basic.mjml:0:0: error[io.special_file]: this path is a named pipe (FIFO), "
        "not a regular file",
        "remove it",
    ),
    FsCase(
        "fifo-beside-content",  # the build fingerprint reads every file, not only YAML
        _fifo("notes.txt"),
        "notes.txt:0:0: error[io.special_file]: this path is a named pipe (FIFO), not a regular "
        "file",
        "remove it",
    ),
    FsCase(
        "link-to-dev-zero",  # read_bytes() would read until memory runs out
        _link("atoms/zero.yaml", "/dev/zero"),
        "atoms/zero.yaml:0:0: error[io.outside_root]: this path is a link that points outside "
        "the content folder",
        "copy the file into the content folder",
    ),
    FsCase(
        "link-to-fifo-inside",
        _both(_fifo("pipe"), _link("atoms/link.yaml", "pipe")),
        "atoms/link.yaml:0:0: error[io.special_file]: this path is a link to a named pipe "
        "(FIFO), not a regular file",
        "remove it",
    ),
    FsCase(
        "link-to-folder",
        _link("atoms/shared", "segments"),
        "atoms/shared:0:0: error[io.linked_folder]: this path is a link to a folder; links to "
        "folders are not followed",
        "instead of linking to it",
    ),
    FsCase(
        "broken-link",
        _link("atoms/gone.yaml", "nowhere.yaml"),
        "atoms/gone.yaml:0:0: error[io.broken_link]: this path is a link that points nowhere "
        "(or loops)",
        "remove the link",
    ),
    FsCase(
        "folders-1200-deep",  # pathlib's ** glob recursed once per level
        _deep_folders,
        "atoms/"
        + "/".join(["d"] * 16)
        + ":0:0: error[io.too_deep]: this folder is more than 16 levels below the content "
        "folder; nothing in it is read",
        "keep content within a few folder levels",
    ),
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes and symlinks")
@pytest.mark.parametrize("case", FS_CASES, ids=[c.id for c in FS_CASES])
def test_hostile_file_system_entry(tmp_path: Path, case: FsCase) -> None:
    root = write_tree(tmp_path / "content")
    try:
        case.make(root)
        _library, diagnostics = check_content(root)
        files, refused = content_files(root)
    finally:
        _remove_deep_folders(root)
    shown = [fmt(d) for d in diagnostics]
    matches = [d for d in diagnostics if fmt(d) == case.expected]
    assert len(matches) == 1, "\n".join(shown)
    assert case.hint.lower() in matches[0].hint.lower(), matches[0].hint
    # The build's input fingerprint lists the tree with the same function.
    assert case.expected in [fmt(d) for d in refused]
    assert all(path.is_file() for path in files)


def test_valid_link_to_a_file_inside_the_tree_is_loaded(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "content")
    (root / "shared").mkdir()
    (root / "atoms" / "headline.yaml").rename(root / "shared" / "headline.txt")
    (root / "atoms" / "headline.yaml").symlink_to(root / "shared" / "headline.txt")
    library, diagnostics = check_content(root)
    assert [fmt(d) for d in diagnostics] == BASE_WARNINGS
    assert "headline" in library.atoms


def test_too_many_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_CONTENT_FILES", 40)
    root = write_tree(tmp_path / "content")
    for index in range(25):
        (root / "atoms" / f"extra-{index}.yaml").write_text(ATOM, encoding="utf-8")
    _library, diagnostics = check_content(root)
    assert [fmt(d) for d in diagnostics] == [
        ".:0:0: error[io.too_many_files]: the content folder holds more than 40 files and folders"
    ]
    assert content_files(root)[0] == []


def test_too_many_values_without_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_EXPANDED_NODES", 50)
    doc, problem = yamlio.parse_yaml_text("tags: [" + ", ".join(["x"] * 60) + "]\n", "a.yaml")
    assert doc is None and problem is not None
    assert fmt(problem) == (
        "a.yaml:1:1: error[yaml.too_many_values]: this file holds more than 50 values"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes and symlinks")
@pytest.mark.parametrize("command", ["validate", "build"])
def test_validate_and_build_refuse_pipes_and_devices_quickly(tmp_path: Path, command: str) -> None:
    """A regression here would hang on the pipe or read /dev/zero until memory runs out: the
    CLI runs in a child process with a time limit and a memory cap, so it fails fast instead."""
    root = write_tree(tmp_path / "content")
    os.mkfifo(root / "atoms" / "pipe.yaml")
    (root / "atoms" / "zero.yaml").symlink_to("/dev/zero")
    args = ["--content", str(root)] + (
        ["--out", str(tmp_path / "out")] if command == "build" else []
    )
    src = Path(atomic_content.__file__).resolve().parents[1]

    def cap_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    result = subprocess.run(
        [sys.executable, "-m", "atomic_content.cli", command, *args],
        capture_output=True,
        text=True,
        timeout=30,  # generous for a loaded machine; a clean run takes about a second
        env={**os.environ, "PYTHONPATH": str(src)},
        preexec_fn=cap_memory if sys.platform == "linux" else None,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "atoms/pipe.yaml: error[io.special_file]" in output
    assert "atoms/zero.yaml: error[io.outside_root]" in output
    assert not (tmp_path / "out").exists()


# -- validate and build agree -------------------------------------------------------------------
# Problems that only show when a variant is rendered: validate runs the build's render stage, so
# they are validate errors too.
RENDER_CASES = [
    Case(
        "mjml-unclosed-tag",
        {"layouts/email/basic.mjml": MJML_UNCLOSED},
        "",
        "",
    ),
    Case(
        "subject-over-the-hard-limit",
        {
            "atoms/subject.yaml": "slot: subject\nchannels: [email]\nstatus: approved\n"
            "text: " + "Welcome " * 40 + "\n"
        },
        "",
        "",
    ),
]
AGREEMENT_CASES = [*CASES, *RENDER_CASES]


@pytest.mark.parametrize("case", AGREEMENT_CASES, ids=[c.id for c in AGREEMENT_CASES])
def test_validate_passes_exactly_when_build_succeeds(tmp_path: Path, case: Case) -> None:
    """The contract of the shared pipeline: no validate error => the build succeeds, and a build
    that fails reports exactly what validate reported (nothing is written)."""
    content = write_tree(tmp_path / "content", case.files)
    _library, diagnostics = check_content(content, DAY)
    out = tmp_path / "dist"
    try:
        build(content, out, on=DAY, jobs=1, use_cache=False)
    except ContentError as exc:
        assert diagnostics.has_errors, f"build failed but validate passed: {exc.diagnostics}"
        assert [fmt(d) for d in exc.diagnostics] == [fmt(d) for d in diagnostics]
        assert not out.exists()
    else:
        assert not diagnostics.has_errors, "validate reported errors the build did not"
        assert (out / "manifest.json").is_file()
