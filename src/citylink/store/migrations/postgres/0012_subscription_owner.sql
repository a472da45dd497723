-- Whom a subscription acts for (issue 5): the id of the reader's API key that created it (api_keys.id).
-- Its notifications show what that key may see, a key that is not an admin's lists and changes only its
-- own subscriptions, and they stop when the key is revoked.  NULL: the bootstrap admin key or
-- --insecure-no-auth (every subscription made before this migration), which see everything.
ALTER TABLE subscriptions ADD COLUMN owner text;
CREATE INDEX subscriptions_by_owner ON subscriptions(owner, created_at, id) WHERE owner IS NOT NULL;
