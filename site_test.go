package ddoauth_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
)

// siteWant is one row of Datadog's site table (datadog-oauth.md §1-2),
// with every URL written out rather than derived, so that a mistake in
// site.go cannot hide behind the same mistake here.
type siteWant struct {
	name, domain, browser, api string

	authorize, orgAuthorize                            string
	token, revoke, apiKey, apiURL                      string
	logs, event, trace, otlp, profiling, browserIntake string
}

var wantSites = []siteWant{
	{
		name: "US1", domain: "datadoghq.com", browser: "app.datadoghq.com", api: "api.datadoghq.com",
		authorize:     "https://app.datadoghq.com/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.datadoghq.com/oauth2/v1/authorize",
		token:         "https://api.datadoghq.com/oauth2/v1/token",
		revoke:        "https://api.datadoghq.com/oauth2/v1/revoke",
		apiKey:        "https://api.datadoghq.com/api/v2/api_keys/marketplace",
		apiURL:        "https://api.datadoghq.com",
		logs:          "https://http-intake.logs.datadoghq.com",
		event:         "https://event-management-intake.datadoghq.com",
		trace:         "https://trace.agent.datadoghq.com",
		otlp:          "https://otlp.datadoghq.com",
		profiling:     "https://intake.profile.datadoghq.com",
		browserIntake: "https://browser-intake-datadoghq.com",
	},
	{
		name: "US3", domain: "us3.datadoghq.com", browser: "us3.datadoghq.com", api: "api.us3.datadoghq.com",
		authorize:     "https://us3.datadoghq.com/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.us3.datadoghq.com/oauth2/v1/authorize",
		token:         "https://api.us3.datadoghq.com/oauth2/v1/token",
		revoke:        "https://api.us3.datadoghq.com/oauth2/v1/revoke",
		apiKey:        "https://api.us3.datadoghq.com/api/v2/api_keys/marketplace",
		apiURL:        "https://api.us3.datadoghq.com",
		logs:          "https://http-intake.logs.us3.datadoghq.com",
		event:         "https://event-management-intake.us3.datadoghq.com",
		trace:         "https://trace.agent.us3.datadoghq.com",
		otlp:          "https://otlp.us3.datadoghq.com",
		profiling:     "https://intake.profile.us3.datadoghq.com",
		browserIntake: "https://browser-intake-us3-datadoghq.com",
	},
	{
		name: "US5", domain: "us5.datadoghq.com", browser: "us5.datadoghq.com", api: "api.us5.datadoghq.com",
		authorize:     "https://us5.datadoghq.com/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.us5.datadoghq.com/oauth2/v1/authorize",
		token:         "https://api.us5.datadoghq.com/oauth2/v1/token",
		revoke:        "https://api.us5.datadoghq.com/oauth2/v1/revoke",
		apiKey:        "https://api.us5.datadoghq.com/api/v2/api_keys/marketplace",
		apiURL:        "https://api.us5.datadoghq.com",
		logs:          "https://http-intake.logs.us5.datadoghq.com",
		event:         "https://event-management-intake.us5.datadoghq.com",
		trace:         "https://trace.agent.us5.datadoghq.com",
		otlp:          "https://otlp.us5.datadoghq.com",
		profiling:     "https://intake.profile.us5.datadoghq.com",
		browserIntake: "https://browser-intake-us5-datadoghq.com",
	},
	{
		name: "EU1", domain: "datadoghq.eu", browser: "app.datadoghq.eu", api: "api.datadoghq.eu",
		authorize:     "https://app.datadoghq.eu/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.datadoghq.eu/oauth2/v1/authorize",
		token:         "https://api.datadoghq.eu/oauth2/v1/token",
		revoke:        "https://api.datadoghq.eu/oauth2/v1/revoke",
		apiKey:        "https://api.datadoghq.eu/api/v2/api_keys/marketplace",
		apiURL:        "https://api.datadoghq.eu",
		logs:          "https://http-intake.logs.datadoghq.eu",
		event:         "https://event-management-intake.datadoghq.eu",
		trace:         "https://trace.agent.datadoghq.eu",
		otlp:          "https://otlp.datadoghq.eu",
		profiling:     "https://intake.profile.datadoghq.eu",
		browserIntake: "https://browser-intake-datadoghq.eu",
	},
	{
		name: "AP1", domain: "ap1.datadoghq.com", browser: "ap1.datadoghq.com", api: "api.ap1.datadoghq.com",
		authorize:     "https://ap1.datadoghq.com/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.ap1.datadoghq.com/oauth2/v1/authorize",
		token:         "https://api.ap1.datadoghq.com/oauth2/v1/token",
		revoke:        "https://api.ap1.datadoghq.com/oauth2/v1/revoke",
		apiKey:        "https://api.ap1.datadoghq.com/api/v2/api_keys/marketplace",
		apiURL:        "https://api.ap1.datadoghq.com",
		logs:          "https://http-intake.logs.ap1.datadoghq.com",
		event:         "https://event-management-intake.ap1.datadoghq.com",
		trace:         "https://trace.agent.ap1.datadoghq.com",
		otlp:          "https://otlp.ap1.datadoghq.com",
		profiling:     "https://intake.profile.ap1.datadoghq.com",
		browserIntake: "https://browser-intake-ap1-datadoghq.com",
	},
	{
		name: "AP2", domain: "ap2.datadoghq.com", browser: "ap2.datadoghq.com", api: "api.ap2.datadoghq.com",
		authorize:     "https://ap2.datadoghq.com/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.ap2.datadoghq.com/oauth2/v1/authorize",
		token:         "https://api.ap2.datadoghq.com/oauth2/v1/token",
		revoke:        "https://api.ap2.datadoghq.com/oauth2/v1/revoke",
		apiKey:        "https://api.ap2.datadoghq.com/api/v2/api_keys/marketplace",
		apiURL:        "https://api.ap2.datadoghq.com",
		logs:          "https://http-intake.logs.ap2.datadoghq.com",
		event:         "https://event-management-intake.ap2.datadoghq.com",
		trace:         "https://trace.agent.ap2.datadoghq.com",
		otlp:          "https://otlp.ap2.datadoghq.com",
		profiling:     "https://intake.profile.ap2.datadoghq.com",
		browserIntake: "https://browser-intake-ap2-datadoghq.com",
	},
	{
		name: "UK1", domain: "uk1.datadoghq.com", browser: "uk1.datadoghq.com", api: "api.uk1.datadoghq.com",
		authorize:     "https://uk1.datadoghq.com/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.uk1.datadoghq.com/oauth2/v1/authorize",
		token:         "https://api.uk1.datadoghq.com/oauth2/v1/token",
		revoke:        "https://api.uk1.datadoghq.com/oauth2/v1/revoke",
		apiKey:        "https://api.uk1.datadoghq.com/api/v2/api_keys/marketplace",
		apiURL:        "https://api.uk1.datadoghq.com",
		logs:          "https://http-intake.logs.uk1.datadoghq.com",
		event:         "https://event-management-intake.uk1.datadoghq.com",
		trace:         "https://trace.agent.uk1.datadoghq.com",
		otlp:          "https://otlp.uk1.datadoghq.com",
		profiling:     "https://intake.profile.uk1.datadoghq.com",
		browserIntake: "https://browser-intake-uk1-datadoghq.com",
	},
	{
		name: "US1-FED", domain: "ddog-gov.com", browser: "app.ddog-gov.com", api: "api.ddog-gov.com",
		authorize:     "https://app.ddog-gov.com/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.ddog-gov.com/oauth2/v1/authorize",
		token:         "https://api.ddog-gov.com/oauth2/v1/token",
		revoke:        "https://api.ddog-gov.com/oauth2/v1/revoke",
		apiKey:        "https://api.ddog-gov.com/api/v2/api_keys/marketplace",
		apiURL:        "https://api.ddog-gov.com",
		logs:          "https://http-intake.logs.ddog-gov.com",
		event:         "https://event-management-intake.ddog-gov.com",
		trace:         "https://trace.agent.ddog-gov.com",
		otlp:          "https://otlp.ddog-gov.com",
		profiling:     "https://intake.profile.ddog-gov.com",
		browserIntake: "https://browser-intake-ddog-gov.com",
	},
	{
		name: "US2-FED", domain: "us2.ddog-gov.com", browser: "us2.ddog-gov.com", api: "api.us2.ddog-gov.com",
		authorize:     "https://us2.ddog-gov.com/oauth2/v1/authorize",
		orgAuthorize:  "https://acme.us2.ddog-gov.com/oauth2/v1/authorize",
		token:         "https://api.us2.ddog-gov.com/oauth2/v1/token",
		revoke:        "https://api.us2.ddog-gov.com/oauth2/v1/revoke",
		apiKey:        "https://api.us2.ddog-gov.com/api/v2/api_keys/marketplace",
		apiURL:        "https://api.us2.ddog-gov.com",
		logs:          "https://http-intake.logs.us2.ddog-gov.com",
		event:         "https://event-management-intake.us2.ddog-gov.com",
		trace:         "https://trace.agent.us2.ddog-gov.com",
		otlp:          "https://otlp.us2.ddog-gov.com",
		profiling:     "https://intake.profile.us2.ddog-gov.com",
		browserIntake: "https://browser-intake-us2-ddog-gov.com",
	},
}

