package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// refused answers every API request with 401, as Datadog does a token it
// no longer takes, so that each request makes the token source refresh.
type refused struct{}

func (refused) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusUnauthorized, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// TestEventsMarkConnections: refreshes that keep failing put a note on the
// connection in /connections, a working refresh clears it, and a grant
// Datadog refuses marks it revoked.
func TestEventsMarkConnections(t *testing.T) {
	t.Parallel()
	b, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	c := userAgent(t)
	connect(t, c, origin, "alice", "https://app.datadoghq.eu")
	list, _ := connections(t, c, origin)
	require.Len(t, list, 1)
	id := list[0]["id"].(string)
	api := b.client.TokenSource(b.store, id).Client(refused{})
	call := func() {
		t.Helper()
		resp, err := api.Get("https://api.datadoghq.eu/api/v1/validate")
		require.NoError(t, err)
		resp.Body.Close()
	}
	note := func() string {
		t.Helper()
		list, _ := connections(t, c, origin)
		n, _ := list[0]["note"].(string)
		return n
	}

	b.dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: -1, Status: 400, Body: `{"error":"invalid_request"}`})
	call()
	call()
	assert.Empty(t, note(), "two failures are under the threshold")
	call()
	assert.True(t, strings.HasPrefix(note(), failingNote), note())
	list, _ = connections(t, c, origin)
	assert.Equal(t, "connected", list[0]["status"])

	b.dd.ClearFaults()
	call()
	assert.Empty(t, note())

	b.dd.RevokeTokens("eu1-org")
	call()
	list, _ = connections(t, c, origin)
	assert.Equal(t, "revoked", list[0]["status"])
	assert.Contains(t, list[0]["note"], "connect again")
}
