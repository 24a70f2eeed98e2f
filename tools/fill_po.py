"""Fill msgstr entries of a .po file from a JSON mapping {msgid: msgstr} (only empty ones).

python tools/fill_po.py zh translations.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent


def main(lang: str, mapping_file: str) -> int:
    path = ROOT / "tracker" / "translations" / lang / "LC_MESSAGES" / "messages.po"
    mapping = json.loads(Path(mapping_file).read_text(encoding="utf-8"))
    with open(path, "rb") as handle:
        catalog = read_po(handle, locale=lang)
    for message in catalog:
        if message.id and not message.string and message.id in mapping:
            message.string = mapping[message.id]
    with open(path, "wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
