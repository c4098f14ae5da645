package storetest

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ddoauth/ddoauth"
)

// OutageConfig says how to get stores on a server of the test's own, and
// how to take that server away. Each function other than Open is
// optional: a nil one skips its check.
type OutageConfig struct {
	// Open returns a store with no records on the server that Restart and
	// Stop act on. It is called while the server runs, several times per
	// check (each call of a check gets a store of its own, so that an
	// earlier call's failures cannot make a client's pool fail fast). It
	// is required.
	Open func(t *testing.T) Store

	// Restart stops the server and starts it again at the same address,
	// keeping what it had acknowledged. It returns once the server
	// answers.
	Restart func(t *testing.T)

	// Stop stops the server for the rest of the test. The checks run
	// Restart's check first, so Restart and Stop may act on one server.
	Stop func(t *testing.T)

	// FailsFast says that the store gives up on a stopped server at once
	// (its client does not dial again until the call's deadline): the
	// Stopped check then requires each call to fail well before its
	// deadline rather than by it.
	FailsFast bool

	// Dial returns a store whose server is at addr, a TCP address on
	// 127.0.0.1 that accepts connections and never answers. The store
	// is never used before its call.
	Dial func(t *testing.T, addr string) Store
}

// Timing of the outage checks.
const (
	// readTimeout bounds each read of the reader that runs through a
	// restart.
	readTimeout = 500 * time.Millisecond
	// callDeadline is the deadline of a call to a server that is stopped
	// or hangs: the call must return by it, give or take callSlack.
	callDeadline = 250 * time.Millisecond
	callSlack    = time.Second
	// fastDeadline is the deadline of a call to a stopped server by a
	// store that fails fast: the call must return before fastLimit.
	fastDeadline = 5 * time.Second
	fastLimit    = 4 * time.Second
	// cancelAfter is how long a call to a stopped server waits before its
	// context is cancelled; it must then return within cancelSlack.
	cancelAfter = 50 * time.Millisecond
	cancelSlack = time.Second
)

// TestOutage checks a store whose server goes away, each as a subtest of
// t:
//
//   - Restart (with cfg.Restart): a reader running through a restart of
//     the server gets either the saved record or an error that is a
//     *ddoauth.Error and wraps neither ddoauth.ErrNotFound nor
//     ddoauth.ErrCorruptConnection. Once the server is back, the first
//     call finds the connection, the API key and the lease as they were,
//     and the lease's fences and the versions go on growing.
//   - Stopped (with cfg.Stop): every method, on a store that has been
//     used and on one that has not, fails by its deadline (well before
//     it, with cfg.FailsFast) with a *ddoauth.Error that wraps none of
//     the contract's sentinels and, if the deadline passed, wraps
//     context.DeadlineExceeded; and it returns within a second of its
//     context's cancellation, saying so.
//   - Hung (with cfg.Dial): every method, on a store whose server accepts
//     connections and never answers, returns at its context's deadline
//     with a *ddoauth.Error that wraps context.DeadlineExceeded and none
//     of the contract's sentinels.
//
// A store meets these by mapping every failure of its client to a
// *ddoauth.Error that wraps the client's error, and by passing the
// call's context to its client; it need not retry.
func TestOutage(t *testing.T, cfg OutageConfig) {
	t.Helper()
	if cfg.Open == nil {
		t.Fatal("storetest: OutageConfig.Open is nil")
	}
	open := func(t *testing.T) Store {
		t.Helper()
		s := cfg.Open(t)
		if s == nil {
			t.Fatal("storetest: OutageConfig.Open returned nil")
		}
		return s
	}
	if cfg.Restart != nil {
		t.Run("Restart", func(t *testing.T) { testRestart(t, open(t), cfg.Restart) })
	}
	if cfg.Stop != nil {
		t.Run("Stopped", func(t *testing.T) { testStopped(t, open, cfg.Stop, cfg.FailsFast) })
	}
	if cfg.Dial != nil {
		t.Run("Hung", func(t *testing.T) { testHung(t, cfg.Dial) })
	}
}

