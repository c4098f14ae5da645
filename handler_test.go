package ddoauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

const (
	onboardingPath = "/oauth/datadog/onboarding"
	callbackPath   = "/oauth/datadog/callback"
)

// stepClock is a per-partner clock that only moves when told.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// partner is a partner's backend on a loopback port, serving the handlers,
// in front of an emulated Datadog.
type partner struct {
	dd     *ddoauthtest.Server
	oc     ddoauthtest.OAuthClient
	client *ddoauth.Client
	h      *ddoauth.Handlers
	srv    *httptest.Server
	clock  *stepClock
	key    []byte
	logs   *bytes.Buffer
	used   ddoauth.UsedStates

	mu       sync.Mutex
	conns    []*ddoauth.Connection
	errs     []error
	pages    []string // every body and header the partner answered with
	cookies  []int    // the length of each callback request's Cookie header
	sessions []string // the session IDs of the browsers, secrets too
}

type partnerOpts struct {
	style      ddoauthtest.CallbackStyle
	consent    bool // show the consent page instead of AutoConsent
	picker     bool
	keys       [][]byte // nil: one fresh key
	used       ddoauth.UsedStates
	onConnect  func(*http.Request, *ddoauth.Connection) error
	pendingTTL time.Duration
	noSession  bool // InsecureNoSession instead of Session
	tls        bool // serve the partner on https, not on loopback http

	// config has the last word on the handlers' config.
	config func(*partner, *ddoauth.HandlerConfig)
}

// sessionCookie is the partner's own sign-in cookie in these tests; its
// value is the session's ID.
const sessionCookie = "sid"

// session is the partner's HandlerConfig.Session: the ID of the signed-in
// session.
func session(r *http.Request) (string, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", err
	}
	return ck.Value, nil
}

func newPartner(t *testing.T, o partnerOpts) *partner {
	t.Helper()
	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	dd.AutoConsent = !o.consent
	dd.CallbackStyle = o.style
	p := &partner{dd: dd, clock: &stepClock{t: time.Now()}, logs: &bytes.Buffer{}, used: o.used}
	mux := http.NewServeMux()
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == callbackPath {
			p.mu.Lock()
			p.cookies = append(p.cookies, len(r.Header.Get("Cookie")))
			p.mu.Unlock()
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		p.mu.Lock()
		h := rec.Header().Clone()
		h.Del("Location") // the authorize URL carries the state by design
		p.pages = append(p.pages, rec.Body.String(), fmt.Sprint(h))
		p.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes()) //nolint:errcheck
	}))
	if o.tls {
		p.srv.StartTLS()
	} else {
		p.srv.Start()
	}
	t.Cleanup(p.srv.Close)
	redirect := p.srv.URL + callbackPath
	p.oc = dd.NewClient(redirect)
	var err error
	p.client, err = ddoauth.New(ddoauth.Config{
		ClientID: p.oc.ID, ClientSecret: p.oc.Secret, RedirectURL: redirect,
		HTTPClient: dd.Client(), Now: p.clock.Now, PendingTTL: o.pendingTTL,
		Logger: slog.New(slog.NewTextHandler(&lockedBuffer{p: p}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	keys := o.keys
	if keys == nil {
		p.key = randomKey()
		keys = [][]byte{p.key}
	}
	onConnect := o.onConnect
	if onConnect == nil {
		onConnect = func(*http.Request, *ddoauth.Connection) error { return nil }
	}
	cfg := ddoauth.HandlerConfig{
		CookieKeys:        keys,
		Session:           session,
		InsecureNoSession: o.noSession,
		SitePicker:        o.picker,
		UsedStates:        o.used,
		OnConnect: func(r *http.Request, c *ddoauth.Connection) error {
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			return onConnect(r, c)
		},
		OnError: func(_ *http.Request, err error) {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
		},
	}
	if o.noSession {
		cfg.Session = nil
	}
	if o.config != nil {
		o.config(p, &cfg)
	}
	p.h, err = p.client.Handlers(cfg)
	require.NoError(t, err)
	mux.Handle(onboardingPath, p.h.Onboarding())
	mux.Handle(callbackPath, p.h.Callback())
	return p
}

type lockedBuffer struct{ p *partner }

func (b *lockedBuffer) Write(x []byte) (int, error) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	return b.p.logs.Write(x)
}

func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) //nolint:errcheck // never fails since Go 1.24
	return k
}

