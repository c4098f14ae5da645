package ddoauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Telemetry instruments a Client's operations: it is told when each one
// starts and how it ended. Package ddoauthotel implements it with
// OpenTelemetry; the interface keeps this package free of any telemetry
// dependency. Set it in Config.Telemetry; nil means none, at no cost.
//
// Reading a valid token and authorizing a request with it
// ([TokenSource.TokenContext], [Transport]) are not operations: they never
// reach Telemetry.
type Telemetry interface {
	// Start is called when op begins, with the context it runs in. It
	// returns the context the operation goes on in (one carrying a span,
	// say) and a function that the Client calls exactly once, with the
	// result, when op ends. Both must be safe for concurrent use.
	Start(ctx context.Context, op Operation) (context.Context, func(Result))
}

// Operation names what a Client does, for [Telemetry].
type Operation string

// The operations a Client reports to [Telemetry].
const (
	// OpCallback is one request to [Handlers.Callback], from its arrival
	// to its page; Result.StatusCode is the page's status. The code
	// exchange, OnConnect and an API key creation run inside it.
	OpCallback Operation = "callback"
	// OpExchange is the redemption of an authorization code by
	// [Client.Complete]: one token request.
	OpExchange Operation = "exchange"
	// OpRefresh is one refresh of a [TokenSource], shared by every caller
	// that waits for it: the store reads and writes, the wait for another
	// replica's lease (OpLeaseWait, inside it) and the token requests with
	// their retries. A [Client.Refresh] called directly is a token request
	// only.
	OpRefresh Operation = "refresh"
	// OpLeaseWait is the part of a refresh spent waiting while another
	// replica holds the connection's lease. Its outcome is "acquired"
	// (this replica refreshes) or "peer_refreshed" (the holder's token is
	// served), or a failure's.
	OpLeaseWait Operation = "lease_wait"
	// OpRevoke is one [Client.Revoke]: up to two revocation requests.
	OpRevoke Operation = "revoke"
	// OpCreateAPIKey is one API key creation ([Client.CreateAPIKey], or
	// [Client.EnsureAPIKey] when it asks Datadog).
	OpCreateAPIKey Operation = "create_api_key"
	// OpTokenRequest is one POST to a token endpoint, an exchange's or a
	// refresh's, each retry included. Its context is the request's.
	OpTokenRequest Operation = "token_request"
)

// Result is how an [Operation] ended. No field holds a secret, and none
// but Err an organization's name: Site, Outcome, StatusCode and Code are
// fit for span and metric attributes.
type Result struct {
	// Site is the Datadog site (the region, without an organization
	// subdomain) the operation addressed, or the zero Site if it failed
	// before one was known.
	Site Site

	// Outcome classifies the result, from a small fixed set: "ok";
	// "revoked" (a refresh found the grant gone); "network" (no answer,
	// or a timeout); "429"; "5xx"; "conflict" (the stored connection
	// changed meanwhile); "lease_held" (another replica held the lease
	// too long); "access_denied" (the user declined); "invalid_request"
	// (a callback this browser may not complete: state, session, age,
	// site, replay); "invalid_grant" (a code or verifier refused);
	// "invalid_client" (client ID, secret or redirect URI refused, or a
	// misconfiguration); "forbidden"; "api_key_exists"; "acquired" and
	// "peer_refreshed" (OpLeaseWait); "error" for anything else.
	Outcome string

	// StatusCode is the HTTP status of Datadog's last answer, or 0; for
	// OpCallback, the status of the page served.
	StatusCode int

	// Code is the OAuth error code Datadog answered with (RFC 6749 §5.2,
	// RFC 7009), "other" for a code outside those, or "".
	Code string

	// Err is the operation's error, or nil. Its text may quote Datadog's
	// error description and name the site with its organization
	// subdomain: keep it out of attributes that must not carry them.
	Err error
}

// begin starts op. The returned function ends it with the site it
// addressed (or the zero Site, then read from err) and its error. Without
// Telemetry both cost nothing.
func (c *Client) begin(ctx context.Context, op Operation) (context.Context, func(Site, error)) {
	if c.tel == nil {
		return ctx, noEnd
	}
	ctx, end := c.tel.Start(ctx, op)
	return ctx, func(s Site, err error) { end(c.result(op, s, err)) }
}

func noEnd(Site, error) {}

