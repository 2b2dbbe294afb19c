-- +goose Up
-- Keyed audit rows: sealed with HMAC-SHA-256 under a key the database
-- never holds (CHATOPS_AUDIT_KEY), so someone with database access alone
-- cannot recompute the chain. key_id names the key without revealing it.
-- Rows written before are plain SHA-256: keyed = FALSE, key_id = ''. Both
-- columns are in the hashed content of keyed rows. Adding a column with a
-- constant default rewrites no row, so the append-only trigger is not
-- involved.
ALTER TABLE audit_log ADD COLUMN keyed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE audit_log ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD CONSTRAINT audit_log_key_id CHECK (keyed = (key_id <> ''));

-- +goose Down
ALTER TABLE audit_log DROP CONSTRAINT audit_log_key_id;
ALTER TABLE audit_log DROP COLUMN key_id;
ALTER TABLE audit_log DROP COLUMN keyed;
