package ddoauth

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth/internal/retry"
)

// TokenSource is the refreshing token source of one stored connection,
// safe for many goroutines and for many replicas sharing one Store.
//
// Reading a valid token takes no lock and touches no store. Within the
// refresh margin, callers keep getting the token they hold while one
// refresh runs in the background; a failed early refresh is tried again
// after a jittered backoff, not on every call. Only callers without a
// valid token wait.
//
// Across replicas, when the Store is also a [Leaser], a refresh takes the
// connection's lease, reads the connection again, and stops if another
// replica already refreshed; otherwise it spends the refresh token, writes
// the result conditionally under the lease's fence, and releases. A
// replica that finds the lease held waits for the holder's new version.
// So one token request is made per expiry across the fleet, and a refresh
// token that Datadog retired on rotation is never mistaken for a revoked
// grant.
type TokenSource struct {
	c     *Client
	store Store
	lease Leaser // nil: refreshes are shared within this process only
	id    string
	owner string // this source's identity on leases
	cur   atomic.Pointer[cached]

	mu       sync.Mutex
	call     *refreshCall
	unsaved  *Connection // refreshed but not saved: saved before any new refresh
	failures int         // early refreshes failed in a row
	retryAt  time.Time   // no early refresh before then
	obs      *observer   // nil without Config.Telemetry and Config.OnEvent
}

// cached is a token with its Authorization header value built once, so
// that authorizing a request allocates no string, and the one host the
// token may be sent to.
type cached struct {
	tok    *oauth2.Token
	bearer []string // read-only: shared by every request's header
	host   string   // api.<domain> of the connection's site; "" if unknown: sent nowhere
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
	ts := &TokenSource{c: c, store: store, id: id, owner: rand.Text(), obs: c.observer()}
	ts.lease, _ = store.(Leaser)
	return ts
}

// Token is TokenContext with context.Background, for [oauth2.TokenSource].
func (ts *TokenSource) Token() (*oauth2.Token, error) { return ts.TokenContext(context.Background()) }

// TokenContext returns a valid access token, refreshing it if it expires
// within the margin. ctx bounds only this caller's wait: the refresh runs
// on, for Config.RefreshTimeout at most, for the other callers.
//
// A refresh that fails on the network, with 429 or with a 5xx is retried
// a few times with backoff, honouring Retry-After. Errors wrap
// [ErrRevoked] when the grant is gone (the connection is then marked
// Revoked in the store and never refreshed again), [ErrNotFound],
// [ErrCorruptConnection], [ErrConflict] when the connection was replaced
// while it refreshed, [ErrLeaseHeld] when another replica held the
// refresh lease longer than a refresh may take (Config.RefreshTimeout),
// the store's errors, or those of [Client.Refresh].
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	c, err := ts.token(ctx, "")
	if err != nil {
		return nil, err
	}
	return c.tok, nil
}

