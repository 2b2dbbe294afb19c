// Package alertmanager receives Alertmanager's webhook notifications: it
// authenticates them, bounds them, decodes and validates the v4 payload, and
// hands each one to the incident engine. It answers 2xx only once the engine
// has committed the notification, and 503 when the store failed, so that
// Alertmanager retries: an acknowledged alert is never lost.
//
// It must never log a credential or answer an unauthenticated caller with
// anything but a bare 401.
package alertmanager
