"""Who may read what: readers (:mod:`.readers`), the specs' visibility as a view per reader
(:mod:`.visibility`), readers' API keys (:mod:`.keys`) and their request budget (:mod:`.rate`).  The API
uses it today; downloads, notifications and the dashboard will take their view from the same place."""
from .keys import KEY_SCOPES, KeyRing, key_viewer, new_key, secret_hash
from .rate import RateLimit
from .readers import ADMIN, ANONYMOUS, Viewer
from .visibility import LOCATION, UNOWNED, View, Visibility

__all__ = ["ADMIN", "ANONYMOUS", "KEY_SCOPES", "LOCATION", "UNOWNED", "KeyRing", "RateLimit", "View", "Viewer",
           "Visibility", "key_viewer", "new_key", "secret_hash"]
