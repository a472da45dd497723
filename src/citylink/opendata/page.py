"""The catalogue as a page for people: plain HTML5 in Korean and English, no script and nothing loaded from
elsewhere.  Per dataset: title, description, department, licence (linked to its official text), update
frequency, keywords, the attributes or columns the reader may see, and its downloads — direct links for a
table; for a service a form (range and format; GET, so the result is a plain URL to share) and links to the
last 7 days in each format."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .dcat import CATALOG_PATH, download_url
from .formats import FORMATS

KST = timezone(timedelta(hours=9))   # the district's time, for the form's suggested range


@lru_cache(maxsize=1)
def _template():
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    return env.get_template("catalogue.html")


def render(base: str, datasets, *, deployment: str, departments: dict, now_us: int, max_days: float,
           max_degrees: float) -> str:
    now = datetime.fromtimestamp(now_us / 1e6, KST).replace(minute=0, second=0, microsecond=0)
    start, end = (now - timedelta(days=7)).isoformat(), now.isoformat()
    formats = list(FORMATS.items().values())
    rows = []
    for d in datasets:
        dept = departments.get(d.department)
        links = [(f.label, download_url(base, d.id, f.name)
                  + (f"?timeAt={start}&endTimeAt={end}".replace("+", "%2B") if d.time_series else ""))
                 for f in formats]
        rows.append({"d": d, "department": getattr(dept, "name", None), "links": links})
    return _template().render(base=base, rows=rows, deployment=deployment, catalog=base + CATALOG_PATH,
                              formats=formats, start=start, end=end, max_days=f"{max_days:g}",
                              max_degrees=f"{max_degrees:g}")
