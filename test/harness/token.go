package harness

import (
	"crypto/rand"
	"encoding/hex"
)

// RandHex is n random bytes as 2n hex digits: tokens, database names, run
// ids that two runs on one machine never share.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand panics instead
	return hex.EncodeToString(b)
}