func wantSiteByDomain(domain string) (siteWant, bool) {
	for _, w := range wantSites {
		if w.domain == domain {
			return w, true
		}
	}
	return siteWant{}, false
}

// mixedCase alternates the case of letters: "DaTaDoGhQ.CoM".
func mixedCase(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			if up {
				b[i] = c - 'a' + 'A'
			}
			up = !up
		}
	}
	return string(b)
}

type siteForm struct {
	raw string
	org string // "" or "acme"
}

// acceptedForms lists every form in which Datadog has sent w's site or
// domain value (datadog-oauth.md §3).
func acceptedForms(w siteWant) []siteForm {
	hosts := []string{w.domain, w.browser, w.api}
	var forms []siteForm
	for _, h := range hosts {
		forms = append(forms,
			siteForm{raw: h},
			siteForm{raw: h + "/"},
			siteForm{raw: "https://" + h},
			siteForm{raw: "https://" + h + "/"},
			siteForm{raw: strings.ToUpper(h)},
			siteForm{raw: mixedCase(h)},
			siteForm{raw: "HTTPS://" + h},
			siteForm{raw: "Https://" + strings.ToUpper(h) + "/"},
		)
	}
	org := "acme." + w.domain
	forms = append(forms,
		siteForm{raw: org, org: "acme"},
		siteForm{raw: org + "/", org: "acme"},
		siteForm{raw: "https://" + org, org: "acme"},
		siteForm{raw: "https://" + org + "/", org: "acme"},
		siteForm{raw: "HTTPS://" + strings.ToUpper(org) + "/", org: "acme"},
		siteForm{raw: mixedCase(org), org: "acme"},
	)
	// Duplicates (browser host == domain for most sites) are harmless but
	// make subtest names collide; drop them.
	slices.SortFunc(forms, func(a, b siteForm) int { return strings.Compare(a.raw, b.raw) })
	return slices.CompactFunc(forms, func(a, b siteForm) bool { return a.raw == b.raw })
}

