package browsertest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/internal/testenv"
)

const chromiumPath = "/usr/bin/chromium"

const (
	onboardingPath = "/oauth/datadog/onboarding"
	callbackPath   = "/oauth/datadog/callback"
)

// spki is the base64 SHA-256 of a certificate's public key, the form
// Chromium's --ignore-certificate-errors-spki-list takes.
func spki(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// needChromium reports whether Chromium is at path. When it is not, it
// skips t, or fails it if DDOAUTH_REQUIRE_BROWSER=1: CI sets that once
// `make chromium` succeeded, so that a browser test that stops running is
// noticed.
func needChromium(t testing.TB, path string, getenv func(string) string) bool {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return true
	}
	testenv.Missing(t, "Chromium ("+path+")", "chromium", "DDOAUTH_REQUIRE_BROWSER", getenv)
	return false
}

// TestChromium runs onboarding → the emulator's consent page → callback
// in headless Chromium, on Datadog's real host names, and reads the
// pending cookie's attributes from the browser's own cookie store.
//
// How the browser reaches the emulator: --host-resolver-rules maps every
// Datadog host (and partner.example) to the loopback listeners, so the
// browser sends the real names in the URL, Host header and TLS SNI, and
// the redirect from Datadog to the partner is a real cross-site
// navigation, which is what SameSite=Lax must survive. How it trusts the
// emulator: --ignore-certificate-errors-spki-list with the public keys of
// the emulator's and the partner's test certificates only, so any other
// certificate error still fails. Both flags apply to this test's browser
// alone, which runs with a fresh profile.
func TestChromium(t *testing.T) {
	if !needChromium(t, chromiumPath, os.Getenv) {
		return
	}
	t.Parallel()

	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	dd.AutoConsent = false // the user clicks Authorize on the consent page

	type partner struct {
		name   string
		base   string // the partner's origin as the browser sees it
		mux    *http.ServeMux
		prefix string // of the pending cookie's name
	}
	tlsMux, loopMux := http.NewServeMux(), http.NewServeMux()
	tlsSrv := httptest.NewUnstartedServer(tlsMux)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	loopback := httptest.NewServer(loopMux)
	t.Cleanup(loopback.Close)
	partners := []partner{
		{"https partner", "https://partner.example", tlsMux, "__Host-ddoauth-"},
		{"loopback http partner", loopback.URL, loopMux, "ddoauth-"},
	}

	var mu sync.Mutex
	var conns []*ddoauth.Connection
	var errs []error
	for _, p := range partners {
		redirect := p.base + callbackPath
		oc := dd.NewClient(redirect)
		client, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirect, HTTPClient: dd.Client()})
		require.NoError(t, err)
		key := make([]byte, 32)
		copy(key, p.name)
		h, err := client.Handlers(ddoauth.HandlerConfig{
			CookieKeys: [][]byte{key},
			Session: func(r *http.Request) (string, error) {
				ck, err := r.Cookie(sessionCookie)
				if err != nil {
					return "", err
				}
				return ck.Value, nil
			},
			OnConnect: func(_ *http.Request, c *ddoauth.Connection) error {
				mu.Lock()
				defer mu.Unlock()
				conns = append(conns, c)
				return nil
			},
			OnError: func(_ *http.Request, err error) {
				mu.Lock()
				defer mu.Unlock()
				errs = append(errs, err)
			},
		})
		require.NoError(t, err)
		p.mux.Handle(onboardingPath, h.Onboarding())
		p.mux.Handle(callbackPath, h.Callback())
		p.mux.HandleFunc(signInPath, signIn)
	}

	// The emulator's leaf certificate, as the browser will be shown it.
	conn, err := tls.Dial("tcp", dd.Addr(), &tls.Config{ServerName: "app.datadoghq.eu", RootCAs: dd.CertPool()})
	require.NoError(t, err)
	ddLeaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()

	_, ddPort, _ := net.SplitHostPort(dd.Addr())
	_, partnerPort, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	rules := []string{"MAP partner.example 127.0.0.1:" + partnerPort}
	for _, d := range []string{"datadoghq.com", "datadoghq.eu", "ddog-gov.com"} {
		rules = append(rules, "MAP *."+d+" 127.0.0.1:"+ddPort)
	}
	rules = append(rules, "MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1")

	allocCtx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("host-resolver-rules", strings.Join(rules, ", ")),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki(ddLeaf.RawSubjectPublicKeyInfo)+","+
			spki(tlsSrv.Certificate().RawSubjectPublicKeyInfo)),
	)
	t.Cleanup(cancel)
	browser, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(browser), "start Chromium")

	for i, p := range partners {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(browser, time.Minute)
			defer cancel()
			ctx, cancel = chromedp.NewContext(ctx)
			defer cancel()

			// The user signs in to the partner: a SameSite=Lax session
			// cookie, which must reach the callback after Datadog's
			// cross-site redirect for the handlers to complete it.
			resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(p.base+signInPath))
			require.NoError(t, err)
			require.Equal(t, int64(http.StatusOK), resp.Status)

			// Datadog's tile links to the onboarding URL; the partner
			// redirects to EU1's authorize page, which shows the consent page.
			start := time.Now()
			resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(p.base+onboardingPath+"?site="+url.QueryEscape("https://app.datadoghq.eu")))
			require.NoError(t, err)
			require.Equal(t, int64(http.StatusOK), resp.Status)
			assert.True(t, strings.HasPrefix(resp.URL, "https://app.datadoghq.eu/oauth2/v1/authorize?"), resp.URL)
			org, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#org")))
			require.NoError(t, err)
			assert.Equal(t, "Default EU1", org)

			// The browser took one pending cookie, with every attribute:
			// the __Host- prefix on https, none on loopback http.
			pending := cookies(ctx, t, p.base+callbackPath)
			require.Len(t, pending, 1)
			ck := pending[0]
			assert.True(t, strings.HasPrefix(ck.Name, p.prefix), ck.Name)
			assert.True(t, ck.Secure, "Secure")
			assert.True(t, ck.HTTPOnly, "HttpOnly")
			assert.Equal(t, network.CookieSameSiteLax, ck.SameSite)
			assert.Equal(t, "/", ck.Path)
			base, err := url.Parse(p.base)
			require.NoError(t, err)
			assert.Equal(t, base.Hostname(), ck.Domain, "host-only")
			assert.False(t, ck.Session)
			expires := time.Unix(int64(ck.Expires), 0)
			assert.WithinRange(t, expires, start.Add(9*time.Minute), time.Now().Add(10*time.Minute+time.Second))

			// The user clicks Authorize: Datadog's form posts, then redirects
			// to the partner's callback, a cross-site navigation.
			resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="approve"]`)))
			require.NoError(t, err)
			assert.Equal(t, int64(http.StatusOK), resp.Status)
			assert.True(t, strings.HasPrefix(resp.URL, p.base+callbackPath+"?"), resp.URL)
			assert.Equal(t, "no-referrer", resp.Headers["Referrer-Policy"])
			body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			require.NoError(t, err)
			assert.Contains(t, body, "You may now close this tab")

			mu.Lock()
			require.Len(t, conns, i+1, "errors: %v", errs)
			assert.Equal(t, "EU1", conns[i].Site.Name())
			mu.Unlock()
			assert.Empty(t, cookies(ctx, t, p.base+callbackPath), "the callback cleared its cookie")

			// Reloading the callback is a replay: a 400 page.
			resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(resp.URL))
			require.NoError(t, err)
			assert.Equal(t, int64(http.StatusBadRequest), resp.Status)
			mu.Lock()
			require.NotEmpty(t, errs)
			assert.ErrorIs(t, errs[len(errs)-1], ddoauth.ErrStateMismatch)
			mu.Unlock()
		})
	}
}

// cookies returns the cookies the browser would send to u, but the
// partner's session cookie.
func cookies(ctx context.Context, t *testing.T, u string) []*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	require.NoError(t, err)
	var out []*network.Cookie
	for _, ck := range res.Cookies {
		if ck.Name != sessionCookie {
			out = append(out, ck)
		}
	}
	return out
}

const (
	signInPath    = "/signin"
	sessionCookie = "session"
)

// signIn is the partner's sign-in, reduced to a session cookie.
func signIn(w http.ResponseWriter, _ *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: rand.Text(), Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("signed in\n")) //nolint:errcheck
}
