package datadogclient

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/ddoauth/ddoauth"
)

// connection is the credential a context selects: exactly one of its
// fields is set.
type connection struct {
	ts  *ddoauth.TokenSource
	key *ddoauth.APIKey
}

type connectionKey struct{}

// Transport is an http.RoundTripper for the official client's
// Configuration.HTTPClient. It authorizes each request with the
// connection its context names, set up by [APIContext] or
// [IntakeContext], so one datadog.APIClient serves every customer:
//
//	cfg := datadog.NewConfiguration()
//	cfg.HTTPClient = &http.Client{Transport: &datadogclient.Transport{}}
//
// The credentials are added here, below the official client, so its Debug
// output never shows them. A REST call goes through [ddoauth.Transport]:
// the bearer token goes only to https://api.<domain> of the connection's
// site and a refused token is refreshed once and the call retried once.
// Data goes with the API key only to its site's API and intake hosts
// (those [ddoauth.Site] names) over https. Any other host or scheme,
// whatever Configuration.Host or Scheme say, fails with an error wrapping
// [ddoauth.ErrForeignHost] before anything is sent. Credentials already on
// the request (Configuration.DefaultHeader, datadog.ContextAPIKeys) are
// removed first, so a request never carries both the token and the key.
//
// A request whose context names no connection is sent as it is.
type Transport struct {
	Base http.RoundTripper // nil means http.DefaultTransport
}

// RoundTrip authorizes req with its context's connection and sends it;
// see [Transport]. Like every RoundTripper it leaves req unchanged and
// closes its body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(connectionKey{}).(connection)
	switch {
	case c.ts != nil:
		return (&ddoauth.Transport{Source: c.ts, Base: t.Base}).RoundTrip(withoutCredentials(req))
	case c.key != nil:
		if err := checkKeyHost(req, c.key.Site); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		r := withoutCredentials(req)
		r.Header.Set("DD-API-KEY", c.key.Key)
		return t.base().RoundTrip(r)
	default:
		return t.base().RoundTrip(req)
	}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// withoutCredentials returns a copy of req without the headers Datadog
// reads credentials from.
func withoutCredentials(req *http.Request) *http.Request {
	r := req.Clone(req.Context())
	for _, h := range []string{"Authorization", "DD-API-KEY", "DD-APPLICATION-KEY"} {
		r.Header.Del(h)
	}
	return r
}

// checkKeyHost returns an error wrapping ddoauth.ErrForeignHost unless
// req goes over https to one of site's API and intake hosts.
func checkKeyHost(req *http.Request, site ddoauth.Site) error {
	if u := req.URL; u != nil && u.Scheme == "https" && u.User == nil && site.Domain() != "" {
		h := strings.ToLower(strings.TrimSuffix(u.Host, ":443"))
		if req.Host == "" || strings.EqualFold(req.Host, u.Host) {
			for _, origin := range []string{
				site.APIURL(), site.LogsIntakeURL(), site.EventIntakeURL(), site.TraceIntakeURL(),
				site.OTLPIntakeURL(), site.ProfilingIntakeURL(), site.BrowserIntakeURL(),
			} {
				if h == strings.TrimPrefix(origin, "https://") {
					return nil
				}
			}
		}
	}
	scheme, host := "", ""
	if req.URL != nil {
		scheme, host = req.URL.Scheme, req.URL.Host
	}
	target := scheme + "://" + host
	if len(target) > 120 {
		target = target[:120]
	}
	return &ddoauth.Error{Op: "authorize request", Site: site.String(), Err: ddoauth.ErrForeignHost,
		Description: fmt.Sprintf("%q: the API key goes only to its site's API and intake hosts over https", target)}
}