// assertSiteURLs checks every accessor of s against w.
func assertSiteURLs(t *testing.T, w siteWant, org string, s ddoauth.Site) {
	t.Helper()
	assert.False(t, s.IsZero())
	assert.Equal(t, w.name, s.Name())
	assert.Equal(t, w.domain, s.Domain())
	assert.Equal(t, org, s.Org())
	if org == "" {
		assert.Equal(t, w.authorize, s.AuthorizeURL())
		assert.Equal(t, w.browser, s.BrowserHost())
		assert.Equal(t, w.domain, s.String())
	} else {
		assert.Equal(t, w.orgAuthorize, s.AuthorizeURL())
		assert.Equal(t, org+"."+w.domain, s.BrowserHost())
		assert.Equal(t, org+"."+w.domain, s.String())
	}
	// API and intake URLs never carry the organization subdomain.
	assert.Equal(t, w.token, s.TokenURL())
	assert.Equal(t, w.revoke, s.RevokeURL())
	assert.Equal(t, w.apiKey, s.APIKeyURL())
	assert.Equal(t, w.apiURL, s.APIURL())
	assert.Equal(t, w.logs, s.LogsIntakeURL())
	assert.Equal(t, w.event, s.EventIntakeURL())
	assert.Equal(t, w.trace, s.TraceIntakeURL())
	assert.Equal(t, w.otlp, s.OTLPIntakeURL())
	assert.Equal(t, w.profiling, s.ProfilingIntakeURL())
	assert.Equal(t, w.browserIntake, s.BrowserIntakeURL())
}

func TestResolveSiteEveryForm(t *testing.T) {
	t.Parallel()
	for _, w := range wantSites {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			for _, f := range acceptedForms(w) {
				t.Run(f.raw, func(t *testing.T) {
					t.Parallel()
					s, err := ddoauth.ResolveSite(f.raw)
					require.NoError(t, err)
					assertSiteURLs(t, w, f.org, s)
				})
			}
		})
	}
}

func TestResolveSiteDocumentedExamples(t *testing.T) {
	t.Parallel()

	eu, err := ddoauth.ResolveSite("datadoghq.eu")
	require.NoError(t, err)
	assert.Equal(t, "https://api.datadoghq.eu/oauth2/v1/token", eu.TokenURL())

	acme, err := ddoauth.ResolveSite("https://acme.datadoghq.com")
	require.NoError(t, err)
	assert.Equal(t, "https://acme.datadoghq.com/oauth2/v1/authorize", acme.AuthorizeURL())
	assert.Equal(t, "https://api.datadoghq.com/oauth2/v1/token", acme.TokenURL())
	for _, u := range []string{acme.TokenURL(), acme.RevokeURL(), acme.APIKeyURL(), acme.APIURL(),
		acme.LogsIntakeURL(), acme.EventIntakeURL(), acme.TraceIntakeURL(), acme.OTLPIntakeURL(),
		acme.ProfilingIntakeURL(), acme.BrowserIntakeURL()} {
		assert.NotContains(t, u, "acme", "API and intake hosts never carry the org subdomain")
	}

	us5, err := ddoauth.ResolveSite("https://acme.us5.datadoghq.com/")
	require.NoError(t, err)
	assert.Equal(t, "US5", us5.Name())
	assert.Equal(t, "https://acme.us5.datadoghq.com/oauth2/v1/authorize", us5.AuthorizeURL())
	assert.Equal(t, "https://api.us5.datadoghq.com/oauth2/v1/token", us5.TokenURL())

	us3, err := ddoauth.ResolveSite("us3.datadoghq.com")
	require.NoError(t, err)
	assert.Equal(t, "https://browser-intake-us3-datadoghq.com", us3.BrowserIntakeURL())
	assert.Equal(t, "https://browser-intake-datadoghq.eu", eu.BrowserIntakeURL())
}

func TestResolveSiteOrgLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw      string
		wantName string // "" when rejected
		wantOrg  string
		wantAuth string
	}{
		{"a.datadoghq.com", "US1", "a", "https://a.datadoghq.com/oauth2/v1/authorize"},
		{"acme.datadoghq.com", "US1", "acme", "https://acme.datadoghq.com/oauth2/v1/authorize"},
		{"www.datadoghq.com", "", "", ""},
		{"acme-corp.datadoghq.eu", "EU1", "acme-corp", "https://acme-corp.datadoghq.eu/oauth2/v1/authorize"},
		{"usa.datadoghq.com", "US1", "usa", "https://usa.datadoghq.com/oauth2/v1/authorize"},
		{"u1.datadoghq.com", "US1", "u1", "https://u1.datadoghq.com/oauth2/v1/authorize"},
		{"us1a.datadoghq.com", "US1", "us1a", "https://us1a.datadoghq.com/oauth2/v1/authorize"},
		{"usa1.ddog-gov.com", "US1-FED", "usa1", "https://usa1.ddog-gov.com/oauth2/v1/authorize"},
		{"1acme.us3.datadoghq.com", "US3", "1acme", "https://1acme.us3.datadoghq.com/oauth2/v1/authorize"},
		{strings.Repeat("a", 63) + ".datadoghq.com", "US1", strings.Repeat("a", 63), "https://" + strings.Repeat("a", 63) + ".datadoghq.com/oauth2/v1/authorize"},
		// "app." in front of a site served on its own domain names that site.
		{"app.us5.datadoghq.com", "US5", "", "https://us5.datadoghq.com/oauth2/v1/authorize"},
		{"https://app.us2.ddog-gov.com/", "US2-FED", "", "https://us2.ddog-gov.com/oauth2/v1/authorize"},
		// Labels shaped like a region are never read as an organization.
		{"us10.datadoghq.com", "", "", ""},
		{"eu2.datadoghq.com", "", "", ""},
		{"zz9.datadoghq.eu", "", "", ""},
		{"US7.DATADOGHQ.COM", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			s, err := ddoauth.ResolveSite(tt.raw)
			if tt.wantName == "" {
				assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantName, s.Name())
			assert.Equal(t, tt.wantOrg, s.Org())
			assert.Equal(t, tt.wantAuth, s.AuthorizeURL())
			w, ok := wantSiteByDomain(s.Domain())
			require.True(t, ok)
			assert.Equal(t, w.token, s.TokenURL())
		})
	}
}

func TestSitesOrder(t *testing.T) {
	t.Parallel()
	sites := ddoauth.Sites()
	require.Len(t, sites, 9)
	var names []string
	for _, s := range sites {
		names = append(names, s.Name())
	}
	assert.Equal(t, []string{"US1", "US3", "US5", "EU1", "AP1", "AP2", "UK1", "US1-FED", "US2-FED"}, names)
	for i, s := range sites {
		assertSiteURLs(t, wantSites[i], "", s)
		r, err := ddoauth.ResolveSite(wantSites[i].domain)
		require.NoError(t, err)
		assert.Equal(t, s, r, "Sites() and ResolveSite agree and Site is comparable")
	}

	// The slice is the caller's: changing it does not change the table.
	sites[0] = ddoauth.Site{}
	assert.Equal(t, "US1", ddoauth.Sites()[0].Name())
}