// browser is a user's browser with a cookie jar, signed in to the partner
// in a session of its own. It follows redirects but stops before the
// partner's callback, so that a test can look at it.
func (p *partner) browser() *http.Client {
	b := p.anonymous()
	p.signIn(b, rand.Text())
	return b
}

// anonymous is a browser that is not signed in to the partner.
func (p *partner) anonymous() *http.Client {
	b := p.dd.Browser(p.srv.Client().Transport)
	b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == callbackPath {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return b
}

// signIn gives b the partner's session cookie for session id.
func (p *partner) signIn(b *http.Client, id string) {
	p.mu.Lock()
	p.sessions = append(p.sessions, id)
	p.mu.Unlock()
	u, _ := url.Parse(p.srv.URL + "/")
	b.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: id, Path: "/", Secure: true, HttpOnly: true}})
}

// pending returns the pending-authorization cookies b holds for the
// partner, without its session cookie, with the path they were set with.
func (p *partner) pending(b *http.Client) []*http.Cookie {
	u, _ := url.Parse(p.srv.URL + callbackPath)
	var out []*http.Cookie
	for _, ck := range b.Jar.Cookies(u) {
		if ck.Name != sessionCookie {
			ck.Path = "/"
			out = append(out, ck)
		}
	}
	return out
}

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, b *http.Client, u string) answer {
	t.Helper()
	resp, err := b.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp.StatusCode, resp.Header, string(body)}
}

// onboard opens the onboarding URL with q and returns the callback URL
// Datadog sends the browser back to.
func (p *partner) onboard(t *testing.T, b *http.Client, q url.Values) *url.URL {
	t.Helper()
	a := get(t, b, p.srv.URL+onboardingPath+"?"+q.Encode())
	require.Equal(t, http.StatusFound, a.status, a.body)
	cb, err := url.Parse(a.header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, callbackPath, cb.Path)
	return cb
}

// authorizeURL opens the onboarding URL and stops at the redirect to Datadog.
func (p *partner) authorizeURL(t *testing.T, b *http.Client, q url.Values) string {
	t.Helper()
	stop := *b
	stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	a := get(t, &stop, p.srv.URL+onboardingPath+"?"+q.Encode())
	require.Equal(t, http.StatusFound, a.status, a.body)
	return a.header.Get("Location")
}

func (p *partner) lastErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs[len(p.errs)-1]
}

func (p *partner) connections() []*ddoauth.Connection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*ddoauth.Connection(nil), p.conns...)
}

// assertClean checks that nothing the partner answered, reported or logged
// holds a secret of the flow.
func (p *partner) assertClean(t *testing.T, secrets ...string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	secrets = append(secrets, p.oc.Secret)
	secrets = append(secrets, p.sessions...)
	if p.key != nil {
		secrets = append(secrets, string(p.key), hex.EncodeToString(p.key),
			base64.StdEncoding.EncodeToString(p.key), base64.RawURLEncoding.EncodeToString(p.key))
	}
	for _, c := range p.conns {
		secrets = append(secrets, c.Token.AccessToken, c.Token.RefreshToken)
	}
	texts := append([]string{p.logs.String(), fmt.Sprintf("%v %+v %#v", p.h, p.h, *p.h)}, p.pages...)
	for _, err := range p.errs {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, s := range secrets {
		if len(s) < 8 {
			continue
		}
		for _, text := range texts {
			require.NotContains(t, text, s, "a secret reached a page, an error or a log")
		}
	}
}

// TestHandlersEverySiteEveryStyle runs the whole flow through both handlers
// for every site and every way Datadog has named the site on the two
// redirects.
func TestHandlersEverySiteEveryStyle(t *testing.T) {
	t.Parallel()
	origin := func(s ddoauth.Site) string { return "https://" + s.BrowserHost() }
	styles := []struct {
		name       string
		onboarding func(ddoauth.Site) url.Values
		callback   ddoauthtest.CallbackStyle
	}{
		{"current", func(s ddoauth.Site) url.Values { return url.Values{"site": {origin(s)}} }, ddoauthtest.CallbackDomain},
		{"2022", func(s ddoauth.Site) url.Values { return url.Values{"site": {origin(s)}} }, ddoauthtest.CallbackSite},
		{"2023", func(s ddoauth.Site) url.Values { return url.Values{"domain": {s.Domain()}} }, ddoauthtest.CallbackSite},
		{"both", func(s ddoauth.Site) url.Values {
			return url.Values{"site": {origin(s)}, "domain": {s.Domain()}}
		}, ddoauthtest.CallbackBoth},
		{"no parameter", func(ddoauth.Site) url.Values { return nil }, ddoauthtest.CallbackDomain},
		{"no callback parameter", func(s ddoauth.Site) url.Values { return url.Values{"domain": {s.Domain()}} }, ddoauthtest.CallbackNone},
	}
	for _, st := range styles {
		for _, site := range ddoauth.Sites() {
			t.Run(st.name+"/"+site.Name(), func(t *testing.T) {
				t.Parallel()
				p := newPartner(t, partnerOpts{style: st.callback})
				// With no site the user picks their region on US1's page.
				p.dd.SignIn(p.dd.DefaultOrg(site).ID)
				b := p.browser()
				cb := p.onboard(t, b, st.onboarding(site))

				a := get(t, b, cb.String())
				require.Equal(t, http.StatusOK, a.status, a.body)
				assert.Contains(t, a.body, "You may now close this tab")
				conns := p.connections()
				require.Len(t, conns, 1)
				assert.Equal(t, site.Domain(), conns[0].Site.Domain())
				assert.Empty(t, conns[0].Site.Org())
				assert.Equal(t, 1, p.dd.Count(ddoauthtest.EndpointToken))
				for _, r := range p.dd.Requests() {
					if r.Endpoint == ddoauthtest.EndpointToken {
						assert.Equal(t, "api."+site.Domain(), r.Host)
					}
				}
				assert.Empty(t, p.pending(b), "the callback clears its cookie")
				p.assertClean(t, cb.Query().Get("state"), cb.Query().Get("code"))
			})
		}
	}
}

func TestHandlersNoSiteAnywhereIsUS1(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{style: ddoauthtest.CallbackNone})
	b := p.browser()
	assert.True(t, strings.HasPrefix(p.authorizeURL(t, b, nil), "https://app.datadoghq.com/oauth2/v1/authorize?"))
	a := get(t, b, p.onboard(t, b, nil).String())
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Len(t, p.connections(), 1)
	assert.Equal(t, "US1", p.connections()[0].Site.Name())
}

