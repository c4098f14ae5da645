package ddoauth_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// noop is the base transport of the overhead benchmarks: it answers at
// once, so what is measured is the authorizing layer alone.
type noop struct{ resp *http.Response }

func (n noop) RoundTrip(*http.Request) (*http.Response, error) { return n.resp, nil }

func newNoop() noop {
	return noop{&http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}}
}

// warmTransport returns a ddoauth Transport whose token is cached.
func warmTransport(b *testing.B, base http.RoundTripper) http.RoundTripper {
	b.Helper()
	c, err := ddoauth.New(ddoauth.Config{ClientID: "bench", ClientSecret: "bench-secret", RedirectURL: testRedirect})
	if err != nil {
		b.Fatal(err)
	}
	store := &ddoauth.MemoryStore{}
	conn := &ddoauth.Connection{Site: ddoauth.Sites()[0], Token: &oauth2.Token{
		AccessToken: "AT-bench-0123456789abcdef", RefreshToken: "RT-bench", Expiry: time.Now().Add(time.Hour)}}
	if err := store.Save(context.Background(), "tenant", conn); err != nil {
		b.Fatal(err)
	}
	ts := c.TokenSource(store, "tenant")
	if _, err := ts.Token(); err != nil {
		b.Fatal(err)
	}
	return &ddoauth.Transport{Source: ts, Base: base}
}

// x/oauth2's Transport over ReuseTokenSource is the baseline.
func baselineTransport(base http.RoundTripper) http.RoundTripper {
	tok := &oauth2.Token{AccessToken: "AT-bench-0123456789abcdef", RefreshToken: "RT-bench", Expiry: time.Now().Add(time.Hour)}
	return &oauth2.Transport{Source: oauth2.ReuseTokenSource(tok, oauth2.StaticTokenSource(tok)), Base: base}
}

func benchRequest(b *testing.B) *http.Request {
	req, err := http.NewRequest(http.MethodGet, "https://api.datadoghq.com/api/v1/validate", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "partner-backend/1.0")
	return req
}