func resolveOK(t testing.TB, raw string) ddoauth.Site {
	t.Helper()
	s, err := ddoauth.ResolveSite(raw)
	require.NoError(t, err, raw)
	return s
}

func TestSiteSameRegionAndRegion(t *testing.T) {
	t.Parallel()
	us1 := resolveOK(t, "datadoghq.com")
	acme := resolveOK(t, "acme.datadoghq.com")
	beta := resolveOK(t, "https://beta.datadoghq.com/")
	eu := resolveOK(t, "datadoghq.eu")
	euAcme := resolveOK(t, "acme.datadoghq.eu")
	fed := resolveOK(t, "ddog-gov.com")
	us2fed := resolveOK(t, "us2.ddog-gov.com")

	tests := []struct {
		name string
		a, b ddoauth.Site
		want bool
	}{
		{"same", us1, us1, true},
		{"browser and api host", resolveOK(t, "app.datadoghq.com"), resolveOK(t, "api.datadoghq.com"), true},
		{"org and region", acme, us1, true},
		{"region and org", us1, acme, true},
		{"two orgs", acme, beta, true},
		{"US1 and EU1", us1, eu, false},
		{"same org label other region", acme, euAcme, false},
		{"US1-FED and US2-FED", fed, us2fed, false},
		{"US1 and US1-FED", us1, fed, false},
		{"zero and zero", ddoauth.Site{}, ddoauth.Site{}, true},
		{"zero and US1", ddoauth.Site{}, us1, false},
		{"US1 and zero", us1, ddoauth.Site{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.a.SameRegion(tt.b))
		})
	}

	r := acme.Region()
	assert.Equal(t, us1, r)
	assert.Empty(t, r.Org())
	assert.Equal(t, "https://app.datadoghq.com/oauth2/v1/authorize", r.AuthorizeURL())
	assert.Equal(t, "acme", acme.Org(), "Region does not modify its receiver")
	assert.Equal(t, eu, euAcme.Region())
	assert.Equal(t, us1, us1.Region())
	assert.True(t, ddoauth.Site{}.Region().IsZero())
}

func TestSiteZero(t *testing.T) {
	t.Parallel()
	var s ddoauth.Site
	assert.True(t, s.IsZero())
	for name, got := range map[string]string{
		"Name": s.Name(), "Domain": s.Domain(), "Org": s.Org(), "String": s.String(), "BrowserHost": s.BrowserHost(),
		"AuthorizeURL": s.AuthorizeURL(), "TokenURL": s.TokenURL(), "RevokeURL": s.RevokeURL(),
		"APIKeyURL": s.APIKeyURL(), "APIURL": s.APIURL(), "LogsIntakeURL": s.LogsIntakeURL(),
		"EventIntakeURL": s.EventIntakeURL(), "TraceIntakeURL": s.TraceIntakeURL(),
		"OTLPIntakeURL": s.OTLPIntakeURL(), "ProfilingIntakeURL": s.ProfilingIntakeURL(),
		"BrowserIntakeURL": s.BrowserIntakeURL(),
	} {
		assert.Empty(t, got, name)
	}
	text, err := s.MarshalText()
	require.NoError(t, err)
	assert.Empty(t, text)

	for _, w := range wantSites {
		assert.False(t, resolveOK(t, w.domain).IsZero(), w.name)
	}
}

func TestSiteTextAndJSONRoundTrip(t *testing.T) {
	t.Parallel()
	for _, w := range wantSites {
		for _, org := range []string{"", "acme"} {
			t.Run(w.name+"/"+org, func(t *testing.T) {
				t.Parallel()
				raw := "https://" + w.browser + "/"
				wantText := w.domain
				if org != "" {
					raw = "https://" + org + "." + w.domain + "/"
					wantText = org + "." + w.domain
				}
				s := resolveOK(t, raw)

				text, err := s.MarshalText()
				require.NoError(t, err)
				assert.Equal(t, wantText, string(text))
				var back ddoauth.Site
				require.NoError(t, back.UnmarshalText(text))
				assert.Equal(t, s, back)
				assertSiteURLs(t, w, org, back)

				type stored struct {
					Site ddoauth.Site `json:"site"`
				}
				js, err := json.Marshal(stored{Site: s})
				require.NoError(t, err)
				assert.JSONEq(t, `{"site":"`+wantText+`"}`, string(js))
				var got stored
				require.NoError(t, json.Unmarshal(js, &got))
				assert.Equal(t, s, got.Site)
			})
		}
	}

	t.Run("zero", func(t *testing.T) {
		t.Parallel()
		js, err := json.Marshal(struct {
			Site ddoauth.Site `json:"site"`
		}{})
		require.NoError(t, err)
		assert.JSONEq(t, `{"site":""}`, string(js))
		back := resolveOK(t, "datadoghq.eu")
		require.NoError(t, back.UnmarshalText(nil))
		assert.True(t, back.IsZero())
	})
}