func TestHandlersOrgSubdomain(t *testing.T) {
	t.Parallel()
	for _, style := range []ddoauthtest.CallbackStyle{ddoauthtest.CallbackDomain, ddoauthtest.CallbackSite, ddoauthtest.CallbackBoth} {
		t.Run(style.String(), func(t *testing.T) {
			t.Parallel()
			p := newPartner(t, partnerOpts{style: style})
			eu, err := ddoauth.ResolveSite("acme.datadoghq.eu")
			require.NoError(t, err)
			p.dd.AddOrg(ddoauthtest.Org{ID: "acme", Site: eu})
			b := p.browser()
			q := url.Values{"site": {"https://acme.datadoghq.eu"}}
			assert.True(t, strings.HasPrefix(p.authorizeURL(t, b, q), "https://acme.datadoghq.eu/oauth2/v1/authorize?"))
			a := get(t, b, p.onboard(t, b, q).String())
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Len(t, p.connections(), 1)
			assert.Equal(t, "datadoghq.eu", p.connections()[0].Site.String(), "API calls never carry the subdomain")
		})
	}
}

// TestHandlersCookie checks the pending cookie's attributes: __Host- on
// https, Path=/, host-only, Secure, HttpOnly, Lax, ten minutes at most.
func TestHandlersCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tls    bool
		ttl    time.Duration
		prefix string
	}{
		{true, 0, "__Host-ddoauth-"},
		{true, 3 * time.Minute, "__Host-ddoauth-"},
		{true, time.Hour, "__Host-ddoauth-"},
		{false, 0, "ddoauth-"}, // loopback http: browsers refuse prefixes there
	} {
		t.Run(fmt.Sprint(tc.prefix, tc.ttl), func(t *testing.T) {
			t.Parallel()
			ttl := tc.ttl
			p := newPartner(t, partnerOpts{pendingTTL: ttl, tls: tc.tls})
			b := p.browser()
			b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			a := get(t, b, p.srv.URL+onboardingPath+"?domain=datadoghq.eu")
			require.Equal(t, http.StatusFound, a.status)
			assert.Empty(t, a.body, "the authorize URL, with its state, is in Location only")
			authURL, err := url.Parse(a.header.Get("Location"))
			require.NoError(t, err)
			state := authURL.Query().Get("state")

			raw := a.header.Values("Set-Cookie")
			require.Len(t, raw, 1)
			ck, err := http.ParseSetCookie(raw[0])
			require.NoError(t, err)
			assert.Regexp(t, "^"+tc.prefix+`[A-Za-z0-9_-]{8}-0$`, ck.Name)
			assert.NotContains(t, ck.Name+ck.Value, state)
			assert.True(t, ck.Secure)
			assert.True(t, ck.HttpOnly)
			assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
			assert.Equal(t, "/", ck.Path, "__Host- wants /; onboarding sees the earlier ones")
			assert.Empty(t, ck.Domain, "host-only")
			want := 600
			if ttl == 3*time.Minute {
				want = 180
			}
			assert.Equal(t, want, ck.MaxAge, "PendingTTL, at most 10 minutes")
			for _, h := range []string{"Cache-Control", "Referrer-Policy"} {
				assert.NotEmpty(t, a.header.Get(h), h)
			}
		})
	}
}