// observe runs f as op at site.
func observe[T any](ctx context.Context, c *Client, op Operation, site Site, f func(context.Context) (T, error)) (T, error) {
	ctx, end := c.begin(ctx, op)
	v, err := f(ctx)
	end(site, err)
	return v, err
}

// result describes how op ended with err.
func (c *Client) result(op Operation, site Site, err error) Result {
	r := Result{Site: c.siteOf(site, err), Outcome: outcome(op, err), Err: err}
	r.StatusCode, r.Code = answer(err)
	r.Code = oauthCode(r.Code)
	return r
}

// answer returns the status and OAuth code of the first *Error in err's
// tree that has either: a revoked connection's is its refused refresh's.
func answer(err error) (int, string) {
	if e, ok := err.(*Error); ok && (e.StatusCode != 0 || e.Code != "") {
		return e.StatusCode, e.Code
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return answer(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if status, code := answer(e); status != 0 || code != "" {
				return status, code
			}
		}
	}
	return 0, ""
}

// siteOf is site's region or, for the zero Site, that of the site err
// names.
func (c *Client) siteOf(site Site, err error) Site {
	if site.IsZero() {
		if e, ok := errors.AsType[*Error](err); ok && e.Site != "" {
			site, _ = c.ResolveSite(e.Site)
		}
	}
	return site.Region()
}

// connSite is conn's site, or the zero Site for no connection.
func connSite(conn *Connection) Site {
	if conn == nil {
		return Site{}
	}
	return conn.Site
}

// outcome classifies err for Result.Outcome.
func outcome(op Operation, err error) string {
	e, _ := errors.AsType[*Error](err)
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrRevoked), op == OpRefresh && errors.Is(err, ErrInvalidGrant):
		return "revoked"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrLeaseHeld):
		return "lease_held"
	case e != nil && e.StatusCode == http.StatusTooManyRequests:
		return "429"
	case e != nil && e.StatusCode >= 500:
		return "5xx"
	case errors.Is(err, ErrNetwork), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "network"
	case errors.Is(err, ErrAccessDenied):
		return "access_denied"
	case errors.Is(err, ErrStateMismatch), errors.Is(err, ErrStateExpired), errors.Is(err, ErrSiteMismatch),
		errors.Is(err, ErrUnknownSite), errors.Is(err, ErrInvalidCallback), errors.Is(err, ErrNoSession),
		errors.Is(err, ErrAuthorization):
		return "invalid_request"
	case errors.Is(err, ErrInvalidGrant):
		return "invalid_grant"
	case errors.Is(err, ErrInvalidClient), errors.Is(err, ErrInvalidConfig):
		return "invalid_client"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrAPIKeyExists):
		return "api_key_exists"
	}
	return "error"
}

// oauthCode keeps the registered OAuth error codes (RFC 6749 §4.1.2.1,
// §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1) and reduces any other to "other",
// so that an attribute built from it has few values and quotes nothing.
func oauthCode(code string) string {
	switch code {
	case "", "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
		"invalid_scope", "access_denied", "unsupported_response_type", "server_error", "temporarily_unavailable",
		"invalid_token", "insufficient_scope", "unsupported_token_type":
		return code
	}
	return "other"
}

// tokenPath is the path of every site's token endpoint.
const tokenPath = "/oauth2/v1/token"

