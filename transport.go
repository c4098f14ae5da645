package ddoauth

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client returns an *http.Client whose requests carry the connection's
// bearer token, over base (nil means http.DefaultTransport). When Datadog
// refuses the token (a 401, or a 403 for a token within five minutes of
// expiry: clocks drift) it refreshes once, even if the token looked
// valid, and retries the request once when its body can be replayed.
//
// The token goes only to the connection's own REST API host,
// https://api.<domain> of its site: Datadog's intakes take the API key,
// not a token. A request for any other host, scheme or port, including a
// redirect the client follows, fails with an error wrapping
// [ErrForeignHost] before anything is sent.
func (ts *TokenSource) Client(base http.RoundTripper) *http.Client {
	return &http.Client{Transport: &Transport{Source: ts, Base: base}}
}

// Transport is an http.RoundTripper that authorizes requests with a
// TokenSource; see [TokenSource.Client].
type Transport struct {
	Source *TokenSource
	Base   http.RoundTripper // nil means http.DefaultTransport
}

// RoundTrip authorizes req and sends it; see [TokenSource.Client]. Like
// every RoundTripper it leaves req unchanged and closes its body.
//
// An http.Client strips the Authorization header it copies onto a
// redirect to another host, but this one is set here, on every hop: so
// every request is checked here, before a token is even looked up.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	fail := func(err error) (*http.Response, error) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	// First against every API host the client knows, and the cached
	// token's: a foreign request costs no store read and no refresh.
	cur := t.Source.cur.Load()
	if err := t.Source.c.checkBearerHost(req, cur); err != nil {
		return fail(err)
	}
	tok, err := t.Source.token(req.Context(), "")
	if err != nil {
		return fail(err)
	}
	if tok != cur { // refreshed meanwhile: the connection may have moved
		if err := t.Source.c.checkBearerHost(req, tok); err != nil {
			return fail(err)
		}
	}
	resp, err := t.base().RoundTrip(authorized(req, req.Body, tok))
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if err != nil || !replayable || !t.Source.rejected(resp, tok) {
		return resp, err
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	fresh, err := t.Source.token(req.Context(), tok.tok.AccessToken)
	if err == nil {
		err = t.Source.c.checkBearerHost(req, fresh) // the connection may have moved
	}
	if err != nil {
		if body != nil {
			body.Close()
		}
		return resp, nil // the 401 says more than the failed refresh would
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return t.base().RoundTrip(authorized(req, body, fresh))
}

// skew is how far the partner's clock may be from Datadog's.
const skew = 5 * time.Minute

// rejected reports whether an answer means the token itself was refused:
// any 401, and a 403 for a token that expires within the clock skew,
// since Datadog answers an expired token with 403 Forbidden as it does a
// missing scope. A 403 for any other token is left alone, so a missing
// scope does not cost a refresh per request. Only the token's own host
// can refuse it: an answer for another request (a Base that follows
// redirects itself) never forces a refresh.
func (ts *TokenSource) rejected(resp *http.Response, c *cached) bool {
	if resp.Request != nil && !bearerHost(resp.Request, c.host) {
		return false
	}
	return resp.StatusCode == http.StatusUnauthorized ||
		resp.StatusCode == http.StatusForbidden && ts.c.now().Add(skew).After(c.tok.Expiry)
}

// ErrForeignHost: a request through a connection's [Transport] was not
// for https://api.<domain> of the connection's site, the only place its
// token goes. Nothing was sent.
var ErrForeignHost = errors.New("request is not for the connection's Datadog API host over https")

// checkBearerHost returns an error wrapping ErrForeignHost unless req
// may carry c's token. A nil c (nothing cached yet) allows the API host
// of every site the client knows; the token's own check follows.
func (cl *Client) checkBearerHost(req *http.Request, c *cached) error {
	if c != nil {
		if bearerHost(req, c.host) {
			return nil
		}
	} else {
		for _, table := range [2][]*siteInfo{builtInSites, cl.extra} {
			for _, si := range table {
				if bearerHost(req, si.api) {
					return nil
				}
			}
		}
	}
	scheme, host := "", ""
	if req.URL != nil {
		scheme, host = req.URL.Scheme, req.URL.Host
	}
	return &Error{Op: "authorize request", Err: ErrForeignHost,
		Description: fmt.Sprintf("%q: the token goes only to the connection's https://api.<domain>", clean(scheme+"://"+host, 120))}
}

// bearerHost reports whether req goes to https://host (port 443 at most)
// and names no other host in its Host header.
func bearerHost(req *http.Request, host string) bool {
	u := req.URL
	if host == "" || u == nil || u.Scheme != "https" || u.User != nil {
		return false
	}
	// Exact first: the usual request names the host as the table does.
	h := u.Host
	if h != host && !strings.EqualFold(h, host) && !(len(h) == len(host)+4 && strings.EqualFold(h, host+":443")) {
		return false
	}
	return req.Host == "" || req.Host == h || strings.EqualFold(req.Host, h)
}

// apiHost is the host a token of a connection at s may be sent to, or ""
// for a site the client does not know.
func (cl *Client) apiHost(s Site) string {
	site, err := cl.connectionSite(s)
	if err != nil || !site.ok() {
		return ""
	}
	return site.info.api
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// authorized returns a shallow copy of req carrying tok. Only the header
// map is new; its value slices are shared read-only with req, which keeps
// the copy cheaper than req.Clone on every request.
func authorized(req *http.Request, body io.ReadCloser, c *cached) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Body = body
	r.Header = make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		r.Header[k] = v
	}
	r.Header["Authorization"] = c.bearer
	return r
}