// TestHandlersTabs runs two authorizations in one browser at once, in two
// regions, and completes them in reverse order: neither clobbers the other.
func TestHandlersTabs(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{})
	b := p.browser()
	eu := p.onboard(t, b, url.Values{"domain": {"datadoghq.eu"}})
	us5 := p.onboard(t, b, url.Values{"site": {"https://us5.datadoghq.com"}})
	assert.Len(t, p.pending(b), 2)

	for _, cb := range []*url.URL{us5, eu} {
		a := get(t, b, cb.String())
		require.Equal(t, http.StatusOK, a.status, a.body)
	}
	conns := p.connections()
	require.Len(t, conns, 2)
	assert.Equal(t, "US5", conns[0].Site.Name())
	assert.Equal(t, "EU1", conns[1].Site.Name())
	assert.Empty(t, p.pending(b))
}

// sealedElsewhere runs onboarding on other handlers of the same client, in
// b's session, and returns the cookie they set and the authorize URL.
func sealedElsewhere(t *testing.T, p *partner, keys [][]byte, b *http.Client) (*http.Cookie, string) {
	t.Helper()
	h, err := p.client.Handlers(ddoauth.HandlerConfig{CookieKeys: keys, Session: session,
		OnConnect: func(*http.Request, *ddoauth.Connection) error { return nil }})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, onboardingPath+"?domain=datadoghq.eu", nil)
	u, _ := url.Parse(p.srv.URL)
	for _, ck := range b.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	h.Onboarding().ServeHTTP(rec, req)
	require.Equal(t, http.StatusFound, rec.Code)
	cks := rec.Result().Cookies()
	require.Len(t, cks, 1)
	return cks[0], rec.Header().Get("Location")
}

type sharedUsed struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *sharedUsed) Use(_ context.Context, key string, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	if s.m[key] {
		return false, nil
	}
	s.m[key] = true
	return true, nil
}

type failingUsed struct{}

func (failingUsed) Use(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("store unavailable")
}

