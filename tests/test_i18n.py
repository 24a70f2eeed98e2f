"""Every string shown to users goes through Flask-Babel and has its Chinese translation."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
METHODS = [("tracker/**.py", "python"), ("tracker/templates/**.html", "jinja2"), ("tracker/templates/**.txt", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def extracted_messages() -> set[str]:
    messages = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS):
        messages.add(message[0] if isinstance(message, tuple) else message)
    return messages


def test_every_message_has_a_chinese_translation():
    with open(ROOT / "tracker/translations/zh/LC_MESSAGES/messages.po", "rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(extracted_messages() - translated)
    assert missing == [], "run `python tools/i18n.py` and translate: " + "; ".join(missing)


def test_templates_have_no_bare_english_headings():
    # A rough guard: visible English words in templates must come through _().
    for template in (ROOT / "tracker/templates").rglob("*.html"):
        for line in template.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("<h") and ">" in stripped and "{{" not in stripped:
                text = stripped.split(">", 1)[1].split("<", 1)[0]
                assert not any(c.isascii() and c.isalpha() for c in text), f"{template.name}: {stripped}"
