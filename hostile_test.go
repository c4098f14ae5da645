package ddoauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
)

// hostileSites are site/domain values an attacker could put in an
// onboarding link or callback (datadog-oauth.md §9). Each must be rejected
// with ErrUnknownSite; none may cause a request.
var hostileSites = []string{
	// look-alikes
	"datadoghq.com.evil.com",
	"app.datadoghq.com.evil.com",
	"https://api.datadoghq.com.evil.com/",
	"evildatadoghq.com",
	"evil-datadoghq.com",
	"datadoghq.co",
	"datadoghq.comm",
	"datadoghq.com-evil.com",
	"datad0ghq.com",
	"datadog.com",
	"datadoghq.eu.evil.com",
	"ddog-gov.com.evil.com",
	"us2.ddog-gov.com.evil.com",
	"datadoghq-com.evil.com",
	"datadoghq",
	"com",
	"evil.com",
	// userinfo
	"https://user@app.datadoghq.com",
	"https://user:pass@app.datadoghq.com/",
	"evil.com@datadoghq.com",
	"datadoghq.com@evil.com",
	"https://app.datadoghq.com@evil.com",
	// ports
	"datadoghq.com:443",
	"https://app.datadoghq.com:443",
	"https://app.datadoghq.com:8443/",
	"datadoghq.com:",
	// paths, queries, fragments
	"https://app.datadoghq.com/oauth2",
	"datadoghq.com/oauth2/v1/token",
	"https://app.datadoghq.com//",
	"https://app.datadoghq.com?x=1",
	"datadoghq.com?x=1",
	"https://app.datadoghq.com#x",
	"https://evil.com/#.datadoghq.com",
	"https://evil.com/?.datadoghq.com",
	"https://evil.com/datadoghq.com",
	// IP literals and local names
	"127.0.0.1",
	"https://127.0.0.1/",
	"169.254.169.254",
	"10.0.0.1",
	"0x7f000001",
	"2130706433",
	"[::1]",
	"https://[::1]/",
	"::1",
	"[2001:db8::1]",
	"localhost",
	"https://localhost/",
	"localhost.localdomain",
	// schemes
	"http://app.datadoghq.com",
	"HTTP://DATADOGHQ.COM",
	"ftp://datadoghq.com",
	"wss://datadoghq.com",
	"file://datadoghq.com",
	"javascript:alert(1)//datadoghq.com",
	"//datadoghq.com",
	"https:datadoghq.com",
	"https:/datadoghq.com",
	"https//datadoghq.com",
	"https://https://datadoghq.com",
	"evil.com://datadoghq.com",
	"https://",
	// percent-encoding
	"datadoghq%2ecom",
	"https://app.datadoghq.com%2eevil.com",
	"datadoghq.com%00",
	"%64atadoghq.com",
	// non-ASCII and punycode
	"dаtadoghq.com", // Cyrillic а
	"datadoghq.cоm", // Cyrillic о
	"ｄatadoghq.com", // fullwidth d
	"datadoghq．com", // fullwidth full stop
	"datadoghq。com", // ideographic full stop
	"acme。datadoghq.com",
	"xn--datadoghq-xyz.com",
	"xn--80ak6aa92e.datadoghq.com",
	"XN--80AK6AA92E.DATADOGHQ.COM",
	"\u200bdatadoghq.com", // zero-width space
	"datadoghq.com\u202e", // right-to-left override
	"\ufeffdatadoghq.com", // byte order mark
	// control characters and spaces
	"datadoghq.com\x00",
	"datadoghq.com\x00.evil.com",
	"datadoghq.com\n",
	"datadoghq.com\r\nHost: evil.com",
	"\tdatadoghq.com",
	"datadoghq.com\x7f",
	" datadoghq.com",
	"datadoghq.com ",
	"data doghq.com",
	"https://app.datadoghq.com /",
	// dots
	"datadoghq.com.",
	"https://app.datadoghq.com./",
	"datadoghq..com",
	"acme..datadoghq.com",
	".datadoghq.com",
	".",
	"..",
	// empty and over-long
	"",
	"/",
	strings.Repeat("a", 300),
	strings.Repeat("a", 290) + ".datadoghq.com",
	strings.Repeat("a", 64) + ".datadoghq.com",
	"https://" + strings.Repeat("a", 64) + ".datadoghq.com/",
	// hosts in the domain that are not a site or a single org label
	"a.b.datadoghq.com",
	"api.acme.datadoghq.com",
	"acme.app.datadoghq.com",
	"datadoghq.com.datadoghq.com",
	"datadoghq.eu.datadoghq.com",
	"http-intake.logs.datadoghq.com",
	// Datadog's own hosts, not organizations
	"https://status.datadoghq.com",
	"www.datadoghq.com",
	"https://docs.datadoghq.com/",
	"trust.datadoghq.eu",
	"event-management-intake.us5.datadoghq.com",
	"https://browser-intake-datadoghq.ddog-gov.com",
	"otlp.ap1.datadoghq.com",
	"acme-.datadoghq.com",
	"-acme.datadoghq.com",
	"acme_corp.datadoghq.com",
	"*.datadoghq.com",
	"123.datadoghq.com",
	// region-like labels of regions this package does not know
	"us7.datadoghq.com",
	"https://us7.datadoghq.com/",
	"eu2.datadoghq.eu",
	"ap3.datadoghq.com",
	"us1.datadoghq.com",
	"us3.datadoghq.eu",
	"us3.ddog-gov.com",
	"acme.us7.datadoghq.com",
	// separators and backslashes
	"datadoghq.com\\",
	"https:\\\\datadoghq.com",
	"https://evil.com\\@datadoghq.com",
	"datadoghq.com;evil.com",
	"datadoghq.com,evil.com",
	"datadoghq.com|evil.com",
	"\"datadoghq.com\"",
	"<datadoghq.com>",
}

