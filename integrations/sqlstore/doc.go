// Package sqlstore implements bot.Store once, over database/sql, for both
// databases chatops runs on. integrations/postgres and integrations/sqlite
// open the connection, own the migrations and describe their Dialect; the
// queries here are written once, with ? placeholders, in SQL that both
// PostgreSQL and SQLite accept.
//
// It must never hold business rules: what an alert does to an incident is
// decided in bot; this package only reads and writes rows.
package sqlstore