func TestSiteUnmarshalTextUnknownHost(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"us7.datadoghq.com", "https://us7.datadoghq.com/", "eu2.datadoghq.eu", "example.com", "acme.us7.datadoghq.com"} {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			var s ddoauth.Site
			require.NoError(t, s.UnmarshalText([]byte(raw)))
			assert.False(t, s.IsZero(), "a stored host survives decoding")
			host := strings.TrimSuffix(strings.TrimPrefix(raw, "https://"), "/")
			assert.Equal(t, host, s.String())
			text, err := s.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, host, string(text))
			for name, got := range map[string]string{
				"Name": s.Name(), "Domain": s.Domain(), "Org": s.Org(), "BrowserHost": s.BrowserHost(),
				"AuthorizeURL": s.AuthorizeURL(), "TokenURL": s.TokenURL(), "RevokeURL": s.RevokeURL(),
				"APIKeyURL": s.APIKeyURL(), "APIURL": s.APIURL(), "LogsIntakeURL": s.LogsIntakeURL(),
				"EventIntakeURL": s.EventIntakeURL(), "TraceIntakeURL": s.TraceIntakeURL(),
				"OTLPIntakeURL": s.OTLPIntakeURL(), "ProfilingIntakeURL": s.ProfilingIntakeURL(),
				"BrowserIntakeURL": s.BrowserIntakeURL(),
			} {
				assert.Empty(t, got, name)
			}
			assert.False(t, s.SameRegion(resolveOK(t, "datadoghq.com")))

			// A client that lacks the site refuses to start at it.
			c := newSiteClient(t, ddoauth.Config{})
			_, _, err = c.Start(s)
			assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
		})
	}
}

func TestSiteUnmarshalTextMalformed(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"http://datadoghq.com", "datadoghq.com:443", "user@datadoghq.com", "datadoghq.com/x", "127.0.0.1", "dat\x00adoghq.com", "xn--80ak6aa92e.com"} {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			s := resolveOK(t, "datadoghq.eu")
			err := s.UnmarshalText([]byte(raw))
			assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
			var js ddoauth.Site
			assert.ErrorIs(t, json.Unmarshal([]byte(`"`+strings.ReplaceAll(raw, "\x00", `\u0000`)+`"`), &js), ddoauth.ErrUnknownSite)
		})
	}
}

// newSiteClient builds a Client with working defaults; fields set in cfg
// override them.
func newSiteClient(t testing.TB, cfg ddoauth.Config) *ddoauth.Client {
	t.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID = "test-client-id"
	}
	if cfg.ClientSecret == "" && cfg.ClientSecretFunc == nil {
		cfg.ClientSecret = "test-client-secret-value"
	}
	if cfg.RedirectURL == "" {
		cfg.RedirectURL = "https://partner.example/oauth/callback"
	}
	c, err := ddoauth.New(cfg)
	require.NoError(t, err)
	return c
}

func TestNewSite(t *testing.T) {
	t.Parallel()
	valid := []struct {
		name, domain, browser string
		wantAuthorize         string
		wantBrowserIntake     string
	}{
		{"US7", "us7.datadoghq.com", "us7.datadoghq.com", "https://us7.datadoghq.com/oauth2/v1/authorize", "https://browser-intake-us7-datadoghq.com"},
		{"EU2", "datadoghq.eu2", "app.datadoghq.eu2", "https://app.datadoghq.eu2/oauth2/v1/authorize", "https://browser-intake-datadoghq.eu2"},
		{"US3-FED", "us3.ddog-gov.com", "app.us3.ddog-gov.com", "https://app.us3.ddog-gov.com/oauth2/v1/authorize", "https://browser-intake-us3-ddog-gov.com"},
	}
	for _, tt := range valid {
		t.Run("valid/"+tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := ddoauth.NewSite(tt.name, tt.domain, tt.browser)
			require.NoError(t, err)
			assert.Equal(t, tt.name, s.Name())
			assert.Equal(t, tt.domain, s.Domain())
			assert.Empty(t, s.Org())
			assert.Equal(t, tt.browser, s.BrowserHost())
			assert.Equal(t, tt.wantAuthorize, s.AuthorizeURL())
			assert.Equal(t, "https://api."+tt.domain+"/oauth2/v1/token", s.TokenURL())
			assert.Equal(t, "https://api."+tt.domain+"/oauth2/v1/revoke", s.RevokeURL())
			assert.Equal(t, "https://api."+tt.domain+"/api/v2/api_keys/marketplace", s.APIKeyURL())
			assert.Equal(t, "https://api."+tt.domain, s.APIURL())
			assert.Equal(t, "https://http-intake.logs."+tt.domain, s.LogsIntakeURL())
			assert.Equal(t, tt.wantBrowserIntake, s.BrowserIntakeURL())
		})
	}

	invalid := []struct{ label, name, domain, browser string }{
		{"empty name", "", "us7.datadoghq.com", "us7.datadoghq.com"},
		{"long name", strings.Repeat("N", 33), "us7.datadoghq.com", "us7.datadoghq.com"},
		{"name with space", "US 7", "us7.datadoghq.com", "us7.datadoghq.com"},
		{"name with control", "US7\n", "us7.datadoghq.com", "us7.datadoghq.com"},
		{"name non-ASCII", "US7é", "us7.datadoghq.com", "us7.datadoghq.com"},
		{"empty domain", "US7", "", ""},
		{"single label", "US7", "localhost", "localhost"},
		{"upper-case domain", "US7", "US7.datadoghq.com", "US7.datadoghq.com"},
		{"scheme", "US7", "https://us7.datadoghq.com", "https://us7.datadoghq.com"},
		{"port", "US7", "us7.datadoghq.com:443", "us7.datadoghq.com:443"},
		{"trailing dot", "US7", "us7.datadoghq.com.", "us7.datadoghq.com."},
		{"IP literal", "US7", "10.0.0.1", "10.0.0.1"},
		{"punycode", "US7", "xn--80ak6aa92e.com", "xn--80ak6aa92e.com"},
		{"path", "US7", "us7.datadoghq.com/x", "us7.datadoghq.com/x"},
		{"browser other host", "US7", "us7.datadoghq.com", "evil.com"},
		{"browser api host", "US7", "us7.datadoghq.com", "api.us7.datadoghq.com"},
		{"browser org host", "US7", "us7.datadoghq.com", "acme.us7.datadoghq.com"},
		{"browser empty", "US7", "us7.datadoghq.com", ""},
	}
	for _, tt := range invalid {
		t.Run("invalid/"+tt.label, func(t *testing.T) {
			t.Parallel()
			s, err := ddoauth.NewSite(tt.name, tt.domain, tt.browser)
			assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
			var e *ddoauth.Error
			assert.True(t, errors.As(err, &e))
			assert.True(t, s.IsZero())
			assertQuotedOnly(t, err.Error())
		})
	}
}

