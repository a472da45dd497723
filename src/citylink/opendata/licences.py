"""The licences a dataset may be published under: the Korea Open Government Licence types 1–4 (공공누리,
KOGL) and Creative Commons Attribution 4.0.  Specs and uploaded tables name one by its id; the catalogue
shows its official names and links to its official text."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec.model import Label


@dataclass(frozen=True)
class Licence:
    id: str
    name: Label           # the official names, Korean and English
    url: str              # the official text; dct:license points here
    url_en: str           # its English version (KOGL publishes its types in Korean: the same page)
    commercial: bool      # may a re-user use the data commercially
    derivatives: bool     # may a re-user change it


_KOGL = "https://www.kogl.or.kr/info/licenseType{}.do"

LICENCES: dict[str, Licence] = {l.id: l for l in (
    Licence("KOGL-1", Label("공공누리 제1유형: 출처표시", "KOGL Type 1: Source Indication"),
            _KOGL.format(1), _KOGL.format(1), True, True),
    Licence("KOGL-2", Label("공공누리 제2유형: 출처표시 + 상업적 이용금지",
                            "KOGL Type 2: Source Indication + Commercial Use Prohibition"),
            _KOGL.format(2), _KOGL.format(2), False, True),
    Licence("KOGL-3", Label("공공누리 제3유형: 출처표시 + 변경금지", "KOGL Type 3: Source Indication + Change Prohibition"),
            _KOGL.format(3), _KOGL.format(3), True, False),
    Licence("KOGL-4", Label("공공누리 제4유형: 출처표시 + 상업적 이용금지 + 변경금지",
                            "KOGL Type 4: Source Indication + Commercial Use Prohibition + Change Prohibition"),
            _KOGL.format(4), _KOGL.format(4), False, False),
    Licence("CC-BY-4.0", Label("크리에이티브 커먼즈 저작자표시 4.0 국제", "Creative Commons Attribution 4.0 International"),
            "https://creativecommons.org/licenses/by/4.0/deed.ko", "https://creativecommons.org/licenses/by/4.0/",
            True, True),
)}