func testRestart(t *testing.T, s Store, restart func(*testing.T)) {
	ctx, cancel := context.WithTimeout(t.Context(), checkTimeout)
	defer cancel()
	const id, lease = "tenant-1", "connection/tenant-1"
	conn, key := connection(t, 1), apiKey(t, 1)
	mustSave(t, ctx, s, id, conn, "before the restart")
	if err := s.SaveAPIKey(ctx, id, key); err != nil {
		t.Fatalf("SaveAPIKey before the restart: %v", err)
	}
	fence, err := s.Lease(ctx, lease, "replica-a", longTTL)
	if err != nil {
		t.Fatalf("Lease before the restart: %v", err)
	}

	// A reader that runs through the restart: its calls may fail while
	// the server is down, but never with a wrong answer.
	stop := make(chan struct{})
	var reads, failures atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			rctx, cancel := context.WithTimeout(ctx, readTimeout)
			got, err := s.Load(rctx, id)
			cancel()
			reads.Add(1)
			if err != nil {
				failures.Add(1)
				wantOutageError(t, "Load during the restart", err, ddoauth.ErrNotFound, ddoauth.ErrCorruptConnection)
				continue
			}
			if got.Version != conn.Version {
				t.Errorf("Load during the restart: Version %d, want %d", got.Version, conn.Version)
			}
		}
	})
	restart(t)
	close(stop)
	wg.Wait()
	t.Logf("%d reads during the restart, %d failed", reads.Load(), failures.Load())

	checkStored(t, ctx, s, id, conn, conn.Version, "after the restart")
	gotKey, err := s.LoadAPIKey(ctx, id)
	if err != nil {
		t.Errorf("LoadAPIKey after the restart: %v", err)
	} else {
		checkAPIKey(t, "LoadAPIKey after the restart", key, gotKey)
	}

	// The lease survived, and the fences and versions go on from where
	// they were.
	_, err = s.Lease(ctx, lease, "replica-b", longTTL)
	wantErr(t, "Lease by another owner after the restart", err, ddoauth.ErrLeaseHeld)
	again, err := s.Lease(ctx, lease, "replica-a", longTTL)
	if err != nil {
		t.Fatalf("Lease by its holder after the restart: %v, want the lease", err)
	}
	if again <= fence {
		t.Errorf("Lease after the restart: fence %d, want one larger than %d, given before", again, fence)
	}
	update := connection(t, 2)
	update.Version, update.Fence = conn.Version, again
	if err := s.Save(ctx, id, update); err != nil {
		t.Fatalf("Save under the lease after the restart: %v", err)
	}
	if update.Version <= conn.Version {
		t.Errorf("Save after the restart: Version %d, want one larger than %d, given before", update.Version, conn.Version)
	}
}

// outageCalls returns a store's methods, for the checks that every one
// fails alike.
func outageCalls(t *testing.T) []outageCall {
	conn := connection(t, 1)
	conn.Version = 1
	key := apiKey(t, 2)
	return []outageCall{
		{"Load", func(ctx context.Context, s Store) error { _, err := s.Load(ctx, "tenant-1"); return err }},
		{"Save", func(ctx context.Context, s Store) error { c := *conn; return s.Save(ctx, "tenant-1", &c) }},
		{"Delete", func(ctx context.Context, s Store) error { return s.Delete(ctx, "tenant-1", 1) }},
		{"Lease", func(ctx context.Context, s Store) error {
			_, err := s.Lease(ctx, "connection/tenant-1", "replica-a", longTTL)
			return err
		}},
		{"Release", func(ctx context.Context, s Store) error { return s.Release(ctx, "connection/tenant-1", "replica-a") }},
		{"LoadAPIKey", func(ctx context.Context, s Store) error { _, err := s.LoadAPIKey(ctx, "tenant-1"); return err }},
		{"SaveAPIKey", func(ctx context.Context, s Store) error { return s.SaveAPIKey(ctx, "tenant-2", key) }},
		{"Use", func(ctx context.Context, s Store) error {
			_, err := s.Use(ctx, "state", time.Now().Add(longTTL))
			return err
		}},
	}
}

type outageCall struct {
	name string
	call func(context.Context, Store) error
}