// TestHandlersRejections drives each attack or accident through a real
// browser and checks the typed error, the 4xx page and that no code was
// redeemed when none should be.
func TestHandlersRejections(t *testing.T) {
	t.Parallel()
	eu := url.Values{"domain": {"datadoghq.eu"}}
	tests := []struct {
		name   string
		opts   partnerOpts
		run    func(t *testing.T, p *partner) answer
		status int
		want   []error
		tokens int // token requests made
	}{
		{
			name: "replay in the same browser",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				require.Equal(t, http.StatusOK, get(t, b, cb.String()).status)
				return get(t, b, cb.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch}, tokens: 1,
		},
		{
			name: "replay with a copy of the cookie",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				stolen := b.Jar.Cookies(cb) // the session's cookie too
				require.Len(t, stolen, 2)
				require.Equal(t, http.StatusOK, get(t, b, cb.String()).status)
				other := p.anonymous()
				other.Jar.SetCookies(cb, stolen)
				return get(t, other, cb.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch, ddoauth.ErrReplayed}, tokens: 1,
		},
		{
			name: "replay at another replica sharing UsedStates",
			opts: partnerOpts{used: &sharedUsed{}},
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				stolen := b.Jar.Cookies(cb)
				require.Equal(t, http.StatusOK, get(t, b, cb.String()).status)
				replica, err := p.client.Handlers(ddoauth.HandlerConfig{CookieKeys: [][]byte{p.key}, UsedStates: p.used, Session: session,
					OnConnect: func(*http.Request, *ddoauth.Connection) error { return nil },
					OnError:   func(_ *http.Request, err error) { p.mu.Lock(); p.errs = append(p.errs, err); p.mu.Unlock() }})
				require.NoError(t, err)
				req := httptest.NewRequest(http.MethodGet, cb.RequestURI(), nil)
				for _, c := range stolen {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				replica.Callback().ServeHTTP(rec, req)
				return answer{rec.Code, rec.Header(), rec.Body.String()}
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrReplayed}, tokens: 1,
		},
		{
			name: "expired",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				p.clock.Advance(10*time.Minute + time.Second)
				return get(t, b, cb.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateExpired},
		},
		{
			// A PendingTTL longer than the cookie's ten minutes does not
			// let a copy of the cookie outlive it.
			name: "a copy of the cookie after the cookie's lifetime",
			opts: partnerOpts{pendingTTL: time.Hour},
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				p.clock.Advance(10*time.Minute + time.Second)
				return get(t, b, cb.String()) // the test's jar ignores the partner's clock
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateExpired},
		},
		{
			name: "login CSRF: another user's authorization in this browser",
			run: func(t *testing.T, p *partner) answer {
				attacker := p.browser()
				cb := p.onboard(t, attacker, eu)
				victim := p.browser()
				victim.Jar.SetCookies(cb, p.pending(attacker))
				return get(t, victim, cb.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch, ddoauth.ErrSessionMismatch},
		},
		{
			name: "the user signed in as someone else meanwhile",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				p.signIn(b, "someone-else")
				return get(t, b, cb.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch, ddoauth.ErrSessionMismatch},
		},
		{
			name: "the user signed out meanwhile",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				u, _ := url.Parse(p.srv.URL + "/")
				b.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Path: "/", MaxAge: -1}})
				return get(t, b, cb.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch, ddoauth.ErrSessionMismatch},
		},
		{
			name: "onboarding without a session",
			run: func(t *testing.T, p *partner) answer {
				b := p.anonymous()
				a := get(t, b, p.srv.URL+onboardingPath+"?domain=datadoghq.eu")
				assert.Empty(t, a.header.Values("Set-Cookie"), "no authorization started")
				assert.Empty(t, a.header.Get("Location"))
				return a
			},
			status: http.StatusForbidden, want: []error{ddoauth.ErrNoSession},
		},
		{
			name: "callback in another browser",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				a := get(t, p.browser(), cb.String())
				// The owner's authorization is not spent by the attempt.
				require.Equal(t, http.StatusOK, get(t, b, cb.String()).status)
				return a
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch}, tokens: 1,
		},
		{
			name: "other tab's state with this tab's code",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				one := p.onboard(t, b, eu)
				two := p.onboard(t, b, eu)
				q := one.Query()
				q.Set("state", two.Query().Get("state"))
				one.RawQuery = q.Encode()
				return get(t, b, one.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrInvalidGrant}, tokens: 1,
		},
		{
			name: "mix-up: the callback names another region",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				return get(t, b, withQuery(cb, func(q url.Values) { q.Set("domain", "datadoghq.com") }))
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrSiteMismatch},
		},
		{
			name: "mix-up: the callback names a host that is not Datadog",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				return get(t, b, withQuery(cb, func(q url.Values) { q.Set("domain", "datadoghq.eu.attacker.example") }))
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrUnknownSite},
		},
		{
			name: "tampered cookie",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				cks := p.pending(b)
				require.Len(t, cks, 1)
				v := []byte(cks[0].Value)
				v[len(v)/2] ^= 1
				if v[len(v)/2] == '-' || v[len(v)/2] == '_' {
					v[len(v)/2] = 'A'
				}
				b.Jar.SetCookies(cb, []*http.Cookie{{Name: cks[0].Name, Value: string(v), Path: "/"}})
				return get(t, b, cb.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch, ddoauth.ErrBadCookie},
		},
		{
			name: "cookie sealed with a foreign key",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				ck, authURL := sealedElsewhere(t, p, [][]byte{randomKey()}, b)
				u, _ := url.Parse(p.srv.URL + callbackPath)
				b.Jar.SetCookies(u, []*http.Cookie{ck})
				a := get(t, b, authURL)
				require.Equal(t, http.StatusFound, a.status)
				return get(t, b, a.header.Get("Location"))
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch, ddoauth.ErrBadCookie},
		},
		{
			name: "denied",
			opts: partnerOpts{consent: true},
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb, err := p.dd.Deny(context.Background(), p.authorizeURL(t, b, eu))
				require.NoError(t, err)
				return get(t, b, cb.String())
			},
			status: http.StatusForbidden, want: []error{ddoauth.ErrAccessDenied},
		},
		{
			name: "onboarding with a site that is not Datadog",
			run: func(t *testing.T, p *partner) answer {
				return get(t, p.browser(), p.srv.URL+onboardingPath+"?site="+url.QueryEscape("https://app.datadoghq.com.evil.example"))
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrUnknownSite},
		},
		{
			name: "onboarding with site and domain of two regions",
			run: func(t *testing.T, p *partner) answer {
				return get(t, p.browser(), p.srv.URL+onboardingPath+"?site=https://app.datadoghq.eu&domain=datadoghq.com")
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrSiteMismatch},
		},
		{
			name: "no state",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				return get(t, b, withQuery(cb, func(q url.Values) { q.Del("state") }))
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch},
		},
		{
			name: "state repeated",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				cb.RawQuery += "&state=" + cb.Query().Get("state")
				return get(t, b, cb.String())
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrStateMismatch},
		},
		{
			name: "no code",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				return get(t, b, withQuery(cb, func(q url.Values) { q.Del("code") }))
			},
			status: http.StatusBadRequest, want: []error{ddoauth.ErrInvalidCallback},
		},
		{
			name: "Datadog's token endpoint fails",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				p.dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Status: http.StatusServiceUnavailable, Times: 1})
				return get(t, b, cb.String())
			},
			status: http.StatusBadGateway, want: []error{ddoauth.ErrServer}, tokens: 1,
		},
		{
			name: "the client secret was rotated",
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				cb := p.onboard(t, b, eu)
				p.dd.RotateSecret(p.oc.ID)
				return get(t, b, cb.String())
			},
			status: http.StatusInternalServerError, want: []error{ddoauth.ErrInvalidClient}, tokens: 1,
		},
		{
			name: "OnConnect fails: the grant is revoked",
			opts: partnerOpts{onConnect: func(*http.Request, *ddoauth.Connection) error { return errors.New("database down") }},
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				a := get(t, b, p.onboard(t, b, eu).String())
				assert.Equal(t, 2, p.dd.Count(ddoauthtest.EndpointRevoke), "refresh and access token revoked")
				_, err := p.client.Refresh(context.Background(), p.connections()[0])
				assert.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
				return a
			},
			status: http.StatusInternalServerError, tokens: 2, // the exchange and the refresh that fails
		},
		{
			name: "OnConnect finds the API key taken",
			opts: partnerOpts{onConnect: func(*http.Request, *ddoauth.Connection) error {
				return &ddoauth.Error{Op: "create API key", Err: ddoauth.ErrAPIKeyExists, Hint: "revoke the old key"}
			}},
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				return get(t, b, p.onboard(t, b, eu).String())
			},
			status: http.StatusConflict, want: []error{ddoauth.ErrAPIKeyExists}, tokens: 1,
		},
		{
			name: "UsedStates fails",
			opts: partnerOpts{used: failingUsed{}},
			run: func(t *testing.T, p *partner) answer {
				b := p.browser()
				return get(t, b, p.onboard(t, b, eu).String())
			},
			status: http.StatusInternalServerError,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPartner(t, tc.opts)
			a := tc.run(t, p)
			assert.Equal(t, tc.status, a.status, a.body)
			assert.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"))
			assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
			assert.Contains(t, a.header.Get("Content-Security-Policy"), "default-src 'none'")
			assert.Contains(t, a.body, "<h1>Could not connect Datadog</h1>")
			assert.NotContains(t, a.body, "http", "no links or third-party content")
			err := p.lastErr()
			require.Error(t, err)
			_, typed := errors.AsType[*ddoauth.Error](err)
			assert.True(t, typed || len(tc.want) == 0, "%T", err)
			for _, want := range tc.want {
				assert.ErrorIs(t, err, want)
			}
			assert.Equal(t, tc.tokens, p.dd.Count(ddoauthtest.EndpointToken), "token requests")
			p.assertClean(t)
		})
	}
}

