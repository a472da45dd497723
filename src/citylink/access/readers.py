"""Who is reading: the readers the visibility model (:mod:`.visibility`) decides for."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Viewer:
    """Who is reading: the anonymous public; a key's holder — district staff (scope ``staff``: every
    department's internal data), a department (its own internal and restricted data), or both; an admin
    (scope ``admin``, the bootstrap key, or the insecure switch)."""
    name: str
    admin: bool = False
    staff: bool = False
    departments: frozenset[str] = frozenset()
    key_id: str | None = field(default=None, compare=False)   # the API key it came with, for the audit log

    def may_see(self, visibility: str, department: str | None) -> bool:
        if self.admin or visibility == "public":
            return True
        own = department is not None and department in self.departments
        return own or (visibility == "internal" and self.staff)


ANONYMOUS = Viewer("anonymous")
ADMIN = Viewer("admin", admin=True)
