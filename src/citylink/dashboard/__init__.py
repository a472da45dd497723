"""The dashboard (issue 7): the figures its pages show, each reader what its view allows.  The overview
(:mod:`.overview`) — a tile per service with its headline (:mod:`.headline`, from the service spec) and a map
of every device — is served by :mod:`citylink.api.dashboard`; the pages' files are in ``api/static/dashboard``."""
