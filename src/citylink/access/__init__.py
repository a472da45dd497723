"""Who may read what: readers (:mod:`.readers`), the specs' visibility as a view per reader
(:mod:`.visibility`), readers' API keys (:mod:`.keys`), staff accounts (:mod:`.accounts`) and their dashboard sessions
(:mod:`.sessions`, the same scopes as the accounts' keys), the audit log of who read what (:mod:`.audit`) and
the keys' request budget (:mod:`.rate`).  The API, the dashboard, downloads and notifications take their view
from here."""
from .accounts import hash_password, password_matches, user_viewer
from .audit import AuditLog
from .keys import KEY_SCOPES, KeyRing, key_viewer, new_key, secret_hash
from .rate import RateLimit
from .readers import ADMIN, ANONYMOUS, Viewer
from .visibility import LOCATION, UNOWNED, View, Visibility

__all__ = ["ADMIN", "ANONYMOUS", "KEY_SCOPES", "LOCATION", "UNOWNED", "AuditLog", "KeyRing", "RateLimit", "View",
           "Viewer", "Visibility", "hash_password", "key_viewer", "new_key", "password_matches", "secret_hash",
           "user_viewer"]
