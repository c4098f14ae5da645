package ddoauth_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
)

// pipeListener hands the server ends of in-memory connections to an
// http.Server: real HTTP/1.1 with no socket, which testing/synctest's
// fake clock can drive.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { close(l.done); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 443} }

// dripServer answers every request 200 and then one byte a second for an
// hour. It returns a client without a Timeout that reaches it for every
// host, as a slow or hostile middlebox on the way to Datadog would.
func dripServer(t *testing.T) *http.Client {
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for range time.Hour / time.Second {
			if _, err := w.Write([]byte(" ")); err != nil || rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done(): // the client hung up
				return
			case <-time.After(time.Second):
			}
		}
	})}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed
	tr := &http.Transport{DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		select {
		case ln.conns <- server:
			return client, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return &http.Client{Transport: tr}
}

// TestRequestsHaveADeadline is issue 9 item 8: with an HTTPClient whose
// Timeout is 0, an answer that trickles in one byte a second held
// Complete, Refresh, Revoke and CreateAPIKey for as long as it lasted.
// Each request now ends at Config.RequestTimeout: 30 s by default.
func TestRequestsHaveADeadline(t *testing.T) {
	t.Parallel()
	calls := []struct {
		name string
		call func(ctx context.Context, c *ddoauth.Client, conn *ddoauth.Connection) error
	}{
		{"Complete", func(ctx context.Context, c *ddoauth.Client, _ *ddoauth.Connection) error {
			_, p, err := c.Start(ddoauth.Sites()[3])
			if err != nil {
				return err
			}
			_, err = c.Complete(ctx, p, callback(p, "domain", "datadoghq.eu"))
			return err
		}},
		{"Refresh", func(ctx context.Context, c *ddoauth.Client, conn *ddoauth.Connection) error {
			_, err := c.Refresh(ctx, conn)
			return err
		}},
		{"Revoke", func(ctx context.Context, c *ddoauth.Client, conn *ddoauth.Connection) error {
			return c.Revoke(ctx, conn)
		}},
		{"CreateAPIKey", func(ctx context.Context, c *ddoauth.Client, conn *ddoauth.Connection) error {
			_, err := c.CreateAPIKey(ctx, conn)
			return err
		}},
	}
	for _, tt := range calls {
		for _, timeout := range []time.Duration{0, 5 * time.Second} {
			want := timeout
			if want == 0 {
				want = 30 * time.Second
			}
			t.Run(tt.name+"/"+want.String(), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					c, err := ddoauth.New(ddoauth.Config{ClientID: testClientID, ClientSecret: testSecret, RedirectURL: testRedirect,
						HTTPClient: dripServer(t), RequestTimeout: timeout})
					require.NoError(t, err)
					conn := &ddoauth.Connection{Site: ddoauth.Sites()[3], Token: &oauth2.Token{AccessToken: "AT-abcdef123456",
						RefreshToken: "RT-abcdef123456", Expiry: time.Now().Add(time.Hour)}}
					start := time.Now()
					err = tt.call(t.Context(), c, conn)
					assert.Equal(t, want, time.Since(start), "how long the call took")
					assert.ErrorIs(t, err, context.DeadlineExceeded)
					assert.ErrorIs(t, err, ddoauth.ErrNetwork)
					_, ok := err.(*ddoauth.Error)
					assert.True(t, ok, "a *ddoauth.Error: %T", err)
				})
			})
		}
	}
}

func TestNewRejectsNegativeRequestTimeout(t *testing.T) {
	t.Parallel()
	_, err := ddoauth.New(ddoauth.Config{ClientID: testClientID, ClientSecret: testSecret, RedirectURL: testRedirect,
		RequestTimeout: -time.Second})
	assert.ErrorIs(t, err, ddoauth.ErrInvalidConfig)
}
