//go:build !linux

package main

// releaseStartupPages is Linux's only (see memory_linux.go).
func releaseStartupPages() error { return nil }