func TestHostileSitesRejected(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, len(hostileSites), 60)
	c := newSiteClient(t, ddoauth.Config{})
	for i, raw := range hostileSites {
		t.Run(fmt.Sprintf("%03d", i), func(t *testing.T) {
			t.Parallel()
			s, err := ddoauth.ResolveSite(raw)
			assert.ErrorIs(t, err, ddoauth.ErrUnknownSite, "%q resolved to %v", raw, s)
			assert.True(t, s.IsZero())
			var e *ddoauth.Error
			if assert.True(t, errors.As(err, &e), "%q", raw) {
				assertQuotedOnly(t, e.Error())
				assertQuotedOnly(t, e.Description)
			}

			_, err = c.ResolveSite(raw)
			assert.ErrorIs(t, err, ddoauth.ErrUnknownSite, "%q", raw)

			for _, key := range []string{"site", "domain"} {
				s, err := ddoauth.SiteFromQuery(url.Values{key: {raw}})
				assert.ErrorIs(t, err, ddoauth.ErrUnknownSite, "%s=%q", key, raw)
				assert.True(t, s.IsZero())
			}
			_, err = ddoauth.SiteFromQuery(url.Values{"site": {"https://app.datadoghq.com"}, "domain": {raw}})
			assert.ErrorIs(t, err, ddoauth.ErrUnknownSite, "domain=%q", raw)

			// Decoding from storage never yields a usable Site either.
			var d ddoauth.Site
			if d.UnmarshalText([]byte(raw)) == nil {
				assert.Empty(t, d.Name(), "%q", raw)
				assert.Empty(t, d.TokenURL(), "%q", raw)
				assert.Empty(t, d.AuthorizeURL(), "%q", raw)
				if !d.IsZero() {
					_, _, err := c.Start(d)
					assert.ErrorIs(t, err, ddoauth.ErrUnknownSite, "%q", raw)
				}
			}
		})
	}
}

// callbackTransport records every request. With fail set, any request
// fails the test; otherwise it answers with a token response.
type callbackTransport struct {
	t    *testing.T
	fail bool

	mu   sync.Mutex
	reqs []string
}

func (rt *callbackTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, r.Method+" "+r.URL.String())
	rt.mu.Unlock()
	if r.Body != nil {
		_ = r.Body.Close()
	}
	if rt.fail {
		rt.t.Errorf("unexpected request: %s %s", r.Method, r.URL.Redacted())
		return nil, errors.New("no request may be made")
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(
			`{"access_token":"at","refresh_token":"rt","token_type":"bearer","expires_in":3600,"scope":"api_keys_write"}`)),
		Request: r,
	}, nil
}

func (rt *callbackTransport) requests() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.reqs...)
}

var hostileNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newCallbackClient(t *testing.T, fail bool) (*ddoauth.Client, *callbackTransport) {
	t.Helper()
	rt := &callbackTransport{t: t, fail: fail}
	c := newSiteClient(t, ddoauth.Config{
		HTTPClient: &http.Client{Transport: rt},
		Now:        func() time.Time { return hostileNow },
	})
	return c, rt
}