func TestHandlersKeyRotation(t *testing.T) {
	t.Parallel()
	old, next := randomKey(), randomKey()
	p := newPartner(t, partnerOpts{keys: [][]byte{next, old}})
	b := p.browser()
	ck, authURL := sealedElsewhere(t, p, [][]byte{old}, b)
	u, _ := url.Parse(p.srv.URL + callbackPath)
	b.Jar.SetCookies(u, []*http.Cookie{ck})
	a := get(t, b, authURL)
	require.Equal(t, http.StatusFound, a.status)
	a = get(t, b, a.header.Get("Location"))
	assert.Equal(t, http.StatusOK, a.status, a.body)
	assert.Len(t, p.connections(), 1)
}

func TestHandlersSitePicker(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{picker: true})
	b := p.browser()
	a := get(t, b, p.srv.URL+onboardingPath)
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"))
	assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
	for _, s := range ddoauth.Sites() {
		assert.Contains(t, a.body, `href="?domain=`+s.Domain()+`"`)
		assert.Contains(t, a.body, ">"+s.Name()+"<")
	}
	u, _ := url.Parse(p.srv.URL)
	assert.Empty(t, b.Jar.Cookies(u.JoinPath(callbackPath)), "no authorization started")

	// Choosing a site starts there.
	authURL := p.authorizeURL(t, b, url.Values{"domain": {"ap2.datadoghq.com"}})
	assert.True(t, strings.HasPrefix(authURL, "https://ap2.datadoghq.com/oauth2/v1/authorize?"))
}

