package ddoauth_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
)

func TestChallengeRFC7636AppendixB(t *testing.T) {
	t.Parallel()
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	require.NoError(t, ddoauth.ValidateVerifier(verifier))
	assert.Equal(t, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ddoauth.Challenge(verifier))
}

func TestNewVerifier(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		v := ddoauth.NewVerifier()
		assert.Len(t, v, 43)
		require.NoError(t, ddoauth.ValidateVerifier(v))
		assert.False(t, seen[v], "verifiers repeat")
		seen[v] = true
		assert.Len(t, ddoauth.Challenge(v), 43, "S256 challenge is 32 octets base64url without padding")
		assert.NotEqual(t, v, ddoauth.Challenge(v))
	}
}

func TestValidateVerifier(t *testing.T) {
	t.Parallel()
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	ok43 := strings.Repeat("a", 40) + "-._~"[:3]
	withChar := func(c string) string { return ok43[:20] + c + ok43[21:] }

	tests := []struct {
		name  string
		v     string
		valid bool
	}{
		{"43 chars", ok43, true},
		{"128 chars", strings.Repeat("Z", 128), true},
		{"every unreserved character", unreserved, true},
		{"RFC 7636 Appendix B", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", true},
		{"empty", "", false},
		{"42 chars", strings.Repeat("a", 42), false},
		{"129 chars", strings.Repeat("a", 129), false},
		{"space", withChar(" "), false},
		{"plus", withChar("+"), false},
		{"slash", withChar("/"), false},
		{"equals", withChar("="), false},
		{"percent", withChar("%"), false},
		{"non-ASCII", withChar("é"), false},
		{"NUL", withChar("\x00"), false},
		{"newline", withChar("\n"), false},
		{"base64 std padding", strings.Repeat("a", 42) + "=", false},
		{"42 chars plus 2-byte rune", strings.Repeat("a", 41) + "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ddoauth.ValidateVerifier(tt.v)
			if tt.valid {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
			var e *ddoauth.Error
			require.True(t, errors.As(err, &e))
			if tt.v != "" {
				for _, out := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), e.Description, e.Hint} {
					assert.NotContains(t, out, tt.v, "the verifier is a secret")
				}
			}
			assertQuotedOnly(t, err.Error())
		})
	}
}

func TestStartCarriesChallengeNotVerifier(t *testing.T) {
	t.Parallel()
	c := newSiteClient(t, ddoauth.Config{})
	tests := []struct {
		name     string
		site     ddoauth.Site
		wantHost string
	}{
		{"no site: US1 lets the user pick", ddoauth.Site{}, "app.datadoghq.com"},
		{"US1", resolveOK(t, "datadoghq.com"), "app.datadoghq.com"},
		{"EU1", resolveOK(t, "datadoghq.eu"), "app.datadoghq.eu"},
		{"US5 org", resolveOK(t, "https://acme.us5.datadoghq.com/"), "acme.us5.datadoghq.com"},
		{"US2-FED", resolveOK(t, "us2.ddog-gov.com"), "us2.ddog-gov.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			authURL, p, err := c.Start(tt.site)
			require.NoError(t, err)
			require.NotNil(t, p)
			require.NoError(t, ddoauth.ValidateVerifier(p.Verifier))
			assert.Equal(t, tt.site, p.Site)

			u, err := url.Parse(authURL)
			require.NoError(t, err)
			assert.Equal(t, "https", u.Scheme)
			assert.Equal(t, tt.wantHost, u.Host)
			assert.Equal(t, "/oauth2/v1/authorize", u.Path)
			q := u.Query()
			assert.Equal(t, []string{ddoauth.Challenge(p.Verifier)}, q["code_challenge"])
			assert.Equal(t, []string{"S256"}, q["code_challenge_method"])
			assert.Equal(t, []string{"code"}, q["response_type"])
			assert.Equal(t, []string{p.State}, q["state"])
			assert.Equal(t, []string{"test-client-id"}, q["client_id"])
			assert.Equal(t, []string{"https://partner.example/oauth/callback"}, q["redirect_uri"])
			assert.NotContains(t, q, "code_verifier")
			assert.NotContains(t, authURL, p.Verifier)
			assert.NotContains(t, fmt.Sprintf("%v %+v %#v", p, p, *p), p.Verifier)
		})
	}

	_, p1, err := c.Start(ddoauth.Site{})
	require.NoError(t, err)
	_, p2, err := c.Start(ddoauth.Site{})
	require.NoError(t, err)
	assert.NotEqual(t, p1.Verifier, p2.Verifier)
	assert.NotEqual(t, p1.State, p2.State)
}