func TestConfigSites(t *testing.T) {
	t.Parallel()
	us7, err := ddoauth.NewSite("US7", "us7.datadoghq.com", "us7.datadoghq.com")
	require.NoError(t, err)
	c := newSiteClient(t, ddoauth.Config{Sites: []ddoauth.Site{us7}})

	t.Run("client resolves the added site", func(t *testing.T) {
		t.Parallel()
		for _, raw := range []string{"us7.datadoghq.com", "https://us7.datadoghq.com/", "US7.DATADOGHQ.COM", "api.us7.datadoghq.com"} {
			s, err := c.ResolveSite(raw)
			require.NoError(t, err, raw)
			assert.Equal(t, "US7", s.Name())
			assert.Equal(t, "us7.datadoghq.com", s.Domain())
			assert.Equal(t, "https://us7.datadoghq.com/oauth2/v1/authorize", s.AuthorizeURL())
			assert.Equal(t, "https://api.us7.datadoghq.com/oauth2/v1/token", s.TokenURL())
		}
		org, err := c.ResolveSite("https://acme.us7.datadoghq.com/")
		require.NoError(t, err)
		assert.Equal(t, "US7", org.Name())
		assert.Equal(t, "acme", org.Org())
		assert.Equal(t, "https://acme.us7.datadoghq.com/oauth2/v1/authorize", org.AuthorizeURL())
		assert.Equal(t, "https://api.us7.datadoghq.com/oauth2/v1/token", org.TokenURL())

		// Built-in sites still resolve, to themselves, not to US7.
		us1, err := c.ResolveSite("datadoghq.com")
		require.NoError(t, err)
		assert.Equal(t, "US1", us1.Name())
		us3, err := c.ResolveSite("us3.datadoghq.com")
		require.NoError(t, err)
		assert.Equal(t, "US3", us3.Name())

		fromQuery, err := c.SiteFromQuery(url.Values{"domain": {"us7.datadoghq.com"}})
		require.NoError(t, err)
		assert.Equal(t, "US7", fromQuery.Name())
	})

	t.Run("package and other clients do not", func(t *testing.T) {
		t.Parallel()
		_, err := ddoauth.ResolveSite("us7.datadoghq.com")
		assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
		_, err = ddoauth.SiteFromQuery(url.Values{"domain": {"us7.datadoghq.com"}})
		assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
		other := newSiteClient(t, ddoauth.Config{})
		_, err = other.ResolveSite("us7.datadoghq.com")
		assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
		_, _, err = other.Start(us7)
		assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
	})

	t.Run("start at the added site", func(t *testing.T) {
		t.Parallel()
		authURL, p, err := c.Start(us7)
		require.NoError(t, err)
		u, err := url.Parse(authURL)
		require.NoError(t, err)
		assert.Equal(t, "us7.datadoghq.com", u.Host)
		assert.Equal(t, "US7", p.Site.Name())
	})

	rejected := []struct {
		name  string
		sites func(t *testing.T) []ddoauth.Site
	}{
		{"built-in US1", func(t *testing.T) []ddoauth.Site {
			s, err := ddoauth.NewSite("X", "datadoghq.com", "app.datadoghq.com")
			require.NoError(t, err)
			return []ddoauth.Site{s}
		}},
		{"built-in EU1", func(t *testing.T) []ddoauth.Site {
			s, err := ddoauth.NewSite("EU1", "datadoghq.eu", "app.datadoghq.eu")
			require.NoError(t, err)
			return []ddoauth.Site{s}
		}},
		{"built-in US5 same name", func(t *testing.T) []ddoauth.Site {
			s, err := ddoauth.NewSite("US5", "us5.datadoghq.com", "us5.datadoghq.com")
			require.NoError(t, err)
			return []ddoauth.Site{s}
		}},
		{"a Site from Sites()", func(*testing.T) []ddoauth.Site { return ddoauth.Sites()[3:4] }},
		{"a resolved org Site", func(t *testing.T) []ddoauth.Site { return []ddoauth.Site{resolveOK(t, "acme.datadoghq.com")} }},
		{"the zero Site", func(*testing.T) []ddoauth.Site { return []ddoauth.Site{{}} }},
	}
	for _, tt := range rejected {
		t.Run("New rejects "+tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ddoauth.New(ddoauth.Config{
				ClientID:     "test-client-id",
				ClientSecret: "test-client-secret-value",
				RedirectURL:  "https://partner.example/oauth/callback",
				Sites:        tt.sites(t),
			})
			assert.ErrorIs(t, err, ddoauth.ErrInvalidConfig)
			assert.Nil(t, c)
		})
	}
}

func TestSiteFromQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		q        url.Values
		wantName string // "" with wantErr nil: the zero Site
		wantOrg  string
		wantErr  error
	}{
		{"neither", url.Values{}, "", "", nil},
		{"nil", nil, "", "", nil},
		{"other params only", url.Values{"code": {"x"}, "state": {"y"}}, "", "", nil},
		{"site origin only", url.Values{"site": {"https://app.datadoghq.eu"}}, "EU1", "", nil},
		{"site with org only", url.Values{"site": {"https://acme.datadoghq.com"}}, "US1", "acme", nil},
		{"domain only", url.Values{"domain": {"us5.datadoghq.com"}}, "US5", "", nil},
		{"domain with org", url.Values{"domain": {"acme.ap1.datadoghq.com"}}, "AP1", "acme", nil},
		{"both same region, site has org", url.Values{"site": {"https://acme.datadoghq.eu/"}, "domain": {"datadoghq.eu"}}, "EU1", "acme", nil},
		{"both same region, domain has org", url.Values{"site": {"https://app.datadoghq.eu/"}, "domain": {"acme.datadoghq.eu"}}, "EU1", "acme", nil},
		{"both same region, no org", url.Values{"site": {"https://us3.datadoghq.com"}, "domain": {"us3.datadoghq.com"}}, "US3", "", nil},
		{"both different regions", url.Values{"site": {"https://app.datadoghq.com"}, "domain": {"datadoghq.eu"}}, "", "", ddoauth.ErrSiteMismatch},
		{"both different regions, org", url.Values{"site": {"https://acme.datadoghq.com"}, "domain": {"us5.datadoghq.com"}}, "", "", ddoauth.ErrSiteMismatch},
		{"FED and commercial", url.Values{"site": {"https://app.ddog-gov.com"}, "domain": {"datadoghq.com"}}, "", "", ddoauth.ErrSiteMismatch},
		{"US1-FED and US2-FED", url.Values{"site": {"ddog-gov.com"}, "domain": {"us2.ddog-gov.com"}}, "", "", ddoauth.ErrSiteMismatch},
		{"repeated site", url.Values{"site": {"datadoghq.com", "datadoghq.eu"}}, "", "", ddoauth.ErrSiteMismatch},
		{"repeated site same value", url.Values{"site": {"datadoghq.com", "datadoghq.com"}}, "", "", ddoauth.ErrSiteMismatch},
		{"repeated domain", url.Values{"domain": {"datadoghq.com", "evil.com"}}, "", "", ddoauth.ErrSiteMismatch},
		{"repeated domain with site", url.Values{"site": {"datadoghq.com"}, "domain": {"datadoghq.com", "datadoghq.com"}}, "", "", ddoauth.ErrSiteMismatch},
		{"unknown site", url.Values{"site": {"https://evil.com"}}, "", "", ddoauth.ErrUnknownSite},
		{"unknown domain", url.Values{"domain": {"datadoghq.com.evil.com"}}, "", "", ddoauth.ErrUnknownSite},
		{"unknown domain with good site", url.Values{"site": {"https://app.datadoghq.com"}, "domain": {"evil.com"}}, "", "", ddoauth.ErrUnknownSite},
		{"unknown site with good domain", url.Values{"site": {"https://evil.com"}, "domain": {"datadoghq.com"}}, "", "", ddoauth.ErrUnknownSite},
		{"region-like unknown", url.Values{"domain": {"us7.datadoghq.com"}}, "", "", ddoauth.ErrUnknownSite},
		{"empty site", url.Values{"site": {""}}, "", "", ddoauth.ErrUnknownSite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := ddoauth.SiteFromQuery(tt.q)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				var e *ddoauth.Error
				assert.True(t, errors.As(err, &e))
				assert.True(t, s.IsZero())
				assertQuotedOnly(t, err.Error())
				return
			}
			require.NoError(t, err)
			if tt.wantName == "" {
				assert.True(t, s.IsZero())
				return
			}
			assert.Equal(t, tt.wantName, s.Name())
			assert.Equal(t, tt.wantOrg, s.Org())

			// The client's method agrees with the package function.
			cs, err := newSiteClient(t, ddoauth.Config{}).SiteFromQuery(tt.q)
			require.NoError(t, err)
			assert.Equal(t, s, cs)
		})
	}
}

// assertQuotedOnly fails if s holds a control or other non-printable
// character: error strings may quote hostile input but never carry it raw.
func assertQuotedOnly(t testing.TB, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("invalid UTF-8 in %q", s)
		return
	}
	for i, r := range s {
		if !unicode.IsPrint(r) {
			t.Errorf("non-printable %U at byte %d in %q", r, i, s)
			return
		}
	}
}

// datadogServiceLabels are the single labels in front of a site domain
// that name Datadog's own hosts (web properties, Agent installation, the
// Agent's and SDKs' intakes), from Datadog's documentation: the Agent's
// network destinations, the PrivateLink endpoint tables of US1, AP2 and
// UK1, the site and logs-endpoint pages, and datadog-oauth.md §2. None is
// an organization: a browser sent to its authorize path would carry state,
// code challenge, client ID and redirect URI somewhere else.
var datadogServiceLabels = []string{
	// web properties
	"www", "status", "docs", "trust", "help", "support", "learn", "p", "ip-ranges", "custom-domains",
	// Agent installation
	"install", "yum", "apt", "keys", "windows-agent",
	// services with a host of their own
	"agent", "process", "orchestrator", "config", "otlp", "opamp", "mcp", "synthetics",
	"network-devices", "trace", "metrics", "logs", "live", "profile", "browser", "rum",
	"mobile", "appsec", "instrumentation", "telemetry", "ci-app", "cicd", "llmobs", "webhook",
	// intakes
	"intake", "intake-v2", "http-intake", "agent-intake", "agent-http-intake", "browser-intake",
	"browser-intake-datadoghq", "mobile-http-intake", "rum-http-intake", "public-trace-http-intake",
	"event-management-intake", "event-platform-intake", "instrumentation-telemetry-intake",
	"llmobs-intake", "contimage-intake", "contlcycle-intake", "ndm-intake", "ndmflow-intake",
	"snmp-traps-intake", "netpath-intake", "sbom-intake", "dbm-metrics-intake", "dbquery-intake",
	"webhook-intake", "agenthealth-intake", "awsmetrics-intake", "ci-intake", "ci-app-intake",
	"cicd-intake", "cicodescan-intake", "cireport-intake", "citestcov-intake", "citestcycle-intake",
	"cloudplatform-intake", "cspm-intake", "cws-intake", "debugger-intake", "error-tracking-intake",
	"feed-intake", "kubeops-intake", "ocimetrics-intake", "resources-intake", "sds-intake",
	"sentry-intake", "softinv-intake", "iam-rum-intake", "data-obs-intake", "obpipeline-intake",
	"sourcemap-intake", "appsec-intake", "profile-intake", "trace-intake", "otlp-intake",
	"logs-intake", "synthetics-intake",
	// the region's own hosts: never an organization either
	"app", "api",
}