// BenchmarkAuthorizedRequest compares the cost of authorizing a request
// with a valid token: ddoauth's Transport against x/oauth2's, serially and
// under RunParallel, on the same no-op base transport.
func BenchmarkAuthorizedRequest(b *testing.B) {
	for _, impl := range []struct {
		name string
		make func(*testing.B) http.RoundTripper
	}{
		{"x-oauth2", func(*testing.B) http.RoundTripper { return baselineTransport(newNoop()) }},
		{"ddoauth", func(b *testing.B) http.RoundTripper { return warmTransport(b, newNoop()) }},
	} {
		b.Run("serial/"+impl.name, func(b *testing.B) {
			tr := impl.make(b)
			req := benchRequest(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel/"+impl.name, func(b *testing.B) {
			tr := impl.make(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := benchRequest(b)
				for pb.Next() {
					if _, err := tr.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchConnected authorizes one organization on dd through hc, for a
// Client whose clock starts now and is set by the benchmark.
func benchConnected(b *testing.B, dd *ddoauthtest.Server, hc *http.Client) (*ddoauth.Client, *ddoauth.Connection, *clock) {
	b.Helper()
	clk := &clock{}
	clk.Set(time.Now())
	oc := dd.NewClient(testRedirect)
	c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: testRedirect,
		HTTPClient: hc, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	authURL, p, err := c.Start(ddoauth.Sites()[3])
	if err != nil {
		b.Fatal(err)
	}
	cb, err := dd.Approve(context.Background(), authURL)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := c.Complete(context.Background(), p, cb.Query())
	if err != nil {
		b.Fatal(err)
	}
	return c, conn, clk
}

// BenchmarkRefreshStorm sends 1,000 goroutines at an expired token over
// the emulator's TLS endpoint and reports how many token POSTs were made
// and how long waiters took beyond the one refresh round trip.
func BenchmarkRefreshStorm(b *testing.B) {
	const callers = 1000
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	var (
		mu  sync.Mutex
		rtt time.Duration
	)
	timed := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := dd.Client().Transport.RoundTrip(r)
		if r.URL.Path == "/oauth2/v1/token" {
			mu.Lock()
			rtt = time.Since(start)
			mu.Unlock()
		}
		return resp, err
	})
	c, conn, clk := benchConnected(b, dd, &http.Client{Transport: timed})
	store := &ddoauth.MemoryStore{}
	var overs []time.Duration
	var posts int
	for b.Loop() {
		if err := store.Save(context.Background(), "tenant", conn); err != nil {
			b.Fatal(err)
		}
		clk.Set(conn.Token.Expiry.Add(time.Minute)) // expired for every caller
		ts := c.TokenSource(store, "tenant")
		dd.ResetRequests()
		lat := make([]time.Duration, callers)
		var ready, wg sync.WaitGroup
		ready.Add(callers)
		start := make(chan struct{})
		for i := range callers {
			wg.Go(func() {
				ready.Done()
				<-start
				t0 := time.Now()
				if _, err := ts.TokenContext(context.Background()); err != nil {
					b.Error(err)
				}
				lat[i] = time.Since(t0)
			})
		}
		ready.Wait()
		close(start)
		wg.Wait()
		posts += dd.Count(ddoauthtest.EndpointToken)
		mu.Lock()
		for _, l := range lat {
			overs = append(overs, l-rtt)
		}
		mu.Unlock()
		next, err := store.Load(context.Background(), "tenant")
		if err != nil {
			b.Fatal(err)
		}
		conn = next
	}
	slices.Sort(overs)
	b.ReportMetric(float64(posts)/float64(b.N), "token-POSTs/op")
	b.ReportMetric(float64(overs[len(overs)/2].Microseconds())/1000, "p50-beyond-RTT-ms")
	b.ReportMetric(float64(overs[len(overs)*99/100].Microseconds())/1000, "p99-beyond-RTT-ms")
	b.ReportMetric(float64(overs[len(overs)-1].Microseconds())/1000, "max-beyond-RTT-ms")
}

// BenchmarkIdleConnections holds 100,000 connections' token sources, each
// with its token cached, and reports the heap they take per connection.
// The connections themselves live in the partner's database; here they
// are decoded once, as a load from any store would.
func BenchmarkIdleConnections(b *testing.B) {
	const n = 100_000
	c, err := ddoauth.New(ddoauth.Config{ClientID: "bench", ClientSecret: "bench-secret", RedirectURL: testRedirect})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		stores := make([]*ddoauth.MemoryStore, n)
		for i := range stores {
			stores[i] = &ddoauth.MemoryStore{}
			conn := &ddoauth.Connection{Site: ddoauth.Sites()[i%9], Scopes: []string{"api_keys_write", "metrics_read"},
				Token: &oauth2.Token{AccessToken: fmt.Sprintf("AT-%032d", i), RefreshToken: fmt.Sprintf("RT-%032d", i),
					TokenType: "bearer", Expiry: time.Now().Add(time.Hour)}}
			if err := stores[i].Save(context.Background(), "t", conn); err != nil {
				b.Fatal(err)
			}
		}
		before := heap()
		sources := make([]*ddoauth.TokenSource, n)
		for i := range sources {
			sources[i] = c.TokenSource(stores[i], "t")
			if _, err := sources[i].Token(); err != nil {
				b.Fatal(err)
			}
		}
		after := heap()
		runtime.KeepAlive(stores)
		runtime.KeepAlive(sources)
		b.ReportMetric(float64(after-before)/n, "heap-B/conn")
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkEarlyRefreshCaller measures a caller that holds a valid token
// while an early refresh is in flight (Datadog answers it after 10
// minutes): it must get its token without waiting for the network.
// Reports the p50 and p99 of each call, serially and from many goroutines.
func BenchmarkEarlyRefreshCaller(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(map[bool]string{false: "serial", true: "parallel"}[parallel], func(b *testing.B) {
			dd := ddoauthtest.NewServer()
			defer dd.Close()
			c, conn, clk := benchConnected(b, dd, dd.Client())
			store := &ddoauth.MemoryStore{}
			if err := store.Save(context.Background(), "tenant", conn); err != nil {
				b.Fatal(err)
			}
			ts := c.TokenSource(store, "tenant")
			if _, err := ts.Token(); err != nil {
				b.Fatal(err)
			}
			dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: -1, Delay: 10 * time.Minute})
			clk.Set(conn.Token.Expiry.Add(-30 * time.Second)) // inside the margin
			var mu sync.Mutex
			var lat []time.Duration
			call := func(local *[]time.Duration) {
				t0 := time.Now()
				if _, err := ts.TokenContext(context.Background()); err != nil {
					b.Error(err)
				}
				*local = append(*local, time.Since(t0))
			}
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					var local []time.Duration
					for pb.Next() {
						call(&local)
					}
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
				})
			} else {
				for b.Loop() {
					call(&lat)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "p99-us")
			if n := dd.Count(ddoauthtest.EndpointToken); n != 1 {
				b.Errorf("%d token requests, want the one early refresh", n)
			}
		})
	}
}
