// Package benchkit holds the helpers the benchmark tools under test/bench
// share: a fresh PostgreSQL database per run, building and running the
// chatops binary, loopback checks and free ports, and small process and
// file utilities.
package benchkit
