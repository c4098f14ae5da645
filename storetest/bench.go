package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// Benchmark measures what a store costs the calls a [ddoauth.TokenSource]
// makes, on stores from open, each sub-benchmark with a store of its own.
// As [Test] proves a store correct, a partner runs Benchmark against its
// own store, from a benchmark of its own, to see what a refresh pays for
// it:
//
//	func BenchmarkStore(b *testing.B) {
//		storetest.Benchmark(b, func(b *testing.B) storetest.Store { return ourstore.New(newTestDB(b)) })
//	}
//
// open has the contract of [Config.Open]. The sub-benchmarks make one
// call at a time and report, besides ns/op, each call's p50 and p99 in
// microseconds (p50-us, p99-us):
//
//   - Load: Load of a saved connection (for the shared stores, one read
//     and the opening of a sealed value).
//   - Save: Save at the current version under a lease's fence, the
//     conditional write that ends a refresh.
//   - Lease: Lease then Release, what a replica adds around a refresh.
//   - Refresh/leased and Refresh/unleased: a whole refresh of an expired
//     token by a new TokenSource, against an in-process
//     [ddoauthtest.Server] over loopback TLS, first with the store as it
//     is, then with only its ddoauth.Store methods, so that the
//     TokenSource finds no [ddoauth.Leaser]. Both share one emulator and
//     one HTTP client, so the difference of their percentiles is what the
//     lease adds to a refresh (a Lease, a second Load and a Release).
//
// Refresh's allocations include the emulator's, which runs in the same
// process.
func Benchmark(b *testing.B, open func(b *testing.B) Store) {
	b.Helper()
	if open == nil {
		b.Fatal("storetest: Benchmark's open is nil")
	}
	mustOpen := func(b *testing.B) Store {
		b.Helper()
		s := open(b)
		if s == nil {
			b.Fatal("storetest: Benchmark's open returned nil")
		}
		return s
	}
	b.Run("Load", func(b *testing.B) { benchLoad(b, mustOpen(b)) })
	b.Run("Save", func(b *testing.B) { benchSave(b, mustOpen(b)) })
	b.Run("Lease", func(b *testing.B) { benchLease(b, mustOpen(b)) })
	b.Run("Refresh", func(b *testing.B) { benchRefresh(b, mustOpen) })
}

// latencies holds the duration of each call of a benchmark.
type latencies []time.Duration

func (l *latencies) time(f func()) {
	start := time.Now()
	f()
	*l = append(*l, time.Since(start))
}

// report reports the p50 and p99 of the calls, in microseconds.
func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Nanoseconds())/1000, "p50-us")
	b.ReportMetric(float64(l[len(l)*99/100].Nanoseconds())/1000, "p99-us")
}

// benchConnection returns a connection of the size Datadog's tokens give.
func benchConnection(b *testing.B) *ddoauth.Connection {
	b.Helper()
	site, err := ddoauth.ResolveSite("datadoghq.eu")
	if err != nil {
		b.Fatalf("storetest: fixture site: %v", err)
	}
	now := time.Now().Truncate(time.Second)
	return &ddoauth.Connection{
		Site: site,
		Token: &oauth2.Token{
			AccessToken:  "storetest-bench-access-token-0123456789abcdef0123456789abcdef",
			RefreshToken: "storetest-bench-refresh-token-0123456789abcdef0123456789abcdef",
			TokenType:    "Bearer",
			Expiry:       now.Add(time.Hour),
		},
		Scopes:  []string{"api_keys_write", "events_read"},
		Created: now,
	}
}

func benchLoad(b *testing.B, s Store) {
	ctx := b.Context()
	if err := s.Save(ctx, "tenant-1", benchConnection(b)); err != nil {
		b.Fatalf("Save: %v", err)
	}
	var lat latencies
	for b.Loop() {
		lat.time(func() {
			if _, err := s.Load(ctx, "tenant-1"); err != nil {
				b.Fatalf("Load: %v", err)
			}
		})
	}
	lat.report(b)
}

