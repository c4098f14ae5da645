package fleet

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// childEnv is the variable that holds a child's settings, as JSON. Set, the
// test binary is a fleet process; unset, TestFleetChild skips.
const childEnv = "DDOAUTH_FLEET_CHILD"

// Lines a child writes on its standard output for the parent.
const (
	readyLine     = "fleet-child ready"
	postedLine    = "fleet-child posted" // a staller got Datadog's answer
	summaryPrefix = "fleet-child summary "
)

// resumeLine, on a staller's standard input, releases Datadog's answer.
const resumeLine = "resume"

// goPrefix starts the line the parent writes on a child's standard input
// to start it, followed by the first token's fingerprint.
const goPrefix = "go "

// Roles of a fleet process.
const (
	roleWorker = "worker" // calls its token source until the fleet has seen enough expiries
	roleKiller = "killer" // kill -9 itself once Datadog answers its first refresh
	// staller holds Datadog's answer to its first refresh until the parent
	// says resume, so that the parent can stop the store between the
	// POST and the write of its result.
	roleStaller = "staller"
)

// childConfig is what a fleet process is told. It holds secrets (the
// client secret, the sealing key) and travels only in the environment.
type childConfig struct {
	Role    string
	Index   int    // the process's number in the fleet, sent to Datadog in processHeader
	Backend string // "postgres" or "redis"
	Store   string // a Postgres DSN or a Redis URL
	Prefix  string // Redis key prefix
	Key     []byte // the sealing key of the store's records

	Emulator     string // the emulator's host:port
	CA           string // PEM of the emulator's root certificate
	ClientID     string
	ClientSecret string
	ConnID       string // the connection's ID in the store

	Expiries       int           // stop after this many expiries
	Callers        int           // goroutines calling TokenContext
	RefreshMargin  time.Duration // Config.RefreshMargin
	RefreshTimeout time.Duration // Config.RefreshTimeout
	ClockOffset    time.Duration // added to this process's clock
	NoLease        bool          // hide the store's Leaser: share refreshes in this process only
	Bound          time.Duration // the longest the run may take
}

// summary is what a fleet process reports, as JSON after summaryPrefix.
// It holds no secret: tokens appear as their ddoauthtest.Fingerprint.
type summary struct {
	Role     string
	Calls    int64    // TokenContext calls that returned
	Errors   int64    // of which failed
	Revoked  int64    // of which wrap ErrRevoked
	Samples  []string // the first distinct error messages
	Tokens   []string // fingerprints of the distinct access tokens served, first seen first
	Store    int64    // store calls that failed or were slow
	Logs     []string // the first distinct warnings ddoauth logged
	Checks   int64    // served tokens sent to Datadog
	Dead     int64    // of which Datadog refused while they had time left
	MaxWait  time.Duration
	First    time.Duration // from go to the first token served
	Reached  bool          // saw Expiries tokens after the first
	Duration time.Duration
}

// callerPause paces each caller: the fleet is meant to be busy, not to
// starve the store and the emulator of the machine's few CPUs.
const callerPause = 50 * time.Millisecond

// checkEvery is how often a process sends the token it serves to Datadog.
const checkEvery = 250 * time.Millisecond

// TestFleetChild is one process of a fleet, started by the tests of this
// package with childEnv set.
func TestFleetChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("a fleet process: the fleet tests start it")
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("fleet child: decoding %s: %v", childEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Bound)
	defer cancel()
	store, closeStore, err := openChildStore(ctx, cfg)
	if err != nil {
		t.Fatalf("fleet child: %v", err)
	}
	defer closeStore()
	resume := make(chan struct{})
	hc, err := emulatorClient(cfg, resume)
	if err != nil {
		t.Fatalf("fleet child: %v", err)
	}
	now := time.Now
	if cfg.ClockOffset != 0 {
		now = func() time.Time { return time.Now().Add(cfg.ClockOffset) }
	}
	logs := &warnings{}
	client, err := ddoauth.New(ddoauth.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: redirectURL,
		HTTPClient: hc, Now: now, RefreshMargin: cfg.RefreshMargin, RefreshTimeout: cfg.RefreshTimeout,
		Logger: slog.New(logs),
	})
	if err != nil {
		t.Fatalf("fleet child: %v", err)
	}
	counted := &countingStore{Store: store, lease: store.(ddoauth.Leaser)}
	var shared ddoauth.Store = counted
	if cfg.NoLease {
		shared = struct{ ddoauth.Store }{counted}
	}
	ts := client.TokenSource(shared, cfg.ConnID)

	// The parent says go on standard input once every process is ready,
	// with the fingerprint of the connection's first access token;
	// standard input closing at any time means the parent is gone.
	fmt.Println(readyLine)
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		os.Exit(3)
	}
	first, ok := strings.CutPrefix(in.Text(), goPrefix)
	if !ok {
		t.Fatalf("fleet child: %q from the parent", in.Text())
	}
	go func() {
		var once sync.Once
		for in.Scan() {
			if in.Text() == resumeLine {
				once.Do(func() { close(resume) })
			}
		}
		os.Exit(3)
	}()

	sum := runCallers(ctx, cfg, ts, hc, now, first)
	sum.Store = counted.hit.Load()
	sum.Logs = logs.list()
	out, err := json.Marshal(sum)
	if err != nil {
		t.Fatalf("fleet child: %v", err)
	}
	fmt.Println(summaryPrefix + string(out))
}

