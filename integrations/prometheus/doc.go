// Package prometheus draws what an alert measured: it takes the
// expression out of an alert's generatorURL, asks the configured
// Prometheus for it over a time range (HTTP API query_range) and renders
// the series as a PNG chart with the incident's start and the alert's
// threshold marked.
//
// It only reads. It never queries a host named by an alert (an alert's
// generatorURL gives the expression, never the server), and everything it
// takes from outside is bounded: the URL's and the expression's length,
// the series drawn, the points per series, the bytes read and the time a
// query may take.
package prometheus
