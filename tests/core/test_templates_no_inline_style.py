"""The content security policy allows only the site's own style sheets and scripts (`style-src 'self'`,
`script-src 'self'`): an inline style attribute or script in a template is silently ignored by the
browser (the anonymization review's side-by-side videos stacked for that reason). No template may
carry one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INLINE = re.compile(r"""\sstyle\s*=\s*["']|<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=\s*["']""", re.I)


def _templates() -> list[Path]:
    return sorted(p for p in ROOT.glob("**/templates/**/*.html") if ".venv" not in p.parts)


def test_the_search_finds_the_product_templates() -> None:
    assert len(_templates()) > 30


def test_no_template_carries_an_inline_style_script_or_event_handler() -> None:
    offenders = []
    for path in _templates():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INLINE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, "blocked by the content security policy:\n" + "\n".join(offenders)
