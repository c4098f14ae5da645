package ddoauth_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestHandlersOrgID follows an onboarding link that names the
// organization: the authorize URL carries it, Datadog authorizes that
// organization, and the connection and the page name it.
func TestHandlersOrgID(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{})
	eu := ddoauth.Sites()[3]
	org := p.dd.AddOrg(ddoauthtest.Org{Name: `Acme <b>&</b> "Corp"`, Site: eu})
	p.dd.SignIn(p.dd.DefaultOrg(eu).ID) // the user's current organization is another one
	b := p.browser()
	q := url.Values{"site": {"https://app.datadoghq.eu"}, "dd_oid": {strings.ToUpper(org.UUID)}}

	u, err := url.Parse(p.authorizeURL(t, b, q))
	require.NoError(t, err)
	assert.Equal(t, []string{org.UUID}, u.Query()["dd_oid"])

	cb := p.onboard(t, b, q)
	assert.Equal(t, org.UUID, cb.Query().Get("dd_oid"))
	a := get(t, b, cb.String())
	require.Equal(t, http.StatusOK, a.status, a.body)
	assert.Contains(t, a.body, "Acme &lt;b&gt;&amp;&lt;/b&gt; &#34;Corp&#34;")
	assert.NotContains(t, a.body, "<b>")
	conns := p.connections()
	require.Len(t, conns, 1)
	assert.Equal(t, org.UUID, conns[0].OrgID)
	assert.Equal(t, org.Name, conns[0].OrgName)
	p.assertClean(t, cb.Query().Get("state"), cb.Query().Get("code"))
}

func TestHandlersSitePickerKeepsOrgID(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{picker: true})
	const oid = "4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f"
	a := get(t, p.browser(), p.srv.URL+onboardingPath+"?dd_oid="+oid)
	require.Equal(t, http.StatusOK, a.status, a.body)
	assert.Contains(t, a.body, `href="?dd_oid=`+oid+`&amp;domain=datadoghq.eu"`)
}

// TestHandlersErrorsNameTheirStep checks that a failure of the
// onboarding link is reported as onboarding's, with a page about the
// link, and a failure of Datadog's answer as the callback's.
func TestHandlersErrorsNameTheirStep(t *testing.T) {
	t.Parallel()
	eu := url.Values{"domain": {"datadoghq.eu"}}
	onboarding := func(q string) func(t *testing.T, p *partner) answer {
		return func(t *testing.T, p *partner) answer { return get(t, p.browser(), p.srv.URL+onboardingPath+"?"+q) }
	}
	callback := func(edit func(url.Values)) func(t *testing.T, p *partner) answer {
		return func(t *testing.T, p *partner) answer {
			b := p.browser()
			return get(t, b, withQuery(p.onboard(t, b, eu), edit))
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, p *partner) answer
		op   string
		want []error
		page string
	}{
		{"onboarding: site and domain of two regions", onboarding("site=https://app.datadoghq.eu&domain=datadoghq.com"),
			"onboarding", []error{ddoauth.ErrSiteMismatch}, "link&#39;s site values"},
		{"onboarding: domain given twice", onboarding("domain=datadoghq.eu&domain=datadoghq.eu"),
			"onboarding", []error{ddoauth.ErrSiteMismatch}, "link&#39;s site values"},
		{"onboarding: unknown site", onboarding("site=evil.example"),
			"onboarding", []error{ddoauth.ErrUnknownSite}, "The link does not name a Datadog site"},
		{"onboarding: dd_oid not a UUID", onboarding("domain=datadoghq.eu&dd_oid=%3Cscript%3E"),
			"onboarding", []error{ddoauth.ErrInvalidOrgID}, "link&#39;s organization ID"},
		{"onboarding: dd_oid repeated", onboarding("dd_oid=4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f&dd_oid=4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f"),
			"onboarding", []error{ddoauth.ErrInvalidOrgID}, "link&#39;s organization ID"},
		{"callback: another region", callback(func(q url.Values) { q.Set("domain", "datadoghq.com") }),
			"callback", []error{ddoauth.ErrSiteMismatch}, "Datadog&#39;s answer names another Datadog site"},
		{"callback: site and domain of two regions", callback(func(q url.Values) { q.Set("site", "https://app.datadoghq.com") }),
			"callback", []error{ddoauth.ErrSiteMismatch}, "Datadog&#39;s answer names another Datadog site"},
		{"callback: unknown site", callback(func(q url.Values) { q.Set("domain", "evil.example") }),
			"callback", []error{ddoauth.ErrUnknownSite}, "Datadog&#39;s answer does not name a Datadog site"},
		{"callback: dd_oid not a UUID", callback(func(q url.Values) { q.Set("dd_oid", "\u202e<b>") }),
			"callback", []error{ddoauth.ErrInvalidCallback, ddoauth.ErrInvalidOrgID}, "organization ID that is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPartner(t, partnerOpts{})
			a := tc.run(t, p)
			assert.Equal(t, http.StatusBadRequest, a.status, a.body)
			assert.Contains(t, a.body, tc.page)
			err := p.lastErr()
			for _, want := range tc.want {
				require.ErrorIs(t, err, want)
			}
			var e *ddoauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.op, e.Op)
			if tc.op == "onboarding" {
				assert.NotContains(t, a.body, "started at")
				assert.NotContains(t, e.Hint, "callback")
				assert.Equal(t, 0, p.dd.Count(ddoauthtest.EndpointAuthorize), "nothing was sent to Datadog")
				assert.Empty(t, a.header.Values("Set-Cookie"), "no authorization was started")
			}
			assert.Equal(t, 0, p.dd.Count(ddoauthtest.EndpointToken))
			assert.NotContains(t, a.body, "<script>")
			assert.False(t, errors.Is(err, ddoauth.ErrStateMismatch))
		})
	}
}
