package ddoauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestHandlersLoginCSRF is the attack of issue 9: the attacker starts an
// authorization in his own session, authorizes his own Datadog
// organization, and gets the victim's browser (signed in to the partner
// in another session) to present his pending cookie and his callback.
// The callback refuses it before any token request, and OnConnect never
// credits the victim with the attacker's organization. The control: the
// same cookie and callback in the attacker's own session complete, so
// the emulator does see a token request when one is made.
func TestHandlersLoginCSRF(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{})
	eu, err := ddoauth.ResolveSite("datadoghq.eu")
	require.NoError(t, err)
	evil := p.dd.AddOrg(ddoauthtest.Org{ID: "attacker-org", Site: eu})

	attacker := p.browser()
	dd, _ := url.Parse("https://app.datadoghq.eu/")
	attacker.Jar.SetCookies(dd, []*http.Cookie{{Name: ddoauthtest.OrgCookie, Value: evil.ID}})
	cb := p.onboard(t, attacker, url.Values{"domain": {"datadoghq.eu"}}) // his own org, authorized
	planted := p.pending(attacker)
	require.Len(t, planted, 1)

	victim := p.browser()
	victim.Jar.SetCookies(cb, planted)
	a := get(t, victim, cb.String())
	assert.Equal(t, http.StatusBadRequest, a.status)
	assert.Contains(t, a.body, "not started by the account signed in here")
	err = p.lastErr()
	require.ErrorIs(t, err, ddoauth.ErrSessionMismatch)
	assert.ErrorIs(t, err, ddoauth.ErrStateMismatch)
	assert.Equal(t, 0, p.dd.Count(ddoauthtest.EndpointToken), "no token request")
	assert.Empty(t, p.connections(), "OnConnect not called")
	assert.Empty(t, p.pending(victim), "the planted cookie is cleared")

	// Control: in the session that started it, the same callback completes.
	a = get(t, attacker, cb.String())
	require.Equal(t, http.StatusOK, a.status, a.body)
	assert.Equal(t, 1, p.dd.Count(ddoauthtest.EndpointToken))
	conns := p.connections()
	require.Len(t, conns, 1)
	_, err = p.client.EnsureAPIKey(t.Context(), conns[0], &ddoauth.MemoryStore{}, "attacker")
	require.NoError(t, err)
	_, ok := p.dd.APIKey(evil.ID)
	assert.True(t, ok, "the attacker's organization was the one authorized")
	p.assertClean(t)
}

// TestHandlersInsecureNoSession: without a session to bind to, the flow
// completes in a browser that never signed in.
func TestHandlersInsecureNoSession(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{noSession: true})
	b := p.anonymous()
	a := get(t, b, p.onboard(t, b, url.Values{"domain": {"datadoghq.eu"}}).String())
	require.Equal(t, http.StatusOK, a.status, a.body)
	assert.Len(t, p.connections(), 1)
}

// TestHandlersSessionFails: a Session that fails at the callback refuses
// it; one that fails at onboarding starts nothing. The partner's error
// stays in the chain.
func TestHandlersSessionFails(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{})
	b := p.browser()
	cb := p.onboard(t, b, url.Values{"domain": {"datadoghq.eu"}})
	p.signIn(b, "") // Session returns "" and no error
	a := get(t, b, cb.String())
	assert.Equal(t, http.StatusBadRequest, a.status)
	assert.ErrorIs(t, p.lastErr(), ddoauth.ErrSessionMismatch)

	a = get(t, p.anonymous(), p.srv.URL+onboardingPath+"?domain=datadoghq.eu")
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Contains(t, a.body, "Sign in first")
	assert.ErrorIs(t, p.lastErr(), ddoauth.ErrNoSession)
	assert.ErrorIs(t, p.lastErr(), http.ErrNoCookie, "Session's own error")
	assert.Equal(t, 0, p.dd.Count(ddoauthtest.EndpointToken))
}

// TestHandlersPendingCap plants authorizations by sending one browser to
// the onboarding URL 50 times, with the longest organization subdomain:
// the browser keeps four pending cookies, the newest four, and the
// callback's Cookie header stays under 4 KiB (it was 20 KiB, and 20
// cookies passed an 8 KiB header limit). The four newest complete; the
// evicted ones are refused before any token request.
func TestHandlersPendingCap(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{tls: true})
	site := "https://" + strings.Repeat("a", 63) + ".datadoghq.eu"
	org, err := ddoauth.ResolveSite(site)
	require.NoError(t, err)
	p.dd.AddOrg(ddoauthtest.Org{Site: org})
	b := p.browser()
	var callbacks []string
	for range 50 {
		callbacks = append(callbacks, p.onboard(t, b, url.Values{"site": {site}}).String())
		p.clock.Advance(time.Second)
	}
	assert.Len(t, p.pending(b), 4)

	for i, cb := range callbacks {
		a := get(t, b, cb)
		if i < len(callbacks)-4 {
			assert.Equal(t, http.StatusBadRequest, a.status, "evicted: %d", i)
			assert.ErrorIs(t, p.lastErr(), ddoauth.ErrStateMismatch)
			continue
		}
		assert.Equal(t, http.StatusOK, a.status, a.body)
	}
	assert.Len(t, p.connections(), 4)
	assert.Equal(t, 4, p.dd.Count(ddoauthtest.EndpointToken))
	assert.Empty(t, p.pending(b))
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Len(t, p.cookies, 50)
	longest := 0
	for _, n := range p.cookies {
		longest = max(longest, n)
	}
	t.Logf("longest Cookie header at the callback: %d bytes", longest)
	assert.Less(t, longest, 4096)
}

// TestHandlersPendingLifetime: the callback takes an authorization no
// older than its cookie, ten minutes or PendingTTL if shorter, whatever
// PendingTTL says: a copy of the cookie does not outlive the cookie.
func TestHandlersPendingLifetime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ttl, age time.Duration
		ok       bool
	}{
		{0, 10 * time.Minute, true},
		{0, 10*time.Minute + time.Second, false},
		{time.Hour, 10 * time.Minute, true},
		{time.Hour, 10*time.Minute + time.Second, false},
		{time.Hour, 59 * time.Minute, false},
		{3 * time.Minute, 3 * time.Minute, true},
		{3 * time.Minute, 3*time.Minute + time.Second, false},
	} {
		t.Run(tc.ttl.String()+"/"+tc.age.String(), func(t *testing.T) {
			t.Parallel()
			p := newPartner(t, partnerOpts{pendingTTL: tc.ttl})
			b := p.browser()
			cb := p.onboard(t, b, url.Values{"domain": {"datadoghq.eu"}})
			copied := p.pending(b)
			other := p.browser()
			p.signIn(other, p.sessions[0]) // the same session, in a copy of the browser
			other.Jar.SetCookies(cb, copied)
			p.clock.Advance(tc.age)
			a := get(t, other, cb.String())
			if tc.ok {
				assert.Equal(t, http.StatusOK, a.status, a.body)
				return
			}
			assert.Equal(t, http.StatusBadRequest, a.status)
			assert.ErrorIs(t, p.lastErr(), ddoauth.ErrStateExpired)
			assert.Equal(t, 0, p.dd.Count(ddoauthtest.EndpointToken))
		})
	}
}
