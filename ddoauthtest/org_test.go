package ddoauthtest_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestOrgUUIDs(t *testing.T) {
	t.Parallel()
	one, two := ddoauthtest.NewUnstartedServer(), ddoauthtest.NewUnstartedServer()
	seen := map[string]bool{}
	for _, o := range one.Orgs(ddoauth.Site{}) {
		assert.Regexp(t, uuidPattern, o.UUID, o.ID)
		assert.False(t, seen[o.UUID], "one UUID per org")
		seen[o.UUID] = true
		other, ok := two.Org(o.ID)
		require.True(t, ok)
		assert.Equal(t, o.UUID, other.UUID, "the same in every run")
	}
	us5 := site(t, "US5")
	const id = "4F2C3A1E-8A7B-4C6D-9E0F-1A2B3C4D5E6F"
	assert.Equal(t, id, one.AddOrg(ddoauthtest.Org{ID: id, Site: us5}).UUID, "an ID that is a UUID is the UUID")
	given := one.AddOrg(ddoauthtest.Org{ID: "given", UUID: "09105ad2-9ae9-11f0-8c7b-bea17a92d134", Site: us5})
	assert.Equal(t, "09105ad2-9ae9-11f0-8c7b-bea17a92d134", given.UUID)
	assert.Regexp(t, uuidPattern, one.AddOrg(ddoauthtest.Org{Site: us5}).UUID)

	for name, o := range map[string]ddoauthtest.Org{
		"not a UUID":     {ID: "x", UUID: "acme", Site: us5},
		"UUID taken":     {ID: "y", UUID: given.UUID, Site: us5},
		"UUID in case":   {ID: "z", UUID: strings.ToUpper(given.UUID), Site: us5},
		"ID's UUID used": {ID: "w", UUID: strings.ToLower(id), Site: us5},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r)
				assert.True(t, strings.HasPrefix(r.(string), "ddoauthtest: "), r)
			}()
			one.AddOrg(o)
		})
	}
}

func TestCallbackNamesOrg(t *testing.T) {
	t.Parallel()
	us5 := site(t, "US5")
	srv, c := setup(t)
	org := srv.AddOrg(ddoauthtest.Org{Name: "Acme & <Co>\u202e", Site: us5})
	srv.SignIn(org.ID)
	q := authorize(t, srv, us5.BrowserHost(), c)
	assert.Equal(t, []string{org.UUID}, q["dd_oid"])
	assert.Equal(t, []string{org.Name}, q["dd_org_name"], "the name as it is")

	srv.OmitOrg = true
	q = authorize(t, srv, us5.BrowserHost(), c)
	assert.NotEmpty(t, q.Get("code"))
	assert.NotContains(t, q, "dd_oid")
	assert.NotContains(t, q, "dd_org_name")
}

func TestCallbackErrorNamesNoOrg(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	u := authURL(site(t, "EU1").BrowserHost(), c.ID, redirectURI, rfcChallenge, "st")
	r := do(t, browser(srv), mustGet(t, strings.Replace(u, "response_type=code", "response_type=token", 1)))
	require.Equal(t, http.StatusFound, r.status)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "unsupported_response_type", loc.Query().Get("error"))
	assert.NotContains(t, loc.Query(), "dd_oid")
}

// TestAuthorizeOrgID checks that dd_oid on the authorize URL chooses the
// organization, as Datadog skips its organization switcher, and that one
// the site does not have is refused.
func TestAuthorizeOrgID(t *testing.T) {
	t.Parallel()
	us1, us5, eu1 := site(t, "US1"), site(t, "US5"), site(t, "EU1")
	srv, c := setup(t)
	second := srv.AddOrg(ddoauthtest.Org{Name: "Second", Site: us5})
	acme := srv.AddOrg(ddoauthtest.Org{Name: "Acme", Site: us5, Subdomain: "acme"})
	srv.SignIn(srv.DefaultOrg(us5).ID)
	get := func(host string, oid ...string) result {
		u := authURL(host, c.ID, redirectURI, rfcChallenge, "st")
		for _, v := range oid {
			u += "&dd_oid=" + url.QueryEscape(v)
		}
		return do(t, browser(srv), mustGet(t, u))
	}
	for _, tc := range []struct {
		name string
		host string
		oid  []string
		want string // the UUID the callback names; "" for an error page
	}{
		{"another org than the signed-in one", us5.BrowserHost(), []string{second.UUID}, second.UUID},
		{"any case", us5.BrowserHost(), []string{strings.ToUpper(second.UUID)}, second.UUID},
		{"on its subdomain", "acme.us5.datadoghq.com", []string{acme.UUID}, acme.UUID},
		{"without dd_oid", us5.BrowserHost(), nil, srv.DefaultOrg(us5).UUID},
		{"unknown", us5.BrowserHost(), []string{"4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f"}, ""},
		{"not a UUID", us5.BrowserHost(), []string{"acme"}, ""},
		{"another site's org", us5.BrowserHost(), []string{srv.DefaultOrg(eu1).UUID}, ""},
		{"another site's org on US1", us1.BrowserHost(), []string{srv.DefaultOrg(eu1).UUID}, ""},
		{"another subdomain's host", "acme.us5.datadoghq.com", []string{second.UUID}, ""},
		{"repeated", us5.BrowserHost(), []string{second.UUID, second.UUID}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := get(tc.host, tc.oid...)
			if tc.want == "" {
				assert.Equal(t, http.StatusBadRequest, r.status)
				assert.Contains(t, string(r.body), "invalid_request")
				assert.Empty(t, r.header.Get("Location"), "nothing goes back to the client")
				return
			}
			require.Equal(t, http.StatusFound, r.status, string(r.body))
			loc, err := url.Parse(r.header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, loc.Query().Get("dd_oid"))
		})
	}
}