func TestHandlersMethods(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{})
	for _, path := range []string{onboardingPath, callbackPath} {
		for _, m := range []string{http.MethodPost, http.MethodHead, http.MethodPut} {
			req, err := http.NewRequest(m, p.srv.URL+path, nil)
			require.NoError(t, err)
			resp, err := p.browser().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m+" "+path)
			assert.Equal(t, http.MethodGet, resp.Header.Get("Allow"))
		}
	}
	assert.Zero(t, p.dd.Count(ddoauthtest.EndpointToken))
}

func TestHandlersConfig(t *testing.T) {
	t.Parallel()
	client, err := ddoauth.New(ddoauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: "https://partner.example/cb"})
	require.NoError(t, err)
	ok := func(*http.Request, *ddoauth.Connection) error { return nil }
	key := randomKey()
	valid := func() ddoauth.HandlerConfig {
		return ddoauth.HandlerConfig{CookieKeys: [][]byte{key}, OnConnect: ok, Session: session}
	}
	_, err = client.Handlers(valid())
	require.NoError(t, err, "each case below breaks one field of this")
	for _, tc := range []struct {
		name string
		edit func(*ddoauth.HandlerConfig)
	}{
		{"no key", func(c *ddoauth.HandlerConfig) { c.CookieKeys = nil }},
		{"short key", func(c *ddoauth.HandlerConfig) { c.CookieKeys = [][]byte{key[:16]} }},
		{"short old key", func(c *ddoauth.HandlerConfig) { c.CookieKeys = [][]byte{key, key[:31]} }},
		{"all-zero key", func(c *ddoauth.HandlerConfig) { c.CookieKeys = [][]byte{make([]byte, 32)} }},
		{"old key repeated", func(c *ddoauth.HandlerConfig) { c.CookieKeys = [][]byte{key, randomKey(), bytes.Clone(key)} }},
		{"no OnConnect", func(c *ddoauth.HandlerConfig) { c.OnConnect = nil }},
		{"neither Session nor InsecureNoSession", func(c *ddoauth.HandlerConfig) { c.Session = nil }},
		{"Session and InsecureNoSession", func(c *ddoauth.HandlerConfig) { c.InsecureNoSession = true }},
		{"negative OnConnectTimeout", func(c *ddoauth.HandlerConfig) { c.OnConnectTimeout = -time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tc.edit(&cfg)
			_, err := client.Handlers(cfg)
			require.ErrorIs(t, err, ddoauth.ErrInvalidConfig)
			assert.NotContains(t, err.Error(), string(key[:16]))
		})
	}
	cfg := ddoauth.HandlerConfig{CookieKeys: [][]byte{key}, OnConnect: ok, Session: session}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), fmt.Sprint(slog.AnyValue(cfg).Resolve())} {
		for _, enc := range []string{string(key), fmt.Sprint(key), fmt.Sprintf("%x", key), base64.StdEncoding.EncodeToString(key)} {
			assert.NotContains(t, out, enc)
		}
	}
}

