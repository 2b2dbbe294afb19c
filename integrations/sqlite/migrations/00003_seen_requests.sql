-- +goose Up
-- Signed chat requests seen within their validity window: a replay of one
-- (to this replica or another) is refused.
CREATE TABLE seen_requests (
    key        TEXT        PRIMARY KEY,
    expires_at TIMESTAMP   NOT NULL
);
CREATE INDEX seen_requests_by_expiry ON seen_requests (expires_at);

-- +goose Down
DROP TABLE seen_requests;
