package ddoauthotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthotel"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/internal/cpuclock"
)

// telemetries are the setups the benchmarks compare: none, OpenTelemetry
// on the global providers (no-op until an SDK is installed), and an SDK
// that records every span (exported synchronously to a no-op exporter)
// and aggregates every metric (read by a manual reader).
func telemetries(b *testing.B) []struct {
	name string
	tel  ddoauth.Telemetry
} {
	global, err := ddoauthotel.New()
	if err != nil {
		b.Fatal(err)
	}
	sdk, err := ddoauthotel.New(
		ddoauthotel.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))),
		ddoauthotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))))
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		tel  ddoauth.Telemetry
	}{{"none", nil}, {"otel-noop", global}, {"otel-sdk", sdk}}
}

type noop struct{ resp *http.Response }

func (n noop) RoundTrip(*http.Request) (*http.Response, error) { return n.resp, nil }

// warmTransport returns a Transport for a Client with tel whose token is
// cached, on a base transport that answers at once.
func warmTransport(b *testing.B, tel ddoauth.Telemetry) http.RoundTripper {
	b.Helper()
	c, err := ddoauth.New(ddoauth.Config{ClientID: "bench", ClientSecret: "bench-secret",
		RedirectURL: "https://partner.example/callback", Telemetry: tel})
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
	return &ddoauth.Transport{Source: ts,
		Base: noop{&http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}}}
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

