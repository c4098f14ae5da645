package ddoauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth/internal/retry"
)

// defaultTokenTTL is used when a token response has no expires_in.
// Datadog documents one hour for access tokens; assuming it (rather than
// x/oauth2's "never expires" for a zero Expiry) makes the token refresh
// on time instead of failing with 401s.
const defaultTokenTTL = time.Hour

// Connection is a customer's Datadog organization connected to the
// partner: the site it lives in, its tokens and the scopes granted. It
// marshals to JSON for storage. Format keeps tokens out of fmt output.
type Connection struct {
	Site    Site          `json:"site"` // the region, without organization subdomain
	Token   *oauth2.Token `json:"token"`
	Scopes  []string      `json:"scopes,omitempty"`
	Created time.Time     `json:"created"`

	// Revoked is set when Datadog answered invalid_grant to a refresh:
	// the customer must authorize again.
	Revoked bool `json:"revoked,omitempty"`

	// Version is the stored version this copy was read at, set by
	// [Store.Load] and [Store.Save]; zero for a connection never saved.
	// Save writes only over that version.
	Version int64 `json:"-"`

	// Fence is the fence of the lease ([Leaser]) under which this copy is
	// written, or zero. Stores keep the highest written and refuse a
	// write with a lower one.
	Fence int64 `json:"-"`
}

func newConnection(site Site, tok *oauth2.Token, now time.Time) *Connection {
	// x/oauth2 stamps Expiry with the wall clock; restamp it with ours.
	ttl := defaultTokenTTL
	if tok.ExpiresIn > 0 {
		ttl = time.Duration(tok.ExpiresIn) * time.Second
	}
	tok.Expiry = now.Add(ttl)
	var scopes []string
	if s, ok := tok.Extra("scope").(string); ok {
		scopes = strings.Fields(s)
	}
	return &Connection{Site: site, Token: tok, Scopes: scopes, Created: now}
}

// HasScope reports whether scope was granted.
func (c *Connection) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// LogValue logs c without its tokens.
func (c Connection) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("site", c.Site.String()), slog.String("scopes", strings.Join(c.Scopes, " ")),
		slog.Time("created", c.Created), slog.Bool("revoked", c.Revoked)}
	if c.Token != nil {
		attrs = append(attrs, slog.Time("expiry", c.Token.Expiry))
	}
	return slog.GroupValue(attrs...)
}

// Format prints c without its tokens, for every verb.
func (c Connection) Format(f fmt.State, verb rune) {
	var access, refresh, expiry string
	if c.Token != nil {
		access, refresh, expiry = redacted(c.Token.AccessToken), redacted(c.Token.RefreshToken), c.Token.Expiry.Format(time.RFC3339)
	}
	fmt.Fprintf(f, "ddoauth.Connection{Site:%q Scopes:%q AccessToken:%s RefreshToken:%s Expiry:%s Created:%s Revoked:%t Version:%d}",
		c.Site.String(), c.Scopes, access, refresh, expiry, c.Created.Format(time.RFC3339), c.Revoked, c.Version)
}

// Refresh exchanges conn's refresh token for a new access token at conn's
// site and returns the updated Connection; conn is not modified. When
// Datadog sends a new refresh token it replaces the old one, which may no
// longer work: persist the result before using it.
//
// Errors wrap [ErrInvalidGrant] when the grant was revoked (the customer
// must authorize again), [ErrInvalidClient], [ErrServer], [ErrUnknownSite]
// for a connection whose site the client does not know, or a network error.
func (c *Client) Refresh(ctx context.Context, conn *Connection) (*Connection, error) {
	if conn == nil || conn.Token == nil || conn.Token.RefreshToken == "" {
		return nil, &Error{Op: "refresh", Err: ErrInvalidGrant, Description: "the connection has no refresh token"}
	}
	site, err := c.connectionSite(conn.Site)
	if err != nil {
		return nil, err
	}
	secret, err := c.clientSecret(ctx)
	if err != nil {
		return nil, err
	}
	start := c.now()
	rt := conn.Token.RefreshToken
	src := c.oauth2Config(site, "", secret).TokenSource(context.WithValue(ctx, oauth2.HTTPClient, c.hc), &oauth2.Token{RefreshToken: rt})
	tok, err := src.Token()
	if err != nil {
		e := c.tokenError("refresh", site, err, secret, rt)
		e.Hint = hint(e.Err, c.clientID, c.redirectURL)
		c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: token refresh failed",
			slog.String("site", site.Name()), slog.Int("status", e.StatusCode), slog.String("error", e.Error()))
		return nil, e
	}
	next := newConnection(site, tok, start)
	next.Created = conn.Created
	if next.Scopes == nil {
		next.Scopes = conn.Scopes
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "ddoauth: token refresh", slog.String("site", site.Name()),
		slog.Bool("rotated", tok.RefreshToken != rt))
	return next, nil
}

