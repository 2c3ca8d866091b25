"""Generate a synthetic, valid content tree of any size, as real YAML files.

``generate(root, atoms=10000, segments=200, journeys=20, seed=0)`` writes a complete content
folder (settings, profile, segments, layouts with templates, journeys, atoms, one customer) under
``root``. The same arguments always write the same bytes (a seeded ``random.Random``), so
benchmark figures compare like with like. The mix is meant to look like a real library: most
atoms target a segment and a journey, some are generic, some are drafts, retired, expiring or
in a fallback locale only, so coverage sees every status.

Run as ``python benchmarks/generate.py OUT [--atoms N] [--segments N] [--journeys N]
[--seed N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

SETTINGS = """\
brand:
  name: Synthetic Outfitters
  sender: {name: Synthetic, email: hello@synthetic.example}
  base_url: https://www.synthetic.example
  deep_link_scheme: synth
  address: Synthetic GmbH, Hamburg
  unsubscribe: {url: https://www.synthetic.example/unsubscribe}
default_locale: en
locales:
  en: {name: English}
  de: {name: Deutsch, fallback: en}
  de-AT: {name: Deutsch (Oesterreich), fallback: de}
channels:
  email: {}
  app: {}
  microsite: {}
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
  score: {type: integer, example: 42}
  orders: {type: integer, example: 3}
  consent.personalization: {type: boolean, optional: true, example: true}
"""

MJML = """\
<mjml>
  <mj-head>
    <mj-title>{{ slots.subject }}</mj-title><mj-preview>{{ slots.preheader }}</mj-preview>
  </mj-head>
  <mj-body>
    <mj-section><mj-column>
      <mj-text><h1>{{ slots.headline }}</h1></mj-text>
      <mj-text>{{ slots.body }}</mj-text>
      {% if slots.cta %}
      <mj-button href="{{ slots.cta.url }}">{{ slots.cta.label }}</mj-button>
      {% endif %}
    </mj-column></mj-section>
  </mj-body>
</mjml>
"""

MICROSITE = """\
<!DOCTYPE html>
<html lang="{{ message.lang }}"><head><title>{{ slots.headline }}</title></head>
<body><h1>{{ slots.headline }}</h1>{{ slots.body }}
{% if slots.cta %}<a href="{{ slots.cta.url }}">{{ slots.cta.label }}</a>{% endif %}</body></html>
"""

# channel -> layout id -> (template file or None, slot -> need)
LAYOUTS: dict[str, dict[str, tuple[str | None, dict[str, str]]]] = {
    "email": {
        "standard": (
            "standard.mjml",
            {
                "subject": "required",
                "preheader": "optional",
                "headline": "required",
                "image": "optional",
                "body": "required",
                "offer": "optional",
                "cta": "required",
            },
        ),
        "promo": (
            "promo.mjml",
            # The shared template reads preheader and body too: they must be declared.
            {
                "subject": "required",
                "preheader": "optional",
                "headline": "required",
                "body": "optional",
                "offer": "required",
                "cta": "required",
            },
        ),
    },
    "app": {
        "push-card": (
            None,
            {"push_title": "required", "push_body": "required", "headline": "optional"},
        ),
        "push-only": (None, {"push_title": "required", "push_body": "required"}),
    },
    "microsite": {
        "landing": (
            "landing.html.j2",
            {"headline": "required", "body": "required", "image": "optional", "cta": "required"},
        ),
    },
}

SLOT_KINDS = {
    "subject": "line",
    "preheader": "line",
    "headline": "line",
    "body": "markdown",
    "cta": "cta",
    "offer": "offer",
    "image": "image",
    "push_title": "line",
    "push_body": "line",
}
LOCALES = ("en", "de", "de-AT")
BASE_DATE = dt.date(2026, 11, 1)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _content(slot: str, n: int) -> str:
    kind = SLOT_KINDS[slot]
    if kind == "cta":
        return f"cta: {{label: Shop now {n}, url: https://www.synthetic.example/shop/{n}}}\n"
    if kind == "image":
        return f"image: {{src: https://cdn.synthetic.example/{n}.jpg, alt: Product photo {n}}}\n"
    if kind == "offer":
        return f"offer: {{code: SAVE{n}, headline: Save 10 percent with code {n}}}\n"
    if kind == "markdown":
        return f"text: |\n  Paragraph {n} about **our gear**.\n"
    return f"text: Message line {n} for {slot}\n"


def generate(
    root: Path, atoms: int = 10000, segments: int = 200, journeys: int = 20, seed: int = 0
) -> Path:
    """Write a synthetic content tree under ``root`` (created if needed); returns ``root``.

    Deterministic for equal arguments. The tree is valid (``atomic validate`` finds no error).
    """
    rng = random.Random(seed)
    root = Path(root)
    _write(root / "atomic.yaml", SETTINGS)
    _write(root / "profile.yaml", PROFILE)

    segment_ids = [f"seg-{i:03d}" for i in range(segments)]
    for i, sid in enumerate(segment_ids):
        lines = [
            f"name: Segment {i}",
            f"condition: {{score: {{$gte: {i}}}, tier: {{$in: [gold, silver]}}}}",
            f"priority: {rng.randint(0, 100)}",
        ]
        if rng.random() > 0.1:  # some segments lack a size or value: coverage assumes 1
            lines.append(f"size: {rng.randint(100, 50000)}")
        if rng.random() > 0.1:
            lines.append(f"value: {rng.randint(1, 400) / 4}")
        _write(root / "segments" / f"{sid}.yaml", "\n".join(lines) + "\n")

    for channel, layouts in LAYOUTS.items():
        for layout_id, (template, slots) in layouts.items():
            body = "".join(f"  {slot}: {need}\n" for slot, need in slots.items())
            head = f"template: {template}\n" if template else ""
            _write(root / "layouts" / channel / f"{layout_id}.yaml", f"{head}slots:\n{body}")
            if template:
                source = MJML if channel == "email" else MICROSITE
                _write(root / "layouts" / channel / template, source)

    # journeys: 2-4 steps, each on 1-2 channels; personalizing for a sample of the segments.
    plans: list[tuple[str, list[tuple[str, dict[str, str]]], list[str], list[str], float]] = []
    for j in range(journeys):
        jid = f"journey-{j:02d}"
        steps = []
        for s in range(rng.randint(2, 4)):
            chosen = rng.sample(sorted(LAYOUTS), rng.randint(1, 2))
            steps.append(
                (f"step-{s}", {ch: rng.choice(sorted(LAYOUTS[ch])) for ch in sorted(chosen)})
            )
        journey_segments = sorted(rng.sample(segment_ids, min(len(segment_ids), 40)))
        locales = list(LOCALES) if rng.random() < 0.6 else ["en", "de"]
        # Some journeys are well stocked with generic fallbacks, some barely: missing cells.
        generic_rate = rng.choice([0.02, 0.1, 0.15, 0.25])
        plans.append((jid, steps, journey_segments, locales, generic_rate))
        lines = [f"name: Journey {j}", f"segments: [{', '.join(journey_segments)}]"]
        lines.append(f"locales: [{', '.join(locales)}]")
        lines.append("steps:")
        for step_id, channels in steps:
            mapping = ", ".join(f"{ch}: {layout}" for ch, layout in channels.items())
            lines.append(f"  - id: {step_id}\n    channels: {{{mapping}}}")
        _write(root / "journeys" / f"{jid}.yaml", "\n".join(lines) + "\n")

    statuses = ["approved"] * 85 + ["draft"] * 8 + ["review"] * 4 + ["retired"] * 3
    for n in range(atoms):
        jid, steps, journey_segments, locales, generic_rate = rng.choice(plans)
        step_id, channels = rng.choice(steps)
        channel = rng.choice(sorted(channels))
        slot = rng.choice(sorted(LAYOUTS[channel][channels[channel]][1]))
        lines = [f"slot: {slot}", f"status: {rng.choice(statuses)}"]
        generic = rng.random() < generic_rate
        if not generic:
            count = 1 if rng.random() < 0.8 else 2
            lines.append(f"segments: [{', '.join(sorted(rng.sample(journey_segments, count)))}]")
        scope = rng.random()
        # Generic copy is nearly always written for one journey; targeted copy often is.
        if (generic and scope < 0.99) or scope < 0.5:
            lines.append(f"journeys: [{jid}]")
        elif scope < 0.75:
            lines.append(f"journeys: [{jid}/{step_id}]")
        if rng.random() < 0.7:
            lines.append(f"channels: [{channel}]")
        locale = rng.choices(locales, weights=[5, 3, 2][: len(locales)])[0]
        if locale != "en" or rng.random() < 0.5:
            lines.append(f"locale: {locale}")
        if rng.random() < 0.3:
            lines.append(f"priority: {rng.randint(1, 3)}")
        if rng.random() < 0.05:
            until = BASE_DATE + dt.timedelta(days=rng.randint(0, 60))
            lines.append(f"valid_until: {until.isoformat()}")
        elif rng.random() < 0.03:
            start = BASE_DATE + dt.timedelta(days=rng.randint(-30, 30))
            lines.append(f"valid_from: {start.isoformat()}")
        lines.append(_content(slot, n).rstrip("\n"))
        _write(root / "atoms" / jid / f"atom-{n:05d}.yaml", "\n".join(lines) + "\n")

    _write(
        root / "customers" / "sample.yaml",
        "attributes:\n  id: C-1\n  locale: en\n  tier: gold\n  score: 50\n  orders: 2\n",
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic atomic-content tree.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--atoms", type=int, default=10000)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--journeys", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generate(args.out, args.atoms, args.segments, args.journeys, args.seed)
    print(
        f"wrote {args.atoms} atoms, {args.segments} segments, {args.journeys} journeys "
        f"to {args.out}"
    )


if __name__ == "__main__":
    main()