// FuzzCallbackHandler feeds the callback any query and Cookie header: it
// never panics and never answers 2xx or 3xx to them.
func FuzzCallbackHandler(f *testing.F) {
	dd := ddoauthtest.NewUnstartedServer()
	oc := dd.NewClient("https://partner.example" + callbackPath)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	client, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: oc.RedirectURIs[0],
		HTTPClient: &http.Client{Transport: dd.Transport()}, Now: func() time.Time { return created }})
	require.NoError(f, err)
	h, err := client.Handlers(ddoauth.HandlerConfig{CookieKeys: [][]byte{bytes.Repeat([]byte{7}, 32)}, Session: session,
		OnConnect: func(*http.Request, *ddoauth.Connection) error { return nil }})
	require.NoError(f, err)

	// A real cookie for a real state and session, so the fuzzer reaches
	// past the seal and the session check.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, onboardingPath+"?domain=datadoghq.eu", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "fuzz-session"})
	h.Onboarding().ServeHTTP(rec, req)
	authURL, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(f, err)
	ck := rec.Result().Cookies()[0]
	state := url.QueryEscape(authURL.Query().Get("state"))
	cookie := ck.Name + "=" + ck.Value + "; " + sessionCookie + "=fuzz-session"
	f.Add("state="+state+"&code=abc&domain=datadoghq.eu", cookie)
	f.Add("state="+state+"&error=access_denied", cookie)
	f.Add("state="+state+"&code=abc&domain=datadoghq.com", cookie)
	f.Add("state="+state+"&code=abc&site=https://evil.example", cookie)
	f.Add("state="+state+"&code=abc&domain=datadoghq.eu", ck.Name+"="+ck.Value+"; "+sessionCookie+"=another-session")

	f.Fuzz(func(t *testing.T, rawQuery, cookie string) {
		req := (&http.Request{
			Method: http.MethodGet,
			URL:    &url.URL{Path: callbackPath, RawQuery: rawQuery},
			Header: http.Header{"Cookie": {cookie}},
			Host:   "partner.example",
		}).WithContext(context.Background())
		rec := httptest.NewRecorder()
		h.Callback().ServeHTTP(rec, req)
		if rec.Code < 400 {
			t.Fatalf("status %d for query %q", rec.Code, rawQuery)
		}
		if rec.Header().Get("Referrer-Policy") != "no-referrer" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("headers missing: %v", rec.Header())
		}
	})
}

// FuzzOnboardingHandler feeds onboarding any query: it never panics, and it
// redirects only to a Datadog authorize page.
func FuzzOnboardingHandler(f *testing.F) {
	client, err := ddoauth.New(ddoauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: "https://partner.example" + callbackPath})
	require.NoError(f, err)
	h, err := client.Handlers(ddoauth.HandlerConfig{CookieKeys: [][]byte{bytes.Repeat([]byte{7}, 32)}, Session: session,
		OnConnect: func(*http.Request, *ddoauth.Connection) error { return nil }})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, rawQuery string) {
		req := (&http.Request{Method: http.MethodGet, URL: &url.URL{Path: onboardingPath, RawQuery: rawQuery},
			Header: http.Header{"Cookie": {sessionCookie + "=fuzz-session"}}, Host: "partner.example"}).WithContext(context.Background())
		rec := httptest.NewRecorder()
		h.Onboarding().ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusFound:
			loc, err := url.Parse(rec.Header().Get("Location"))
			if err != nil || loc.Scheme != "https" || loc.Path != "/oauth2/v1/authorize" {
				t.Fatalf("redirect to %q", rec.Header().Get("Location"))
			}
			if _, err := ddoauth.ResolveSite(loc.Host); err != nil {
				t.Fatalf("redirect to a host that is not Datadog: %q", loc.Host)
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d for query %q", rec.Code, rawQuery)
		}
	})
}

// TestHandlersConcurrentReplays sends one callback many times at once, with
// its cookie: exactly one completes, and Datadog sees one token request.
func TestHandlersConcurrentReplays(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{})
	b := p.browser()
	cb := p.onboard(t, b, url.Values{"domain": {"datadoghq.eu"}})
	stolen := b.Jar.Cookies(cb) // the pending and the session cookie
	require.Len(t, stolen, 2)

	const n = 16
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodGet, cb.RequestURI(), nil)
			for _, ck := range stolen {
				req.AddCookie(ck)
			}
			rec := httptest.NewRecorder()
			p.h.Callback().ServeHTTP(rec, req)
			statuses <- rec.Code
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	assert.Equal(t, map[int]int{http.StatusOK: 1, http.StatusBadRequest: n - 1}, count)
	assert.Equal(t, 1, p.dd.Count(ddoauthtest.EndpointToken))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, err := range p.errs {
		assert.ErrorIs(t, err, ddoauth.ErrReplayed)
	}
}

// withQuery returns cb with its query changed by edit, as a tampered
// callback link.
func withQuery(cb *url.URL, edit func(url.Values)) string {
	q := cb.Query()
	edit(q)
	u := *cb
	u.RawQuery = q.Encode()
	return u.String()
}
