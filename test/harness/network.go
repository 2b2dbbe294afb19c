package harness

import (
	"fmt"
	"net"
)

// Loopback reports whether the host h is "localhost" or a loopback IP
// address: the only places the harness and the tools send anything.
func Loopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// FreePort returns a loopback TCP port that was free a moment ago. Another
// process may take it before it is used; what binds it says so.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is 127.0.0.1:port with a port that was free a moment ago.
func FreeAddr(t TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
