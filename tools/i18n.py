"""Keep the translation catalogues in step with the code.

    python tools/i18n.py          extract messages, update zh_CN and en catalogues, report gaps

Translations are edited in tracker/translations/<lang>/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "tracker" / "translations"
PYBABEL = str(Path(sys.executable).parent / "pybabel")


def main() -> int:
    pot = TRANSLATIONS / "messages.pot"
    subprocess.run(
        [PYBABEL, "extract", "-F", "babel.cfg", "-k", "_l", "--no-location", "--sort-output", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    for lang in ("zh", "en"):
        po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        command = "update" if po.exists() else "init"
        args = [PYBABEL, command, "-i", str(pot), "-d", str(TRANSLATIONS), "-l", lang]
        if command == "update":
            args += ["--no-fuzzy-matching", "--ignore-obsolete"]
        subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    from babel.messages.pofile import read_po

    with open(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    missing = [m.id for m in catalog if m.id and not m.string]
    for msgid in missing:
        print("untranslated:", msgid)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