// runCallers calls ts from cfg.Callers goroutines until the process has
// served cfg.Expiries distinct access tokens other than the first (whose
// fingerprint is first), every caller got ErrRevoked, or ctx ends.
func runCallers(ctx context.Context, cfg childConfig, ts *ddoauth.TokenSource, hc *http.Client, now func() time.Time, first string) summary {
	start := time.Now()
	var (
		mu      sync.Mutex // guards sum and seen
		sum     = summary{Role: cfg.Role}
		seen    = map[string]bool{}
		renewed int // tokens seen other than the first
		calls   atomic.Int64
		maxWait atomic.Int64
		done    = make(chan struct{})
		doneOne sync.Once
	)
	finish := func() { doneOne.Do(func() { close(done) }) }
	stopped := func() bool {
		select {
		case <-done:
			return true
		case <-ctx.Done():
			return true
		default:
			return false
		}
	}
	// failed records a caller's error and reports whether it is final.
	failed := func(err error) bool {
		mu.Lock()
		defer mu.Unlock()
		sum.Errors++
		if msg := err.Error(); len(sum.Samples) < 8 && !contains(sum.Samples, msg) {
			sum.Samples = append(sum.Samples, msg)
		}
		if errors.Is(err, ddoauth.ErrRevoked) {
			sum.Revoked++
			return true
		}
		return false
	}
	see := func(tok string) {
		fp := ddoauthtest.Fingerprint(tok)
		mu.Lock()
		defer mu.Unlock()
		if !seen[fp] {
			seen[fp] = true
			sum.Tokens = append(sum.Tokens, fp)
			if len(sum.Tokens) == 1 {
				sum.First = time.Since(start)
			}
			if fp != first {
				renewed++
			}
			if renewed >= cfg.Expiries {
				sum.Reached = true
				finish()
			}
		}
	}

	var wg sync.WaitGroup
	for range cfg.Callers {
		wg.Go(func() {
			last := ""
			for !stopped() {
				t0 := time.Now()
				tok, err := ts.TokenContext(ctx)
				wait := int64(time.Since(t0))
				if err != nil && stopped() {
					return // the run's bound, not a caller's failure
				}
				calls.Add(1)
				for m := maxWait.Load(); wait > m && !maxWait.CompareAndSwap(m, wait); m = maxWait.Load() {
				}
				switch {
				case err != nil:
					if failed(err) {
						return // the grant is gone: nothing more to serve
					}
				case tok.AccessToken != last:
					last = tok.AccessToken
					see(last)
				}
				pause(ctx, callerPause)
			}
		})
	}
	allRevoked := make(chan struct{})
	go func() { wg.Wait(); close(allRevoked) }()

	var checker sync.WaitGroup
	if cfg.Role != roleKiller {
		checker.Go(func() {
			for !stopped() {
				checkServed(ctx, ts, hc, now, &mu, &sum)
				pause(ctx, checkEvery)
			}
		})
	}
	select {
	case <-done:
	case <-allRevoked:
		finish()
	case <-ctx.Done():
		finish()
	}
	wg.Wait()
	checker.Wait()
	mu.Lock()
	defer mu.Unlock()
	sum.Calls = calls.Load()
	sum.MaxWait = time.Duration(maxWait.Load())
	sum.Duration = time.Since(start)
	return sum
}

