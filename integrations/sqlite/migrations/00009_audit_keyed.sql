-- +goose Up
-- Keyed audit rows: sealed with HMAC-SHA-256 under a key the database
-- never holds (CHATOPS_AUDIT_KEY), so someone with the file alone cannot
-- recompute the chain. key_id names the key without revealing it. Rows
-- written before are plain SHA-256: keyed = FALSE, key_id = ''. Both
-- columns are in the hashed content of keyed rows.
ALTER TABLE audit_log ADD COLUMN keyed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE audit_log ADD COLUMN key_id TEXT NOT NULL DEFAULT '' CHECK (keyed = (key_id <> ''));

-- +goose Down
ALTER TABLE audit_log DROP COLUMN key_id;
ALTER TABLE audit_log DROP COLUMN keyed;