// token returns a valid token other than the access token rejected.
func (ts *TokenSource) token(ctx context.Context, rejected string) (*cached, error) {
	if c := ts.cur.Load(); c != nil && ts.fresh(c.tok, rejected) {
		return c, nil
	}
	ts.mu.Lock()
	c := ts.cur.Load()
	if c != nil && ts.fresh(c.tok, rejected) {
		ts.mu.Unlock()
		return c, nil
	}
	now := ts.c.now()
	if c != nil && ts.valid(c.tok, rejected, now) {
		// Early: the caller keeps its token while one refresh runs.
		if ts.call == nil && !now.Before(ts.retryAt) {
			ts.start(ctx, rejected)
		}
		ts.mu.Unlock()
		return c, nil
	}
	call := ts.call
	if call == nil {
		call = ts.start(ctx, rejected)
	}
	ts.mu.Unlock()
	select {
	case <-call.done:
		if call.err != nil {
			if c := ts.cur.Load(); c != nil && ts.valid(c.tok, rejected, ts.c.now()) {
				return c, nil // a refresh started early failed; the token still works
			}
		}
		return call.cur, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start runs a refresh in the background; ts.mu is held.
func (ts *TokenSource) start(ctx context.Context, rejected string) *refreshCall {
	call := &refreshCall{done: make(chan struct{})}
	ts.call = call
	go ts.run(context.WithoutCancel(ctx), call, rejected)
	return call
}

// fresh reports whether t is valid beyond the refresh margin.
func (ts *TokenSource) fresh(t *oauth2.Token, rejected string) bool {
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

// valid reports whether t is unexpired and not the rejected one.
func (ts *TokenSource) valid(t *oauth2.Token, rejected string, now time.Time) bool {
	return t.AccessToken != "" && t.AccessToken != rejected && now.Before(t.Expiry)
}

func (ts *TokenSource) run(ctx context.Context, call *refreshCall, rejected string) {
	// Waiting for another replica's lease is bounded by the lease's life;
	// the refresh itself by RefreshTimeout.
	ctx, cancel := context.WithTimeout(ctx, ts.c.leaseTTL()+ts.c.refreshTimeout)
	defer cancel()
	conn, err := ts.refresh(ctx, rejected)
	ts.mu.Lock()
	switch {
	case err == nil:
		call.cur = &cached{tok: conn.Token, bearer: []string{"Bearer " + conn.Token.AccessToken}, host: ts.c.apiHost(conn.Site)}
		ts.cur.Store(call.cur)
		ts.failures, ts.retryAt = 0, time.Time{}
	case errors.Is(err, ErrRevoked):
		ts.cur.Store(nil) // the grant is gone: its tokens are not served
	default:
		ts.failures++
		ts.retryAt = ts.c.now().Add(retry.Backoff(ts.failures, earlyRetryBase, ts.c.refreshMargin/2))
	}
	call.err = err
	ts.call = nil
	op, ev := ts.obs.take(), ts.obs.note(ts.c, ts.id, connSite(conn), err)
	ts.mu.Unlock()
	// The event and the operation's end come before the waiting callers
	// wake, so that what they see (an event, a span) is complete.
	ts.c.emit(ctx, ev)
	op.end(connSite(conn), err)
	close(call.done)
}

// earlyRetryBase is the first pause after a failed early refresh.
const earlyRetryBase = 2 * time.Second

// refresh runs in one goroutine at a time per TokenSource. It returns the
// connection whose token is to be served, so that its site travels with it.
func (ts *TokenSource) refresh(ctx context.Context, rejected string) (*Connection, error) {
	if next := ts.unsaved; next != nil {
		err := ts.store.Save(ctx, ts.id, next)
		switch {
		case err == nil:
			ts.unsaved = nil
			ts.release(ctx)
			if ts.valid(next.Token, rejected, ts.c.now()) {
				return next, nil
			}
		case errors.Is(err, ErrConflict):
			// The connection was replaced (re-authorized, disconnected)
			// since this refresh read it: the newer one wins.
			ts.unsaved = nil
			ts.c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: a refreshed token was not saved: the connection changed meanwhile",
				slog.String("site", next.Site.String()))
		default:
			return nil, storeError("save connection", next.Site, err)
		}
	}
	conn, err := ts.load(ctx)
	if err != nil {
		return nil, err
	}
	if ts.fresh(conn.Token, rejected) {
		return conn, nil // another replica refreshed it
	}
	ctx = ts.obs.start(ctx, ts.c, OpRefresh)
	fence, latest, err := ts.acquire(ctx, conn, rejected)
	if err != nil || latest != nil {
		return latest, err
	}
	defer ts.releaseUnlessUnsaved(ctx)
	ctx, cancel := context.WithTimeout(ctx, ts.c.refreshTimeout)
	defer cancel()
	// Under the lease: read again, since the last holder may have
	// written just before this one took over.
	if conn, err = ts.load(ctx); err != nil {
		return nil, err
	}
	if ts.fresh(conn.Token, rejected) {
		return conn, nil
	}
	return ts.spend(ctx, conn, fence, rejected)
}

// releaseUnlessUnsaved ends the lease after a refresh. A refresh kept
// unsaved keeps its lease until it expires, so that no replica spends the
// refresh token this one already spent.
func (ts *TokenSource) releaseUnlessUnsaved(ctx context.Context) {
	if ts.unsaved == nil {
		ts.release(ctx)
	}
}

// spend refreshes conn (read under the lease with fence) and saves the
// result conditionally.
func (ts *TokenSource) spend(ctx context.Context, conn *Connection, fence int64, rejected string) (*Connection, error) {
	next, err := ts.refreshWithRetry(ctx, conn)
	if errors.Is(err, ErrInvalidGrant) {
		// With rotation, another replica (one without the lease, or whose
		// lease expired) may have spent the refresh token this one sent:
		// only the stored connection tells a revoked grant from a lost race.
		latest, lerr := ts.store.Load(ctx, ts.id)
		switch {
		case lerr != nil || latest.Version == conn.Version:
		case latest.Revoked:
			return nil, revokedError(latest.Site, err)
		case ts.valid(latest.Token, rejected, ts.c.now()):
			return latest, nil
		case latest.Token != nil && latest.Token.RefreshToken != conn.Token.RefreshToken:
			conn = latest
			next, err = ts.refreshWithRetry(ctx, conn)
		}
	}
	if errors.Is(err, ErrInvalidGrant) {
		// Revoked is written only over the version whose refresh token
		// Datadog refused: a newer version wins.
		gone := *conn
		gone.Revoked, gone.Fence = true, fence
		if serr := ts.store.Save(ctx, ts.id, &gone); errors.Is(serr, ErrConflict) {
			if latest, lerr := ts.load(ctx); lerr == nil && ts.valid(latest.Token, rejected, ts.c.now()) {
				return latest, nil
			}
		} else if serr != nil {
			ts.c.log.LogAttrs(ctx, slog.LevelError, "ddoauth: marking a revoked connection failed", slog.String("error", serr.Error()))
		}
		return nil, revokedError(conn.Site, err)
	}
	if err != nil {
		return nil, err
	}
	next.Version, next.Fence = conn.Version, fence
	if err := ts.store.Save(ctx, ts.id, next); err != nil {
		if errors.Is(err, ErrConflict) {
			// Replaced meanwhile: serve the newer connection if it has a
			// token; this refresh's grant belongs to a connection gone.
			if latest, lerr := ts.load(ctx); lerr == nil && ts.valid(latest.Token, rejected, ts.c.now()) {
				return latest, nil
			}
			return nil, storeError("save connection", next.Site, err)
		}
		// With rotation the old refresh token is already dead: retry while
		// the lease keeps other replicas from spending it, then keep it.
		if err = ts.keep(ctx, next, err); err == nil {
			return next, nil
		}
		if !errors.Is(err, ErrConflict) {
			ts.unsaved = next
		}
		return nil, storeError("save connection", next.Site, err)
	}
	return next, nil
}

// keep retries writing next, which the store failed to save, for as long
// as a lease lasts, renewing the lease (and next.Fence) before each try.
// It returns nil once next is written, or the last error, err at first.
func (ts *TokenSource) keep(ctx context.Context, next *Connection, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ts.c.leaseTTL())
	defer cancel()
	for attempt := 1; ; attempt++ {
		if serr := retry.Sleep(ctx, retry.Backoff(attempt, keepRetryBase, keepRetryMax)); serr != nil {
			return err
		}
		if ts.lease != nil {
			if fence, lerr := ts.lease.Lease(ctx, connectionLease(ts.id), ts.owner, ts.c.leaseTTL()); lerr == nil {
				next.Fence = fence
			}
		}
		if err = ts.store.Save(ctx, ts.id, next); err == nil || errors.Is(err, ErrConflict) {
			return err
		}
	}
}

// How often keep tries a save again.
const (
	keepRetryBase = 50 * time.Millisecond
	keepRetryMax  = time.Second
)

// acquire takes the connection's lease and returns its fence. While
// another replica holds it, acquire polls the store and returns the
// holder's newer connection (latest) once it is there, or takes the
// lease once it is free. Without a Leaser it returns at once.
func (ts *TokenSource) acquire(ctx context.Context, conn *Connection, rejected string) (fence int64, latest *Connection, err error) {
	if ts.lease == nil {
		return 0, nil, nil
	}
	ttl := ts.c.leaseTTL()
	var w lazyOp
	defer func() { w.endWait(conn.Site, latest, err) }()
	for wait := 1; ; wait++ {
		fence, err := ts.lease.Lease(ctx, connectionLease(ts.id), ts.owner, ttl)
		if err == nil {
			return fence, nil, nil
		}
		if !errors.Is(err, ErrLeaseHeld) {
			return 0, nil, storeError("lease connection", conn.Site, err)
		}
		ctx = w.start(ctx, ts.c, OpLeaseWait)
		if err := retry.Sleep(ctx, retry.Backoff(wait, leasePollBase, leasePollMax)); err != nil {
			return 0, nil, &Error{Op: "refresh", Site: conn.Site.String(), Err: err, also: []error{ErrLeaseHeld},
				Description: "another replica holds the connection's refresh lease"}
		}
		next, err := ts.load(ctx)
		if err != nil {
			return 0, nil, err
		}
		if next.Version != conn.Version && ts.fresh(next.Token, rejected) {
			return 0, next, nil
		}
	}
}

// How often a replica waiting on another's refresh reads the store.
const (
	leasePollBase = 20 * time.Millisecond
	leasePollMax  = 500 * time.Millisecond
)

// releaseTimeout bounds releasing a lease; a lease not released expires.
const releaseTimeout = 5 * time.Second

// release ends this source's lease, if it holds one. A failure only
// delays the next refresh until the lease expires.
func (ts *TokenSource) release(ctx context.Context) {
	if ts.lease == nil {
		return
	}
	// Released even when the refresh ran out of time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := ts.lease.Release(ctx, connectionLease(ts.id), ts.owner); err != nil {
		ts.c.log.LogAttrs(ctx, slog.LevelWarn, "ddoauth: releasing a refresh lease failed", slog.String("error", err.Error()))
	}
}

func revokedError(site Site, cause error) error {
	return &Error{Op: "refresh", Site: site.String(), Err: ErrRevoked, also: []error{cause}, Hint: hint(ErrInvalidGrant, "", "")}
}

// storeError wraps a store's error for op, keeping a *Error as it is.
func storeError(op string, site Site, err error) error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return &Error{Op: op, Site: site.String(), Err: err}
}

// load reads the connection and checks it can be refreshed.
func (ts *TokenSource) load(ctx context.Context) (*Connection, error) {
	conn, err := ts.store.Load(ctx, ts.id)
	if err != nil {
		return nil, storeError("load connection", Site{}, err)
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
		var wait time.Duration
		if e, ok := errors.AsType[*Error](err); ok {
			wait = e.wait()
		}
		d, ok := ts.c.retry.Delay(ctx, attempt, wait)
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