func TestResolveSiteRejectsServiceLabels(t *testing.T) {
	t.Parallel()
	for _, w := range wantSites {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			for _, label := range datadogServiceLabels {
				for _, raw := range []string{label + "." + w.domain, "https://" + strings.ToUpper(label) + "." + w.domain + "/"} {
					s, err := ddoauth.ResolveSite(raw)
					if label == "app" || label == "api" {
						// app.<domain> and api.<domain> name the region.
						require.NoError(t, err, raw)
						assert.Equal(t, w.name, s.Name(), raw)
						assert.Empty(t, s.Org(), raw)
						assert.Equal(t, w.authorize, s.AuthorizeURL(), raw)
						continue
					}
					assert.ErrorIs(t, err, ddoauth.ErrUnknownSite, "%q resolved to org %q", raw, s.Org())
					assert.True(t, s.IsZero(), raw)
					_, err = ddoauth.SiteFromQuery(url.Values{"site": {raw}})
					assert.ErrorIs(t, err, ddoauth.ErrUnknownSite, raw)
				}
			}
			// Real organizations keep their subdomain.
			for _, org := range []string{"acme", "acme-corp", "intak", "wwwacme", "statusquo", "docsis", "apps", "apis"} {
				s, err := ddoauth.ResolveSite("https://" + org + "." + w.domain + "/")
				require.NoError(t, err, org)
				assert.Equal(t, org, s.Org())
				assert.Equal(t, "https://"+org+"."+w.domain+"/oauth2/v1/authorize", s.AuthorizeURL())
			}
		})
	}
}

// orgLabel is what an organization subdomain may be: one DNS label.
var orgLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func FuzzResolveSite(f *testing.F) {
	for _, w := range wantSites {
		f.Add(w.domain)
		f.Add("https://acme." + w.domain + "/")
	}
	byName := map[string]ddoauth.Site{}
	for _, s := range ddoauth.Sites() {
		byName[s.Name()] = s
	}

	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ddoauth.ResolveSite(raw)
		if err != nil {
			if !errors.Is(err, ddoauth.ErrUnknownSite) {
				t.Fatalf("ResolveSite(%q) error %v does not wrap ErrUnknownSite", raw, err)
			}
			var e *ddoauth.Error
			if !errors.As(err, &e) {
				t.Fatalf("ResolveSite(%q) error %T is not a *ddoauth.Error", raw, err)
			}
			if !s.IsZero() {
				t.Fatalf("ResolveSite(%q) failed but returned %v", raw, s)
			}
			assertQuotedOnly(t, err.Error())
			return
		}

		w, ok := wantSiteByDomain(s.Domain())
		if !ok {
			t.Fatalf("ResolveSite(%q) = domain %q, not in the table", raw, s.Domain())
		}
		ref, ok := byName[s.Name()]
		if !ok || ref.Domain() != w.domain || s.Name() != w.name {
			t.Fatalf("ResolveSite(%q) = %q/%q, not a table row", raw, s.Name(), s.Domain())
		}
		for _, c := range []struct{ what, got, ref, want string }{
			{"TokenURL", s.TokenURL(), ref.TokenURL(), w.token},
			{"RevokeURL", s.RevokeURL(), ref.RevokeURL(), w.revoke},
			{"APIKeyURL", s.APIKeyURL(), ref.APIKeyURL(), w.apiKey},
			{"APIURL", s.APIURL(), ref.APIURL(), w.apiURL},
			{"LogsIntakeURL", s.LogsIntakeURL(), ref.LogsIntakeURL(), w.logs},
			{"EventIntakeURL", s.EventIntakeURL(), ref.EventIntakeURL(), w.event},
			{"TraceIntakeURL", s.TraceIntakeURL(), ref.TraceIntakeURL(), w.trace},
			{"OTLPIntakeURL", s.OTLPIntakeURL(), ref.OTLPIntakeURL(), w.otlp},
			{"ProfilingIntakeURL", s.ProfilingIntakeURL(), ref.ProfilingIntakeURL(), w.profiling},
			{"BrowserIntakeURL", s.BrowserIntakeURL(), ref.BrowserIntakeURL(), w.browserIntake},
		} {
			if c.got != c.ref || c.got != c.want {
				t.Fatalf("ResolveSite(%q).%s = %q, want %q (Sites() has %q)", raw, c.what, c.got, c.want, c.ref)
			}
		}

		u, err := url.Parse(s.AuthorizeURL())
		if err != nil {
			t.Fatalf("ResolveSite(%q).AuthorizeURL() = %q: %v", raw, s.AuthorizeURL(), err)
		}
		if u.Scheme != "https" || u.User != nil || u.Port() != "" || u.Path != "/oauth2/v1/authorize" ||
			u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("ResolveSite(%q).AuthorizeURL() = %q is not https://<host>/oauth2/v1/authorize", raw, s.AuthorizeURL())
		}
		switch org := s.Org(); {
		case org == "":
			if u.Host != w.browser {
				t.Fatalf("ResolveSite(%q).AuthorizeURL() host %q, want %q", raw, u.Host, w.browser)
			}
		case !orgLabel.MatchString(org) || u.Host != org+"."+w.domain:
			t.Fatalf("ResolveSite(%q): org %q, authorize host %q", raw, org, u.Host)
		case slices.Contains(datadogServiceLabels, org) || strings.Contains(org, "intake"):
			t.Fatalf("ResolveSite(%q): org %q names a Datadog service host", raw, org)
		}

		// The value named that region: the domain is a suffix of its host.
		h := strings.ToLower(raw)
		h = strings.TrimSuffix(strings.TrimPrefix(h, "https://"), "/")
		if h != w.domain && !strings.HasSuffix(h, "."+w.domain) {
			t.Fatalf("ResolveSite(%q) = %s, but the input is not in that domain", raw, w.domain)
		}

		// The host form re-resolves to the same Site.
		text, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ddoauth.ResolveSite(string(text))
		if err != nil || back != s {
			t.Fatalf("ResolveSite(%q) = %q, which does not resolve back: %v", raw, text, err)
		}
	})
}

func BenchmarkResolveSite(b *testing.B) {
	for _, bm := range []struct{ name, raw string }{
		{"canonical", "datadoghq.com"},
		{"org-origin", "https://acme.us5.datadoghq.com/"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ddoauth.ResolveSite(bm.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