// BenchmarkAuthorizedRequest is the root package's benchmark of the same
// name for each telemetry setup.
func BenchmarkAuthorizedRequest(b *testing.B) {
	for _, tt := range telemetries(b) {
		b.Run("serial/"+tt.name, func(b *testing.B) {
			tr, req := warmTransport(b, tt.tel), benchRequest(b)
			b.ReportAllocs()
			// The thread's CPU time as well: on a shared machine the wall
			// clock mostly measures the wait for a CPU.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0, ok := cpuclock.Thread()
			for b.Loop() {
				if _, err := tr.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
			if c1, _ := cpuclock.Thread(); ok {
				b.ReportMetric(float64((c1-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
		b.Run("parallel/"+tt.name, func(b *testing.B) {
			tr := warmTransport(b, tt.tel)
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

// BenchmarkAuthorizedRequestPair measures a Transport without Telemetry
// and one with each other setup in the same loop, on one locked thread,
// in alternating batches, so that both see the same machine: each op is
// one batch of each, in turn first. It reports each side's thread CPU
// time per request and the ratio of the two.
func BenchmarkAuthorizedRequestPair(b *testing.B) {
	const batch = 256
	for _, tt := range telemetries(b)[1:] {
		b.Run(tt.name, func(b *testing.B) {
			if _, ok := cpuclock.Thread(); !ok {
				b.Skip("no thread CPU clock")
			}
			trs := [2]http.RoundTripper{warmTransport(b, nil), warmTransport(b, tt.tel)}
			req := benchRequest(b)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu [2]time.Duration
			first := 0
			for b.Loop() {
				for k := range 2 {
					side := (first + k) % 2
					c0, _ := cpuclock.Thread()
					for range batch {
						if _, err := trs[side].RoundTrip(req); err != nil {
							b.Fatal(err)
						}
					}
					c1, _ := cpuclock.Thread()
					cpu[side] += c1 - c0
				}
				first ^= 1
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(cpu[0].Nanoseconds())/n, "none-cpu-ns/req")
			b.ReportMetric(float64(cpu[1].Nanoseconds())/n, tt.name+"-cpu-ns/req")
			b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "ratio")
		})
	}
}

// clock is a settable clock shared by the Client and the emulator.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// refresher returns a function that makes one refresh of an expired
// token for a Client with tel: store load, token POST to the in-memory
// emulator, store save.
func refresher(b *testing.B, tel ddoauth.Telemetry) func() {
	b.Helper()
	clk := &clock{}
	clk.ns.Store(time.Now().UnixNano())
	dd := ddoauthtest.NewUnstartedServer()
	dd.Now = clk.Now
	oc := dd.NewClient("https://partner.example/callback")
	c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: "https://partner.example/callback",
		HTTPClient: &http.Client{Transport: dd.Transport()}, Now: clk.Now, Telemetry: tel})
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
	store := &ddoauth.MemoryStore{}
	if err := store.Save(context.Background(), "tenant", conn); err != nil {
		b.Fatal(err)
	}
	ts := c.TokenSource(store, "tenant")
	return func() {
		clk.Advance(2 * time.Hour)
		if _, err := ts.TokenContext(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// authorizer returns a function that runs one whole authorization through
// the handlers of a Client with tel, on the in-memory emulator:
// onboarding, the user's approval, and the callback with its code
// exchange.
func authorizer(b *testing.B, tel ddoauth.Telemetry) func() {
	b.Helper()
	const redirect = "https://partner.example/callback"
	dd := ddoauthtest.NewUnstartedServer()
	dd.AutoConsent = true
	oc := dd.NewClient(redirect)
	c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirect,
		HTTPClient: &http.Client{Transport: dd.Transport()}, Telemetry: tel})
	if err != nil {
		b.Fatal(err)
	}
	h, err := c.Handlers(ddoauth.HandlerConfig{
		CookieKeys:        [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		InsecureNoSession: true,
		OnConnect:         func(*http.Request, *ddoauth.Connection) error { return nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	onboarding, callback := h.Onboarding(), h.Callback()
	site := url.Values{"site": {"datadoghq.eu"}}.Encode()
	return func() {
		w := httptest.NewRecorder()
		onboarding.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://partner.example/onboarding?"+site, nil))
		cb, err := dd.Approve(context.Background(), w.Header().Get("Location"))
		if err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, cb.String(), nil)
		for _, ck := range w.Result().Cookies() {
			req.AddCookie(ck)
		}
		w = httptest.NewRecorder()
		callback.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("callback: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRefresh is one refresh for each telemetry setup.
func BenchmarkRefresh(b *testing.B) { benchEach(b, refresher) }

// BenchmarkCallback is one whole authorization for each telemetry setup.
func BenchmarkCallback(b *testing.B) { benchEach(b, authorizer) }

// BenchmarkRefreshPair is what telemetry adds to a refresh, measured
// against none in the same loop (see pair).
func BenchmarkRefreshPair(b *testing.B) { benchPair(b, refresher) }

// BenchmarkCallbackPair is what telemetry adds to a callback, measured
// against none in the same loop (see pair).
func BenchmarkCallbackPair(b *testing.B) { benchPair(b, authorizer) }

func benchEach(b *testing.B, setup func(*testing.B, ddoauth.Telemetry) func()) {
	for _, tt := range telemetries(b) {
		b.Run(tt.name, func(b *testing.B) {
			op := setup(b, tt.tel)
			b.ReportAllocs()
			c0, ok := cpuclock.Process()
			for b.Loop() {
				op()
			}
			if c1, _ := cpuclock.Process(); ok {
				b.ReportMetric(float64((c1-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// benchPair runs, in each op, one operation without telemetry and one
// with each other setup, in turn first, and reports the process's CPU
// time for each side and the difference. Both sides see the same machine,
// which a busy one changes from one benchmark to the next.
func benchPair(b *testing.B, setup func(*testing.B, ddoauth.Telemetry) func()) {
	for _, tt := range telemetries(b)[1:] {
		b.Run(tt.name, func(b *testing.B) {
			if _, ok := cpuclock.Process(); !ok {
				b.Skip("no process CPU clock")
			}
			ops := [2]func(){setup(b, nil), setup(b, tt.tel)}
			var cpu [2]time.Duration
			first := 0
			for b.Loop() {
				for k := range 2 {
					side := (first + k) % 2
					c0, _ := cpuclock.Process()
					ops[side]()
					c1, _ := cpuclock.Process()
					cpu[side] += c1 - c0
				}
				first ^= 1
			}
			n := float64(b.N)
			b.ReportMetric(float64(cpu[0].Nanoseconds())/n, "none-cpu-ns/op")
			b.ReportMetric(float64(cpu[1].Nanoseconds())/n, tt.name+"-cpu-ns/op")
			b.ReportMetric(float64((cpu[1]-cpu[0]).Nanoseconds())/n, "added-cpu-ns/op")
		})
	}
}
