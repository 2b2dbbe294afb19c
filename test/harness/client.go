package harness

import (
	"fmt"
	"io"
	"net/http"
)

// client sends the harness's requests to bots and Alertmanagers, each
// giving up after WaitTimeout.
var client = &http.Client{Timeout: WaitTimeout}

// Do sends req with the harness's client and reads the whole answer.
func Do(req *http.Request) (code int, body []byte, err error) { return do(client, req) }

func do(c *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("read response body: %w", err)
	}
	return resp.StatusCode, body, nil
}
