"""A tiny, valid content tree for tests, written as real files into a temp folder.

``write_tree(root, overrides)`` writes :data:`BASE` with ``overrides`` applied: a value of
``None`` deletes a file, ``bytes`` are written as they are. Keep BASE small and valid: tests
assert exact diagnostics against its line numbers.
"""

from __future__ import annotations

from pathlib import Path

SETTINGS = """\
brand:
  name: Acme Outdoor
  sender: {name: Acme, email: hello@acme.example}
  base_url: https://www.acme.example
  deep_link_scheme: acme
  address: Acme GmbH, Hamburg
  unsubscribe: {url: https://www.acme.example/unsubscribe, mailto: unsubscribe@acme.example}
default_locale: en
locales:
  en: {name: English}
  de: {name: Deutsch, fallback: en}
  de-AT: {fallback: de}
channels:
  email: {}
  app: {}
slots:
  subject: {kind: line}
  preheader: {kind: line}
  headline: {kind: line}
  body: {kind: markdown}
  cta: {kind: cta}
  offer: {kind: offer}
  image: {kind: image}
  push_title: {kind: line}
  push_body: {kind: line}
governance: {owner_required: "off"}
"""

PROFILE = """\
id_attribute: id
locale_attribute: locale
consent_attribute: consent.personalization
attributes:
  id: {type: string, example: C-1, sensitivity: personal}
  first_name: {type: string, optional: true, example: Ada, sensitivity: personal}
  locale: {type: string, example: en}
  tier: {type: string, example: gold}
  orders: {type: integer, example: 3}
  consent.personalization: {type: boolean, optional: true, example: true}
"""

SEGMENT_VIP = """\
name: VIP
condition: {tier: {$in: [gold, platinum]}}
priority: 50
size: 1000
value: 40
"""

SEGMENT_NEW = """\
name: New customers
condition: {orders: {$lt: 1}}
priority: 10
size: 5000
value: 5
"""

JOURNEY = """\
name: Welcome
segments: [vip, new]
locales: [en, de]
steps:
  - id: day-0
    trigger: Sign-up
    channels: {email: basic, app: push}
"""

LAYOUT_EMAIL = """\
template: basic.mjml
slots:
  subject: required
  preheader: optional
  headline: required
  body: required
  cta: optional
"""

MJML = """\
<mjml>
  <mj-head><mj-title>{{ slots.subject }}</mj-title><mj-preview>{{ slots.preheader }}</mj-preview></mj-head>
  <mj-body>
    <mj-section><mj-column>
      <mj-text><h1>{{ slots.headline }}</h1></mj-text>
      <mj-text>{{ slots.body }}</mj-text>
      {% if slots.cta %}<mj-button href="{{ slots.cta.url }}">{{ slots.cta.label }}</mj-button>{% endif %}
    </mj-column></mj-section>
  </mj-body>
</mjml>
"""

LAYOUT_APP = """\
slots:
  push_title: required
  push_body: required
"""

BASE: dict[str, str | bytes] = {
    "atomic.yaml": SETTINGS,
    "profile.yaml": PROFILE,
    "segments/vip.yaml": SEGMENT_VIP,
    "segments/new.yaml": SEGMENT_NEW,
    "journeys/welcome.yaml": JOURNEY,
    "layouts/email/basic.yaml": LAYOUT_EMAIL,
    "layouts/email/basic.mjml": MJML,
    "layouts/app/push.yaml": LAYOUT_APP,
    "atoms/subject.yaml": "slot: subject\nchannels: [email]\nstatus: approved\n"
    "text: \"Welcome to Acme, {{ customer.first_name | default('friend') }}\"\n",
    "atoms/subject-de.yaml": "slot: subject\nchannels: [email]\nstatus: approved\nlocale: de\n"
    "text: Willkommen bei Acme\n",
    "atoms/headline.yaml": "slot: headline\nstatus: approved\ntext: Gear for every trail\n",
    "atoms/headline-vip.yaml": "slot: headline\nstatus: approved\nsegments: [vip]\n"
    "text: Your VIP gear is waiting\n",
    "atoms/body.yaml": "slot: body\nstatus: approved\ntext: |\n  Thanks for joining.\n\n"
    "  [Browse the shop](https://www.acme.example/shop)\n",
    "atoms/cta.yaml": "slot: cta\nstatus: approved\ncta: {label: Shop now, url: https://www.acme.example/shop}\n",
    "atoms/push-title.yaml": "slot: push_title\nchannels: [app]\nstatus: approved\ntext: Welcome!\n",
    "atoms/push-body.yaml": "slot: push_body\nchannels: [app]\nstatus: approved\n"
    "text: Your first trail awaits.\n",
    "customers/ada.yaml": "attributes:\n  id: C-1\n  first_name: Ada\n  locale: en\n  tier: gold\n"
    "  orders: 4\n  consent: {personalization: true}\n",
    "customers/bob.yaml": "attributes:\n  id: C-2\n  locale: de-AT\n  tier: silver\n  orders: 0\n",
}


def write_tree(root: Path, overrides: dict[str, str | bytes | None] | None = None) -> Path:
    """Write BASE (with ``overrides``) under ``root``; returns ``root``."""
    files: dict[str, str | bytes | None] = {**BASE, **(overrides or {})}
    for rel, content in files.items():
        if content is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root