// countTokenRequests wraps the credential-bearing client's transport so
// that each token POST is an OpTokenRequest; without Telemetry it returns
// rt as it is.
func (c *Client) countTokenRequests(rt http.RoundTripper) http.RoundTripper {
	if c.tel == nil {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &tokenRequests{c: c, base: rt}
}

type tokenRequests struct {
	c    *Client
	base http.RoundTripper
}

func (t *tokenRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL == nil || req.URL.Path != tokenPath {
		return t.base.RoundTrip(req)
	}
	ctx, end := t.c.tel.Start(req.Context(), OpTokenRequest)
	if ctx != req.Context() {
		req = req.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(req)
	r := Result{Site: t.c.apiSite(req.URL.Host), Outcome: "ok", Err: err}
	switch {
	case err != nil:
		r.Outcome = "network"
	case resp.StatusCode == http.StatusTooManyRequests:
		r.StatusCode, r.Outcome = resp.StatusCode, "429"
	case resp.StatusCode >= 500:
		r.StatusCode, r.Outcome = resp.StatusCode, "5xx"
	case resp.StatusCode >= 300:
		r.StatusCode, r.Outcome = resp.StatusCode, "error"
	default:
		r.StatusCode = resp.StatusCode
	}
	end(r)
	return resp, err
}

// apiSite is the site whose API host is host, or the zero Site.
func (c *Client) apiSite(host string) Site {
	host = strings.TrimSuffix(host, ":443")
	for _, table := range [2][]*siteInfo{builtInSites, c.extra} {
		for _, si := range table {
			if strings.EqualFold(si.api, host) {
				return Site{info: si}
			}
		}
	}
	return Site{}
}

// traced wraps the callback handler in OpCallback. Without Telemetry it
// is the handler itself.
func (h *Handlers) traced(next http.HandlerFunc) http.Handler {
	if h.c.tel == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, end := h.c.tel.Start(r.Context(), OpCallback)
		cw := &callbackWriter{ResponseWriter: w, status: http.StatusOK}
		next(cw, r.WithContext(ctx))
		res := h.c.result(OpCallback, cw.site, cw.err)
		res.StatusCode = cw.status
		if cw.err == nil && cw.status >= 400 {
			res.Outcome = "invalid_request" // a method other than GET; a 303 is SuccessURL
		}
		end(res)
	})
}

// callbackWriter records what OpCallback's result needs: the page's
// status, and the site and error the handler noted.
type callbackWriter struct {
	http.ResponseWriter
	status int
	site   Site
	err    error
}

func (w *callbackWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *callbackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteCallback records the site a callback connected or the error it
// failed with, when the callback is traced.
func noteCallback(w http.ResponseWriter, site Site, err error) {
	if cw, ok := w.(*callbackWriter); ok {
		if !site.IsZero() {
			cw.site = site
		}
		if err != nil {
			cw.err = err
		}
	}
}

// lazyOp is an operation started only once it is known to be one: a
// refresh once the stored token is found stale, a lease wait once the
// lease is found held. Its zero value has not started.
type lazyOp struct {
	c    *Client
	op   Operation
	done func(Result)
}

// start begins op, once, and returns the context it goes on in.
func (l *lazyOp) start(ctx context.Context, c *Client, op Operation) context.Context {
	if l.done != nil || c.tel == nil {
		return ctx
	}
	l.c, l.op = c, op
	ctx, l.done = c.tel.Start(ctx, op)
	return ctx
}

// take returns l and leaves it not started.
func (l *lazyOp) take() lazyOp {
	t := *l
	*l = lazyOp{}
	return t
}

// end ends the operation, if it started, with its site and error.
func (l *lazyOp) end(site Site, err error) {
	if l.done != nil {
		l.done(l.c.result(l.op, site, err))
	}
}

// endWait ends an OpLeaseWait, if it started, with acquire's results.
func (l *lazyOp) endWait(site Site, latest *Connection, err error) {
	if l.done == nil {
		return
	}
	r := l.c.result(l.op, site, err)
	if err == nil {
		r.Outcome = "acquired"
		if latest != nil {
			r.Outcome = "peer_refreshed"
		}
	}
	l.done(r)
}

// observer is what a TokenSource keeps for Telemetry and OnEvent, under
// its mutex: apart, so that a source without either stays small (a
// partner may hold one per connection, 100,000 of them). Its methods
// accept a nil observer.
type observer struct {
	health health // for OnEvent
	op     lazyOp // the running refresh's OpRefresh, once it needs a token
}

// observer returns a TokenSource's observer, or nil when c has neither
// Telemetry nor OnEvent.
func (c *Client) observer() *observer {
	if c.tel == nil && c.onEvent == nil {
		return nil
	}
	return &observer{}
}

// start begins the refresh's OpRefresh; see lazyOp.start.
func (o *observer) start(ctx context.Context, c *Client, op Operation) context.Context {
	if o == nil {
		return ctx
	}
	return o.op.start(ctx, c, op)
}

// take hands over the running refresh's operation; see lazyOp.take.
func (o *observer) take() lazyOp {
	if o == nil {
		return lazyOp{}
	}
	return o.op.take()
}

// note records how a refresh ended; see health.note.
func (o *observer) note(c *Client, id string, site Site, err error) Event {
	if o == nil {
		return Event{}
	}
	return o.health.note(c, id, site, err)
}
