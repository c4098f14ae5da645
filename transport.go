package ddoauth

import (
	"io"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// Client returns an *http.Client whose requests carry the connection's
// bearer token, over base (nil means http.DefaultTransport). When Datadog
// refuses the token (a 401, or a 403 for a token within five minutes of
// expiry: clocks drift) it refreshes once, even if the token looked
// valid, and retries the request once when its body can be replayed.
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
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Source.token(req.Context(), "")
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.base().RoundTrip(authorized(req, req.Body, tok))
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if err != nil || !replayable || !t.Source.rejected(resp.StatusCode, tok.tok) {
		return resp, err
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	fresh, err := t.Source.token(req.Context(), tok.tok.AccessToken)
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
// scope does not cost a refresh per request.
func (ts *TokenSource) rejected(status int, tok *oauth2.Token) bool {
	return status == http.StatusUnauthorized ||
		status == http.StatusForbidden && ts.c.now().Add(skew).After(tok.Expiry)
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