// Revoke revokes conn's grant at its site (RFC 7009): the refresh token,
// then the access token. Datadog answers 2xx even for unknown tokens, so
// any 2xx is success. Anything else, a 503 in particular, fails with an
// error wrapping [ErrNotRevoked] and the cause ([ErrServer], a network
// error, ...): the token must be presumed valid and the call retried.
// Revoke does not retry by itself. Pass the stored connection, read
// last: with rotating refresh tokens an older copy's refresh token is
// already dead, and revoking it succeeds without ending the grant.
func (c *Client) Revoke(ctx context.Context, conn *Connection) error {
	if conn == nil || conn.Token == nil || conn.Token.AccessToken == "" && conn.Token.RefreshToken == "" {
		return &Error{Op: "revoke", Err: ErrNotRevoked, Description: "the connection has no token"}
	}
	site, err := c.connectionSite(conn.Site)
	if err != nil {
		return err
	}
	secret, err := c.clientSecret(ctx)
	if err != nil {
		return err
	}
	for _, t := range [...]struct{ value, hint string }{
		{conn.Token.RefreshToken, "refresh_token"},
		{conn.Token.AccessToken, "access_token"},
	} {
		if t.value == "" {
			continue
		}
		form := url.Values{
			"token":           {t.value},
			"token_type_hint": {t.hint},
			"client_id":       {c.clientID},
			"client_secret":   {secret},
		}
		status, header, body, err := c.do(ctx, http.MethodPost, site.RevokeURL(), form, "")
		if err != nil {
			e := transportError("revoke", site, ErrNotRevoked, err)
			e.Hint = "the token must be presumed valid until a revocation succeeds; retry"
			return e
		}
		if status < 200 || status > 299 {
			e := responseError("revoke", site, status, header, body, secret, t.value)
			e.Err, e.also = ErrNotRevoked, []error{e.Err}
			e.Hint = "the token must be presumed valid until a revocation succeeds; retry"
			c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: revocation failed", slog.String("site", site.Name()), slog.Int("status", status))
			return e
		}
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "ddoauth: revoked", slog.String("site", site.Name()))
	return nil
}

// refreshTimeout bounds a shared refresh, retries included, which runs on
// after the caller that started it gives up.
const refreshTimeout = time.Minute

// TokenSource is the refreshing token source of one stored connection.
// Many goroutines may call it at once: a valid token is served without a
// lock, and callers that find the token expiring share one refresh, whose
// result is saved to the Store before anyone receives it.
type TokenSource struct {
	c     *Client
	store Store
	id    string
	cur   atomic.Pointer[cached]

	mu      sync.Mutex
	call    *refreshCall
	unsaved *Connection // refreshed but not yet saved: never refreshed again
}

// cached is a token with its Authorization header value built once, so
// that authorizing a request allocates no string.
type cached struct {
	tok    *oauth2.Token
	bearer []string // read-only: shared by every request's header
}

type refreshCall struct {
	done chan struct{}
	cur  *cached
	err  error
}

// TokenSource returns the token source of the connection saved in store
// under id. It refreshes Config.RefreshMargin before expiry, at the
// connection's site. Make one per connection and keep it: its cache and
// the sharing of refreshes live in it.
func (c *Client) TokenSource(store Store, id string) *TokenSource {
	return &TokenSource{c: c, store: store, id: id}
}

// Token is TokenContext with context.Background, for [oauth2.TokenSource].
func (ts *TokenSource) Token() (*oauth2.Token, error) { return ts.TokenContext(context.Background()) }

// TokenContext returns a valid access token, refreshing it if it expires
// within the margin. ctx bounds only this caller's wait: the refresh runs
// on for the other callers if this one gives up.
//
// A refresh that fails on the network, with 429 or with a 5xx is retried
// a few times with backoff, honouring Retry-After. Errors wrap
// [ErrRevoked] when the grant is gone (the connection is then marked
// Revoked in the store and never refreshed again), [ErrNotFound],
// [ErrCorruptConnection], the store's errors, or those of [Client.Refresh].
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	c, err := ts.token(ctx, "")
	if err != nil {
		return nil, err
	}
	return c.tok, nil
}

