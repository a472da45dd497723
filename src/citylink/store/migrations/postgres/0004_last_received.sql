-- When each source last sent a message (kept by archive): a silent vendor shows here first.
ALTER TABLE sources ADD COLUMN last_received_at timestamptz;