func benchSave(b *testing.B, s Store) {
	ctx := b.Context()
	fence, err := s.Lease(ctx, "connection/tenant-1", "replica-a", time.Hour)
	if err != nil {
		b.Fatalf("Lease: %v", err)
	}
	conn := benchConnection(b)
	conn.Fence = fence
	if err := s.Save(ctx, "tenant-1", conn); err != nil {
		b.Fatalf("Save of a new connection: %v", err)
	}
	var lat latencies
	for b.Loop() {
		lat.time(func() {
			// Save sets conn.Version to the new version: each write is at
			// the current one.
			if err := s.Save(ctx, "tenant-1", conn); err != nil {
				b.Fatalf("Save: %v", err)
			}
		})
	}
	lat.report(b)
}

func benchLease(b *testing.B, s Store) {
	ctx := b.Context()
	var lat latencies
	for b.Loop() {
		lat.time(func() {
			if _, err := s.Lease(ctx, "connection/tenant-1", "replica-a", time.Minute); err != nil {
				b.Fatalf("Lease: %v", err)
			}
			if err := s.Release(ctx, "connection/tenant-1", "replica-a"); err != nil {
				b.Fatalf("Release: %v", err)
			}
		})
	}
	lat.report(b)
}

// clock is the Client's clock, moved past each token's expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// unleased hides every method but ddoauth.Store's.
type unleased struct{ ddoauth.Store }

const benchRedirect = "https://partner.example/oauth/datadog/callback"

func benchRefresh(b *testing.B, open func(*testing.B) Store) {
	dd := ddoauthtest.NewServer()
	b.Cleanup(dd.Close)
	dd.AutoConsent = true
	oc := dd.NewClient(benchRedirect)
	clk := &clock{now: time.Now()}
	c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: benchRedirect,
		HTTPClient: dd.Client(), Now: clk.Now})
	if err != nil {
		b.Fatalf("ddoauth.New: %v", err)
	}
	for _, leased := range []bool{true, false} {
		b.Run(map[bool]string{true: "leased", false: "unleased"}[leased], func(b *testing.B) {
			s := open(b)
			var store ddoauth.Store = s
			if !leased {
				store = unleased{s}
			}
			benchRefreshes(b, dd, c, clk, store)
		})
	}
}

// benchRefreshes authorizes a connection, saves it in store, and times a
// refresh of its expired token by a new TokenSource per iteration.
func benchRefreshes(b *testing.B, dd *ddoauthtest.Server, c *ddoauth.Client, clk *clock, store ddoauth.Store) {
	ctx := b.Context()
	conn := authorize(b, dd, c)
	if err := store.Save(ctx, "tenant-1", conn); err != nil {
		b.Fatalf("Save of the authorized connection: %v", err)
	}
	dd.ResetRequests()
	tok, refreshes := conn.Token, 0
	var lat latencies
	for b.Loop() {
		clk.set(tok.Expiry.Add(time.Minute))
		ts := c.TokenSource(store, "tenant-1")
		prev := tok.AccessToken
		lat.time(func() {
			var err error
			if tok, err = ts.TokenContext(ctx); err != nil {
				b.Fatalf("TokenContext: %v", err)
			}
		})
		if tok.AccessToken == prev {
			b.Fatal("TokenContext returned the expired token")
		}
		refreshes++
	}
	if n := dd.Count(ddoauthtest.EndpointToken); n != refreshes {
		b.Errorf("%d token requests for %d refreshes, want one each", n, refreshes)
	}
	lat.report(b)
}

// authorize connects the emulator's default organization.
func authorize(b *testing.B, dd *ddoauthtest.Server, c *ddoauth.Client) *ddoauth.Connection {
	b.Helper()
	ctx := b.Context()
	authURL, p, err := c.Start(ddoauth.Sites()[0])
	if err != nil {
		b.Fatalf("Start: %v", err)
	}
	cb, err := dd.Approve(ctx, authURL)
	if err != nil {
		b.Fatalf("ddoauthtest Approve: %v", err)
	}
	conn, err := c.Complete(ctx, p, cb.Query())
	if err != nil {
		b.Fatalf("Complete: %v", err)
	}
	return conn
}