// TestHostileCallbackMakesNoRequest is the mix-up defence (RFC 9700 §4.4):
// a crafted site or domain on the callback must never make the backend
// send the client secret, code and verifier anywhere.
func TestHostileCallbackMakesNoRequest(t *testing.T) {
	t.Parallel()
	pendings := []struct {
		name string
		site ddoauth.Site
	}{
		// No site at Start is the dangerous case: the callback's site is
		// then the one the code is redeemed at.
		{"pending without site", ddoauth.Site{}},
		{"pending US1", resolveOK(t, "datadoghq.com")},
		{"pending EU1 org", resolveOK(t, "https://acme.datadoghq.eu/")},
	}
	for _, pend := range pendings {
		t.Run(pend.name, func(t *testing.T) {
			t.Parallel()
			c, rt := newCallbackClient(t, true)
			for i, raw := range hostileSites {
				for _, q := range []url.Values{
					{"domain": {raw}},
					{"site": {raw}},
					{"site": {"https://app.datadoghq.com"}, "domain": {raw}},
					{"site": {raw}, "domain": {"datadoghq.com"}},
					{"iss": {raw}},
				} {
					_, p, err := c.Start(pend.site)
					require.NoError(t, err)
					q.Set("state", p.State)
					q.Set("code", "the-authorization-code")

					conn, err := c.Complete(context.Background(), p, q)
					require.Error(t, err, "hostile %03d %q in %v", i, raw, q)
					assert.Nil(t, conn)
					assert.True(t, errors.Is(err, ddoauth.ErrUnknownSite) || errors.Is(err, ddoauth.ErrSiteMismatch),
						"hostile %03d %q: %v", i, raw, err)
					var e *ddoauth.Error
					if assert.True(t, errors.As(err, &e)) {
						assertQuotedOnly(t, e.Error())
					}
					assert.NotContains(t, err.Error(), "the-authorization-code")
					assert.NotContains(t, err.Error(), p.Verifier)
					assert.NotContains(t, err.Error(), "test-client-secret-value")
				}
			}
			assert.Empty(t, rt.requests())
		})
	}
}

// TestCallbackOtherRegionMakesNoRequest: a well-formed site of another
// region than the pending one is a mix-up too.
func TestCallbackOtherRegionMakesNoRequest(t *testing.T) {
	t.Parallel()
	c, rt := newCallbackClient(t, true)
	for _, tt := range []struct{ pending, callback string }{
		{"datadoghq.com", "datadoghq.eu"},
		{"acme.datadoghq.com", "https://acme.datadoghq.eu/"},
		{"ddog-gov.com", "us2.ddog-gov.com"},
		{"us5.datadoghq.com", "datadoghq.com"},
	} {
		for _, key := range []string{"site", "domain", "iss"} {
			_, p, err := c.Start(resolveOK(t, tt.pending))
			require.NoError(t, err)
			_, err = c.Complete(context.Background(), p, url.Values{"state": {p.State}, "code": {"c0de"}, key: {tt.callback}})
			assert.ErrorIs(t, err, ddoauth.ErrSiteMismatch, "%s: %s=%s", tt.pending, key, tt.callback)
		}
	}
	assert.Empty(t, rt.requests())
}

// TestCallbackRecordingTransportWorks shows that the transport the
// no-request tests watch is the one Complete uses: a good callback makes
// exactly one POST, to the token URL of the table.
func TestCallbackRecordingTransportWorks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pending string // "" for no site
		q       url.Values
		want    string
	}{
		{"no site, no callback site: US1", "", url.Values{}, "POST https://api.datadoghq.com/oauth2/v1/token"},
		{"no site, callback EU1", "", url.Values{"domain": {"datadoghq.eu"}}, "POST https://api.datadoghq.eu/oauth2/v1/token"},
		{"no site, callback org", "", url.Values{"site": {"https://acme.us5.datadoghq.com/"}}, "POST https://api.us5.datadoghq.com/oauth2/v1/token"},
		{"US1-FED confirmed", "ddog-gov.com", url.Values{"domain": {"ddog-gov.com"}}, "POST https://api.ddog-gov.com/oauth2/v1/token"},
		{"org pending, region callback", "acme.datadoghq.eu", url.Values{"domain": {"datadoghq.eu"}}, "POST https://api.datadoghq.eu/oauth2/v1/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, rt := newCallbackClient(t, false)
			var site ddoauth.Site
			if tt.pending != "" {
				site = resolveOK(t, tt.pending)
			}
			_, p, err := c.Start(site)
			require.NoError(t, err)
			q := url.Values{}
			for k, v := range tt.q {
				q[k] = v
			}
			q.Set("state", p.State)
			q.Set("code", "the-authorization-code")
			conn, err := c.Complete(context.Background(), p, q)
			require.NoError(t, err)
			assert.Equal(t, []string{tt.want}, rt.requests())
			assert.Empty(t, conn.Site.Org(), "a connection stores the region")
		})
	}
}