var sentinels = []error{ddoauth.ErrNotFound, ddoauth.ErrConflict, ddoauth.ErrLeaseHeld, ddoauth.ErrCorruptConnection}

func testStopped(t *testing.T, open func(*testing.T) Store, stop func(*testing.T), failsFast bool) {
	// Stores are opened while the server runs: one used by every call,
	// whose client holds a connection the stop cuts, and one per call
	// that the check has not used, so that an earlier call's failures
	// cannot make its client fail fast.
	calls := outageCalls(t)
	used := open(t)
	mustSave(t, t.Context(), used, "tenant-1", connection(t, 1), "before the stop")
	fresh := make([]Store, len(calls))
	for i := range calls {
		fresh[i] = open(t)
	}
	stop(t)

	for i, c := range calls {
		for _, v := range []struct {
			name string
			s    Store
		}{{"used", used}, {"fresh", fresh[i]}} {
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				deadline, limit := callDeadline, callDeadline+callSlack
				if failsFast {
					deadline, limit = fastDeadline, fastLimit
				}
				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				defer cancel()
				start := time.Now()
				err := c.call(ctx, v.s)
				took := time.Since(start)
				if err == nil {
					t.Fatalf("%s on a stopped server: no error", c.name)
				}
				if took >= limit {
					t.Errorf("%s on a stopped server took %v, want less than %v (its deadline was %v)", c.name, took, limit, deadline)
				}
				if took >= deadline && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s on a stopped server returned after its deadline, %v, with %v, want an error wrapping context.DeadlineExceeded", c.name, deadline, err)
				}
				wantOutageError(t, c.name+" on a stopped server", err, sentinels...)

				ctx, cancel = context.WithCancel(t.Context())
				timer := time.AfterFunc(cancelAfter, cancel)
				defer timer.Stop()
				start = time.Now()
				err = c.call(ctx, v.s)
				took = time.Since(start)
				if err == nil {
					t.Fatalf("%s on a stopped server, cancelled: no error", c.name)
				}
				if took >= cancelSlack {
					t.Errorf("%s on a stopped server, cancelled after %v, took %v, want less than %v", c.name, cancelAfter, took, cancelSlack)
				}
				if took >= cancelAfter && !errors.Is(err, context.Canceled) {
					t.Errorf("%s on a stopped server, cancelled after %v, returned after %v with %v, want an error wrapping context.Canceled", c.name, cancelAfter, took, err)
				}
			})
		}
	}
}

func testHung(t *testing.T, dial func(*testing.T, string) Store) {
	addr := hungServer(t)
	for _, c := range outageCalls(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := dial(t, addr)
			if s == nil {
				t.Fatal("storetest: OutageConfig.Dial returned nil")
			}
			ctx, cancel := context.WithTimeout(t.Context(), callDeadline)
			defer cancel()
			start := time.Now()
			err := c.call(ctx, s)
			took := time.Since(start)
			if took >= callDeadline+callSlack {
				t.Errorf("%s on a server that hangs took %v, want its deadline, %v, give or take %v", c.name, took, callDeadline, callSlack)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s on a server that hangs: %v, want an error wrapping context.DeadlineExceeded", c.name, err)
			}
			wantOutageError(t, c.name+" on a server that hangs", err, sentinels...)
		})
	}
}

// hungServer listens on 127.0.0.1 for the rest of t, accepts every
// connection and never answers, like a server that is stuck. It returns
// its address.
func hungServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("storetest: listen: %v", err)
	}
	var conns []net.Conn
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Held open and unread: the client's writes fill the
			// buffers, and no answer comes.
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-accepting
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// wantOutageError reports an err that is nil, is not a *ddoauth.Error, or
// wraps one of sentinels: a failure of the server is none of the
// contract's answers.
func wantOutageError(t *testing.T, what string, err error, sentinels ...error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one", what)
		return
	}
	if e := (*ddoauth.Error)(nil); !errors.As(err, &e) {
		t.Errorf("%s: %v (%T), want a *ddoauth.Error", what, err, err)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Errorf("%s: %v wraps %s, want a failure of the server", what, err, sentinel(s))
		}
	}
}
