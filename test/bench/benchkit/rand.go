package benchkit

import (
	"crypto/rand"
	"encoding/hex"
)

// RandHex returns n random bytes as 2n hex digits.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
