// Command partner-backend is a small partner backend for a Datadog API
// integration: a stub sign-in, the onboarding URL, the redirect URI, a
// JSON list of connections and a disconnect that revokes the grant.
//
//	GET  /                                the home page: sign in, connect, connections
//	POST /signin                          user=<name>: a stub sign-in (session cookie)
//	GET  /oauth/datadog/onboarding        the integration's onboarding URL
//	GET  /oauth/datadog/callback          the redirect URI
//	GET  /connections                     the signed-in user's connections, as JSON
//	POST /connections/{id}/disconnect     revokes the grant at Datadog
//
// The API key Datadog creates for an organization is saved by user and
// site, so that a reconnection finds it; a key the store fails to save is
// kept in a fallback and logged by its last four characters.
//
// The onboarding URL takes the site as Datadog sends it (site= or
// domain=), or by name (?site=eu1); a link that names none gets a site
// picker, or the site -site or DD_SITE names.
//
// It listens on ADDR (default 127.0.0.1:8080). With no other configuration
// Datadog is ddoauthtest's in-process emulator, and its authorize and
// consent pages are served to the browser under /_datadog/<host>/, since a
// browser cannot reach the emulated host names. DDOAUTH_AUTOCONSENT=1 makes
// the emulator approve at once, so that connect.sh can run the whole flow
// with curl and a cookie jar.
//
// With DD_CLIENT_ID, DD_CLIENT_SECRET and DD_REDIRECT_URL set it talks to
// real Datadog; DD_REDIRECT_URL must reach this server's
// /oauth/datadog/callback. DDOAUTH_COOKIE_KEY (32 bytes, base64) keeps
// pending authorizations valid across restarts and replicas; without it a
// random key is made at start.
//
// DATABASE_URL (Postgres) or REDIS_URL selects a store that replicas share,
// for connections, API keys and the callback's used states, with
// DDOAUTH_STORE_KEY (32 bytes, base64) sealing tokens and keys at rest;
// memory is the default. Sign-in sessions and the connection list stay in
// each process: they stand for the partner's own application.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/examples/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cli.Exit("partner-backend", run(ctx, os.Args[1:], os.Getenv, os.Stdout))
}

const summary = `partner-backend is a small partner backend for a Datadog API integration:
a stub sign-in, the onboarding URL, the redirect URI, a list of
connections and a disconnect. Without DD_CLIENT_ID, Datadog is an
in-process emulator whose pages are served under /_datadog/.`

var env = []cli.Env{
	{"ADDR", "address to listen on (default 127.0.0.1:8080)"},
	{"DD_SITE", "default of -site"},
	{"DD_CLIENT_ID", "the OAuth client's ID; set, it talks to real Datadog"},
	{"DD_CLIENT_SECRET", "the OAuth client's secret"},
	{"DD_REDIRECT_URL", "real Datadog: the registered redirect URI, reaching this server's /oauth/datadog/callback"},
	{"DDOAUTH_COOKIE_KEY", "32 bytes, base64: seals pending authorizations; shared by replicas (default: random at start)"},
	{"DDOAUTH_AUTOCONSENT", "1: the emulator approves at once, for connect.sh"},
	{"DATABASE_URL", "Postgres: a store replicas share"},
	{"REDIS_URL", "Redis: a store replicas share"},
	{"DDOAUTH_STORE_KEY", "32 bytes, base64: seals tokens and API keys in the shared store"},
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := cli.NewFlagSet("partner-backend", summary, env, out)
	siteFlag := fs.String("site", getenv("DD_SITE"), cli.SiteUsage+"; for onboarding links that name none (empty: a site picker)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	getenv = withEnv(getenv, "DD_SITE", *siteFlag)
	addr := getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	b, err := newBackend("http://"+ln.Addr().String(), getenv)
	if err != nil {
		ln.Close()
		return err
	}
	defer b.Close()
	b.printUsage(out)
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown) //nolint:errcheck
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// withEnv is getenv with name set to value.
func withEnv(getenv func(string) string, name, value string) func(string) string {
	return func(k string) string {
		if k == name {
			return value
		}
		return getenv(k)
	}
}

// newBackend makes the backend for the origin it is served at (used for
// the emulator's redirect URI and gateway links).
func newBackend(origin string, getenv func(string) string) (*backend, error) {
	key, err := cookieKey(getenv("DDOAUTH_COOKIE_KEY"))
	if err != nil {
		return nil, err
	}
	site, err := cli.Site(getenv("DD_SITE"))
	if err != nil {
		return nil, err
	}
	st, closeStore, err := openStore(context.Background(), getenv)
	if err != nil {
		return nil, err
	}
	b := &backend{origin: origin, site: site, store: st, closeStore: closeStore, sessions: map[string]string{}, conns: map[string]*record{}, logs: os.Stderr}
	b.keys = &keyStore{primary: st, Leaser: st}
	if id := getenv("DD_CLIENT_ID"); id != "" {
		b.client, err = ddoauth.New(ddoauth.Config{
			ClientID:     id,
			ClientSecret: getenv("DD_CLIENT_SECRET"),
			RedirectURL:  getenv("DD_REDIRECT_URL"),
			OnEvent:      b.onEvent,
		})
	} else {
		b.dd = ddoauthtest.NewServer()
		b.dd.AutoConsent = getenv("DDOAUTH_AUTOCONSENT") == "1"
		redirect := origin + "/oauth/datadog/callback"
		oc := b.dd.NewClient(redirect)
		b.client, err = ddoauth.New(ddoauth.Config{
			ClientID:     oc.ID,
			ClientSecret: oc.Secret,
			RedirectURL:  redirect,
			HTTPClient:   b.dd.Client(),
			OnEvent:      b.onEvent,
		})
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	b.handlers, err = b.client.Handlers(ddoauth.HandlerConfig{
		CookieKeys: [][]byte{key},
		Session:    b.session, // the callback completes only in the session that started it
		UsedStates: st,
		OnConnect:  b.onConnect,
		SitePicker: true,
		OnError: func(r *http.Request, err error) {
			fmt.Fprintf(os.Stderr, "partner-backend: %s %s: %v\n", r.Method, r.URL.Path, err)
		},
	})
	if err != nil {
		b.Close()
		return nil, err
	}
	b.routes()
	return b, nil
}

func cookieKey(env string) ([]byte, error) {
	if env == "" {
		key := make([]byte, 32)
		rand.Read(key) //nolint:errcheck // never fails since Go 1.24
		return key, nil
	}
	key, err := base64.StdEncoding.DecodeString(env)
	if err != nil || len(key) != 32 {
		return nil, errors.New("DDOAUTH_COOKIE_KEY must be 32 bytes in standard base64 (openssl rand -base64 32)")
	}
	return key, nil
}

func (b *backend) printUsage(out io.Writer) {
	fmt.Fprintf(out, "partner-backend listening on %s\n", b.origin)
	if b.dd == nil {
		fmt.Fprintf(out, "Datadog: real. Set the integration's onboarding URL to <your public origin>/oauth/datadog/onboarding.\n")
		return
	}
	consent := "shows its consent page"
	if b.dd.AutoConsent {
		consent = "approves at once (DDOAUTH_AUTOCONSENT=1)"
	}
	fmt.Fprintf(out, "Datadog: emulated in process; it %s.\n", consent)
	fmt.Fprintf(out, "Open %s/ in a browser: sign in, then connect. Datadog's pages are served under %s/_datadog/.\n", b.origin, b.origin)
	fmt.Fprintf(out, "Or: ./examples/partner-backend/connect.sh (with DDOAUTH_AUTOCONSENT=1)\n")
}