// token returns a valid token other than the access token rejected.
func (ts *TokenSource) token(ctx context.Context, rejected string) (*cached, error) {
	if c := ts.cur.Load(); c != nil && ts.usable(c.tok, rejected) {
		return c, nil
	}
	ts.mu.Lock()
	if c := ts.cur.Load(); c != nil && ts.usable(c.tok, rejected) {
		ts.mu.Unlock()
		return c, nil
	}
	call := ts.call
	if call == nil {
		call = &refreshCall{done: make(chan struct{})}
		ts.call = call
		go ts.run(context.WithoutCancel(ctx), call, rejected)
	}
	ts.mu.Unlock()
	select {
	case <-call.done:
		if call.err != nil && !errors.Is(call.err, ErrRevoked) {
			// A refresh ahead of expiry failed; the token still works.
			if c := ts.cur.Load(); c != nil && c.tok.AccessToken != rejected && ts.c.now().Before(c.tok.Expiry) {
				return c, nil
			}
		}
		return call.cur, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (ts *TokenSource) usable(t *oauth2.Token, rejected string) bool {
	if t.AccessToken == "" || t.AccessToken == rejected {
		return false
	}
	// A margin as long as the token's life would refresh on every call.
	margin := ts.c.refreshMargin
	if half := time.Duration(t.ExpiresIn) * time.Second / 2; t.ExpiresIn > 0 && half < margin {
		margin = half
	}
	return ts.c.now().Add(margin).Before(t.Expiry)
}

func (ts *TokenSource) run(ctx context.Context, call *refreshCall, rejected string) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	tok, err := ts.refresh(ctx, rejected)
	ts.mu.Lock()
	if err == nil {
		call.cur = &cached{tok: tok, bearer: []string{"Bearer " + tok.AccessToken}}
		ts.cur.Store(call.cur)
	}
	call.err = err
	ts.call = nil
	ts.mu.Unlock()
	close(call.done)
}

// refresh runs in one goroutine at a time per TokenSource.
func (ts *TokenSource) refresh(ctx context.Context, rejected string) (*oauth2.Token, error) {
	if next := ts.unsaved; next != nil {
		if err := ts.store.Save(ctx, ts.id, next); err != nil {
			return nil, &Error{Op: "save connection", Site: next.Site.String(), Err: err}
		}
		ts.unsaved = nil
		if ts.usable(next.Token, rejected) {
			return next.Token, nil
		}
	}
	conn, err := ts.load(ctx)
	if err != nil {
		return nil, err
	}
	if conn.Token != nil && ts.usable(conn.Token, rejected) {
		return conn.Token, nil // another process refreshed it
	}
	next, err := ts.refreshWithRetry(ctx, conn)
	if errors.Is(err, ErrInvalidGrant) {
		// With rotation, another replica may have refreshed meanwhile and
		// spent the refresh token this one sent: only the stored token
		// tells a revoked grant from a lost race.
		latest, lerr := ts.load(ctx)
		switch {
		case lerr != nil:
			return nil, err
		case latest.Token.RefreshToken != conn.Token.RefreshToken:
			if ts.usable(latest.Token, rejected) {
				return latest.Token, nil
			}
			conn = latest
			next, err = ts.refreshWithRetry(ctx, conn)
		}
	}
	if errors.Is(err, ErrInvalidGrant) {
		conn.Revoked = true
		if serr := ts.store.Save(ctx, ts.id, conn); serr != nil {
			ts.c.log.LogAttrs(ctx, slog.LevelError, "ddoauth: marking a revoked connection failed", slog.String("error", serr.Error()))
		}
		return nil, &Error{Op: "refresh", Site: conn.Site.String(), Err: ErrRevoked, also: []error{err}, Hint: hint(ErrInvalidGrant, "", "")}
	}
	if err != nil {
		return nil, err
	}
	if err := ts.store.Save(ctx, ts.id, next); err != nil {
		// Keep it: with rotation the old refresh token is already dead.
		ts.unsaved = next
		return nil, &Error{Op: "save connection", Site: next.Site.String(), Err: err}
	}
	return next.Token, nil
}

// load reads the connection and checks it can be refreshed.
func (ts *TokenSource) load(ctx context.Context) (*Connection, error) {
	conn, err := ts.store.Load(ctx, ts.id)
	if err != nil {
		if _, ok := errors.AsType[*Error](err); ok {
			return nil, err
		}
		return nil, &Error{Op: "load connection", Err: err}
	}
	if conn.Revoked {
		return nil, &Error{Op: "refresh", Site: conn.Site.String(), Err: ErrRevoked}
	}
	if conn.Site.IsZero() || conn.Token == nil || conn.Token.RefreshToken == "" {
		return nil, &Error{Op: "load connection", Site: conn.Site.String(), Err: ErrCorruptConnection}
	}
	return conn, nil
}

func (ts *TokenSource) refreshWithRetry(ctx context.Context, conn *Connection) (*Connection, error) {
	for attempt := 1; ; attempt++ {
		next, err := ts.c.Refresh(ctx, conn)
		if err == nil || !retryable(err) {
			return next, err
		}
		var retryAfter time.Duration
		if e, ok := errors.AsType[*Error](err); ok {
			retryAfter = e.RetryAfter
		}
		d, ok := ts.c.retry.Delay(attempt, retryAfter)
		if !ok {
			return nil, err
		}
		ts.c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: retrying token refresh", slog.Int("attempt", attempt),
			slog.Duration("delay", d), slog.String("error", err.Error()))
		if serr := retry.Sleep(ctx, d); serr != nil {
			return nil, err
		}
	}
}

// retryable reports whether a failed refresh may be sent again: network
// errors, 429 and 5xx. A refresh that Datadog answered otherwise, and any
// authorization code, never is.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		return false
	}
	switch {
	case e.StatusCode == http.StatusTooManyRequests, e.StatusCode >= 500:
		return true
	case e.StatusCode == 0 && !errors.Is(e, ErrServer):
		_, isNet := errors.AsType[net.Error](err)
		_, isURL := errors.AsType[*url.Error](err)
		return isNet || isURL || errors.Is(err, io.ErrUnexpectedEOF)
	}
	return false
}

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