// checkServed sends the token ts serves to Datadog and counts a refusal
// that came back before the token's expiry by the process's clock: a
// token served dead. (The process stamps expiries before it asks
// Datadog, so Datadog's run later.)
func checkServed(ctx context.Context, ts *ddoauth.TokenSource, hc *http.Client, now func() time.Time, mu *sync.Mutex, sum *summary) {
	tok, err := ts.TokenContext(ctx)
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, site().APIURL()+"/api/v1/events", nil)
	if err != nil {
		return
	}
	tok.SetAuthHeader(req)
	resp, err := hc.Do(req)
	if err != nil {
		return
	}
	resp.Body.Close()
	refused := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden
	mu.Lock()
	defer mu.Unlock()
	sum.Checks++
	if refused && now().Before(tok.Expiry) {
		sum.Dead++
	}
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// emulatorClient returns an HTTP client that sends every request, to any
// Datadog host, to the emulator, trusting only its authority. A killer's
// client kills its process once Datadog answers a refresh; a staller's
// holds the first answer until resume is closed.
func emulatorClient(cfg childConfig, resume <-chan struct{}) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(cfg.CA)) {
		return nil, errors.New("no certificate in the emulator's CA PEM")
	}
	var tr http.RoundTripper = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", cfg.Emulator)
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	tr = tagged{tr, strconv.Itoa(cfg.Index)}
	switch cfg.Role {
	case roleKiller:
		tr = killOnRefresh{tr}
	case roleStaller:
		tr = &stallOnRefresh{base: tr, resume: resume}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// processHeader names the fleet process that sent a request, in the
// emulator's request log.
const processHeader = "X-Fleet-Process"

type tagged struct {
	base  http.RoundTripper
	index string
}

func (t tagged) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(processHeader, t.index)
	return t.base.RoundTrip(req)
}

// stallOnRefresh holds Datadog's first answer to a refresh until resume
// is closed.
type stallOnRefresh struct {
	base   http.RoundTripper
	resume <-chan struct{}
	once   sync.Once
}

func (s *stallOnRefresh) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK && req.URL.Path == "/oauth2/v1/token" {
		s.once.Do(func() {
			fmt.Println(postedLine)
			select {
			case <-s.resume:
			case <-req.Context().Done():
			}
		})
	}
	return resp, err
}

// killOnRefresh plays a replica that dies between Datadog's answer to its
// refresh and the write of the result: after the POST, before the save.
type killOnRefresh struct{ base http.RoundTripper }

func (k killOnRefresh) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := k.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK && req.URL.Path == "/oauth2/v1/token" {
		syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // it does not return
		select {}
	}
	return resp, err
}

// countingStore counts the store's calls that failed or were slow, so
// that a fault test can tell its fault was met.
type countingStore struct {
	ddoauth.Store
	lease ddoauth.Leaser
	hit   atomic.Int64
}

// slowStoreCall is far longer than a store call on loopback takes.
const slowStoreCall = 250 * time.Millisecond

func (s *countingStore) count(start time.Time, err error) error {
	failed := err != nil && !errors.Is(err, ddoauth.ErrConflict) && !errors.Is(err, ddoauth.ErrLeaseHeld)
	if failed || time.Since(start) > slowStoreCall {
		s.hit.Add(1)
	}
	return err
}

func (s *countingStore) Load(ctx context.Context, id string) (*ddoauth.Connection, error) {
	start := time.Now()
	c, err := s.Store.Load(ctx, id)
	return c, s.count(start, err)
}

func (s *countingStore) Save(ctx context.Context, id string, conn *ddoauth.Connection) error {
	start := time.Now()
	return s.count(start, s.Store.Save(ctx, id, conn))
}

func (s *countingStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (int64, error) {
	start := time.Now()
	f, err := s.lease.Lease(ctx, name, owner, ttl)
	return f, s.count(start, err)
}

func (s *countingStore) Release(ctx context.Context, name, owner string) error {
	start := time.Now()
	return s.count(start, s.lease.Release(ctx, name, owner))
}

// warnings is a slog.Handler keeping the first distinct warnings and
// errors ddoauth logs (its records hold no secret), for the summary.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "delay" && a.Key != "attempt" {
			msg += " " + a.String()
		}
		return true
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) < 16 && !contains(w.seen, msg) {
		w.seen = append(w.seen, msg)
	}
	return nil
}

func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}
