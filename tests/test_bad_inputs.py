"""Table of bad inputs, each with its exact expected diagnostic (position, code, message, hint).

Every case writes the valid base tree of ``contentkit`` plus one broken file and checks that
``check_content`` reports exactly the expected diagnostic — and that loading never raises.
``test_all_bad_inputs_in_one_run`` puts them all in one tree: every problem is reported at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from atomic_content.errors import Diagnostic
from atomic_content.validate import check_content
from contentkit import write_tree


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes | None]
    expected: str  # "path:line:col: severity[code]: message"
    hint: str  # a fragment the hint must contain


def fmt(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.col}: {d.severity.value}[{d.code}]: {d.message}"


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)

CASES = [
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
        "atoms/j1.yaml:5:11: error[token.syntax]: This token cannot be read: unexpected end of "
        "template, expected 'end of print statement'.",
        "every {{ has a matching }}",
    ),
    Case(
        "undeclared-attribute",
        {
            "atoms/j2.yaml": "slot: headline\nstatus: approved\n"
            "text: \"Hi {{ customer.firstname | default('x') }}\"\n"
        },
        "atoms/j2.yaml:3:14: error[token.unknown_attribute]: customer.firstname is not a known "
        "customer attribute.",
        "did you mean 'first_name'?",
    ),
    Case(
        "optional-without-default",
        {
            "atoms/j3.yaml": 'slot: headline\nstatus: approved\ntext: "Hi {{ customer.first_name }}"\n'
        },
        "atoms/j3.yaml:3:14: error[token.missing_default]: Not every customer has "
        "customer.first_name, and this token has no fallback.",
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
        "customers/cz.yaml:5:11: error[customer.attribute_type]: orders should be a integer",
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
        "written.",
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
        "written.",
        "Write the text itself",
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


def test_valid_base_tree_is_clean(tmp_path: Path) -> None:
    write_tree(tmp_path)
    _library, diagnostics = check_content(tmp_path)
    assert [fmt(d) for d in diagnostics] == []


def test_all_bad_inputs_in_one_run(tmp_path: Path) -> None:
    files: dict[str, str | bytes | None] = {}
    for case in CASES:
        if case.id in {"unused-atom"}:
            continue  # warnings are only computed for content without errors
        files.update(case.files)
    write_tree(tmp_path, files)
    _library, diagnostics = check_content(tmp_path)
    shown = [fmt(d) for d in diagnostics]
    for case in CASES:
        overridden = any(files.get(name) != content for name, content in case.files.items())
        if case.id == "unused-atom" or overridden:
            continue  # a later case rewrote the same file
        assert case.expected in shown, (case.id, shown)
