package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

const (
	redirectURL = "https://partner.example/oauth/datadog/callback"
	connID      = "tenant-1"
)

// site is where the fleet's connection lives.
func site() ddoauth.Site { return ddoauth.Sites()[0] }

// scenario is one fleet run.
type scenario struct {
	name     string // printed after "fleet "
	reuse    bool   // the emulator revokes a grant whose rotated refresh token comes back
	expiries int
	ttl      time.Duration // access tokens' life
	margin   time.Duration // Config.RefreshMargin
	timeout  time.Duration // Config.RefreshTimeout; the lease lasts a quarter longer
	roles    []string      // one process each
	noLease  bool          // the control: replicas share refreshes in process only
	delay    time.Duration // Datadog's time to answer a token request
	offsets  []time.Duration
	// during runs in the test while the fleet runs: a fault.
	during func(t *testing.T, dd *ddoauthtest.Server, procs []*child)
}

// fleetScenario is the standard run: 4 processes, 20 expiries of 4 s
// tokens refreshed 2 s ahead, with a lease of 6.25 s: room for a process
// starved of CPU by a loaded machine (go test runs packages side by side).
func fleetScenario(name string, reuse bool) scenario {
	return scenario{
		name: name, reuse: reuse, expiries: 20,
		ttl: 4 * time.Second, margin: 2 * time.Second, timeout: 5 * time.Second,
		roles: []string{roleWorker, roleWorker, roleWorker, roleWorker},
		delay: tokenDelay,
	}
}

// tokenDelay is how long the emulator takes to answer a token request, as
// Datadog takes some: it widens the window in which replicas without a
// shared lease would spend one refresh token twice.
const tokenDelay = 150 * time.Millisecond

// bound is the longest a run may take.
func (sc scenario) bound() time.Duration {
	return time.Duration(sc.expiries+2)*sc.ttl + 4*sc.timeout + 20*time.Second
}

// sharedStore is the store the fleet shares: the parent's handle and what
// a child needs to open its own.
type sharedStore struct {
	store ddoauth.Store
	child childConfig // Backend, Store, Prefix and Key set
}

// outcome is what a run measured.
type outcome struct {
	posts    int // refresh requests at the token endpoint
	refused  int // of which Datadog did not answer 200
	expiries int // distinct access tokens the fleet served, other than the first
	errors   int64
	revoked  int64
	dead     int64
	store    int64 // store calls that failed or were slow
	maxWait  time.Duration
	live     bool
	stored   *ddoauth.Connection
	sums     []*summary // nil for a process that left no summary
	states   []*os.ProcessState
	wall     time.Duration
}

// line is a result line: `fleet <backend>: ...` for the proof `make
// fleet` prints, the same counts after another word for faults and the
// control.
func (o outcome) line(kind, name string) string {
	live := "no"
	if o.live {
		live = "yes"
	}
	return fmt.Sprintf("%s %s: %d token POSTs for %d expiries, %d caller errors, stored refresh token live: %s",
		kind, name, o.posts, o.expiries, o.errors, live)
}

// runFleet authorizes a connection on a new emulator, saves it in ss, and
// runs sc's processes until they are done.
func runFleet(t *testing.T, sc scenario, ss *sharedStore) outcome {
	t.Helper()
	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	dd.AutoConsent = true
	dd.AccessTokenTTL = sc.ttl
	dd.RotateRefreshTokens = true
	dd.RevokeOnRefreshReuse = sc.reuse
	oc := dd.NewClient(redirectURL)
	if sc.delay > 0 {
		dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: -1, Delay: sc.delay})
	}

	ctx, cancel := context.WithTimeout(t.Context(), sc.bound())
	defer cancel()
	base := ss.child
	base.Emulator = dd.Addr()
	base.CA = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dd.Certificate().Raw}))
	base.ClientID, base.ClientSecret, base.ConnID = oc.ID, oc.Secret, connID
	base.Expiries, base.Callers = sc.expiries, 16
	base.RefreshMargin, base.RefreshTimeout = sc.margin, sc.timeout
	base.Bound = sc.bound()

	procs := make([]*child, len(sc.roles))
	for i, role := range sc.roles {
		cfg := base
		cfg.Role, cfg.Index, cfg.NoLease = role, i, sc.noLease
		if i < len(sc.offsets) {
			cfg.ClockOffset = sc.offsets[i]
		}
		procs[i] = startChild(t, ctx, cfg)
	}
	for _, p := range procs {
		p.waitReady(t, ctx)
	}

	// Authorized once every process is ready, so that each sees the first
	// token and every one after it.
	client, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirectURL,
		HTTPClient: dd.Client()})
	require.NoError(t, err)
	authURL, pending, err := client.Start(site())
	require.NoError(t, err)
	cb, err := dd.Approve(ctx, authURL)
	require.NoError(t, err)
	conn, err := client.Complete(ctx, pending, cb.Query())
	require.NoError(t, err)
	require.NoError(t, ss.store.Save(ctx, connID, conn))
	dd.ResetRequests()

	first := ddoauthtest.Fingerprint(conn.Token.AccessToken)
	start := time.Now()
	for _, p := range procs {
		p.start(t, first)
	}
	if sc.during != nil {
		sc.during(t, dd, procs)
	}
	var o outcome
	for _, p := range procs {
		state, sum := p.wait(t, ctx)
		o.states = append(o.states, state)
		o.sums = append(o.sums, sum)
	}
	o.wall = time.Since(start)

	tokens := map[string]bool{}
	for _, s := range o.sums {
		if s == nil {
			continue
		}
		o.errors += s.Errors
		o.revoked += s.Revoked
		o.dead += s.Dead
		o.store += s.Store
		o.maxWait = max(o.maxWait, s.MaxWait)
		for _, fp := range s.Tokens {
			tokens[fp] = true
		}
	}
	delete(tokens, first)
	o.expiries = len(tokens)
	var posts strings.Builder
	for _, r := range dd.Requests() {
		if r.Endpoint == ddoauthtest.EndpointToken && r.Form.Get("grant_type") == "refresh_token" {
			o.posts++
			if r.Status != 200 {
				o.refused++
			}
			fmt.Fprintf(&posts, " %v:p%s:%d:%s", r.Time.Sub(start).Round(time.Millisecond),
				r.Header.Get(processHeader), r.Status, r.Form.Get("refresh_token")[len("[redacted "):][:4])
		}
	}
	t.Logf("refresh POSTs (time from go, process, status, refresh token):%s", posts.String())

	o.stored, err = ss.store.Load(ctx, connID)
	require.NoError(t, err)
	if !o.stored.Revoked {
		_, err := client.Refresh(ctx, o.stored)
		o.live = err == nil
	}
	t.Logf("%s: %v wall, longest caller wait %v, %d refused POSTs, %d served tokens refused by Datadog, %d failed or slow store calls, stored revoked: %t",
		sc.name, o.wall.Round(time.Millisecond), o.maxWait.Round(time.Millisecond), o.refused, o.dead, o.store, o.stored.Revoked)
	for i, s := range o.sums {
		if s != nil {
			t.Logf("process %d (%s): first token after %v, %d calls, %d errors %q, %d tokens, %d checks, %d dead, longest wait %v, %d failed or slow store calls, logged %q",
				i, s.Role, s.First.Round(time.Millisecond), s.Calls, s.Errors, s.Samples, len(s.Tokens), s.Checks, s.Dead, s.MaxWait.Round(time.Millisecond), s.Store, s.Logs)
		}
	}
	return o
}

// requireHealthy checks a run that lost nothing: one POST per expiry, no
// caller error, no dead token served, the stored refresh token alive.
func requireHealthy(t *testing.T, sc scenario, o outcome) {
	t.Helper()
	for i, st := range o.states {
		require.Truef(t, st.Success(), "process %d: %v", i, st)
		require.NotNilf(t, o.sums[i], "process %d left no summary", i)
		assert.Truef(t, o.sums[i].Reached, "process %d saw %d tokens for %d expiries", i, len(o.sums[i].Tokens), sc.expiries)
	}
	assert.GreaterOrEqual(t, o.expiries, sc.expiries)
	assert.Equal(t, o.expiries, o.posts, "token POSTs per expiry")
	assert.Equal(t, int64(0), o.errors, "caller errors")
	assert.Equal(t, int64(0), o.dead, "served tokens Datadog refused")
	assert.True(t, o.live, "stored refresh token live")
}

// child is a fleet process: the test binary re-executed.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan struct{}
	posted chan struct{} // a staller got Datadog's answer
	exited chan struct{}

	mu      sync.Mutex
	sum     *summary
	out     bytes.Buffer // its other output, for failures
	errOut  lockedBuffer
	readyOK bool
	posts   bool
}

// startChild starts a process with cfg. It is killed when the test ends
// or ctx is done, and with the test binary (Pdeathsig); it exits on its
// own once its standard input closes.
func startChild(t *testing.T, ctx context.Context, cfg childConfig) *child {
	t.Helper()
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFleetChild$", "-test.count=1",
		"-test.timeout="+(cfg.Bound+30*time.Second).String())
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	c := &child{cmd: cmd, ready: make(chan struct{}), posted: make(chan struct{}), exited: make(chan struct{})}
	cmd.Stderr = &c.errOut
	c.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		defer close(c.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			switch {
			case line == readyLine && !c.readyOK:
				c.readyOK = true
				close(c.ready)
			case line == postedLine && !c.posts:
				c.posts = true
				close(c.posted)
			case strings.HasPrefix(line, summaryPrefix):
				var s summary
				if json.Unmarshal([]byte(strings.TrimPrefix(line, summaryPrefix)), &s) == nil {
					c.sum = &s
				}
			default:
				c.out.WriteString(line + "\n")
			}
			c.mu.Unlock()
		}
		cmd.Wait() //nolint:errcheck // the state is read from cmd.ProcessState
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		cmd.Process.Kill() //nolint:errcheck // it may have exited
		<-c.exited
	})
	return c
}

func (c *child) waitReady(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-c.ready:
	case <-c.exited:
		t.Fatalf("fleet process exited before it was ready: %v\n%s", c.cmd.ProcessState, c.output())
	case <-ctx.Done():
		t.Fatalf("fleet process not ready: %v\n%s", ctx.Err(), c.output())
	}
}

func (c *child) start(t *testing.T, first string) {
	t.Helper()
	_, err := io.WriteString(c.stdin, goPrefix+first+"\n")
	require.NoError(t, err)
}

// resume releases a staller's held answer.
func (c *child) resume(t *testing.T) {
	t.Helper()
	_, err := io.WriteString(c.stdin, resumeLine+"\n")
	require.NoError(t, err)
}

// wait returns the process's state once it exited, and its summary if it
// left one.
func (c *child) wait(t *testing.T, ctx context.Context) (*os.ProcessState, *summary) {
	t.Helper()
	select {
	case <-c.exited:
	case <-ctx.Done():
		t.Fatalf("fleet process still running: %v\n%s", ctx.Err(), c.output())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.cmd.ProcessState.Success() && c.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Logf("fleet process failed: %v\n%s", c.cmd.ProcessState, c.outputLocked())
	}
	return c.cmd.ProcessState, c.sum
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outputLocked()
}

func (c *child) outputLocked() string {
	return tail(c.out.String()+c.errOut.String(), 4000)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// lockedBuffer is a bytes.Buffer safe for the writer goroutine of
// os/exec and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// refreshPosts counts the refresh requests dd received.
func refreshPosts(dd *ddoauthtest.Server) int {
	n := 0
	for _, r := range dd.Requests() {
		if r.Endpoint == ddoauthtest.EndpointToken && r.Form.Get("grant_type") == "refresh_token" {
			n++
		}
	}
	return n
}

// openChildStore opens the fleet's store as cfg names it.
func openChildStore(ctx context.Context, cfg childConfig) (ddoauth.Store, func(), error) {
	switch cfg.Backend {
	case "postgres":
		return openPostgres(ctx, cfg)
	case "redis":
		return openRedis(ctx, cfg)
	}
	return nil, nil, fmt.Errorf("fleet: unknown backend %q", cfg.Backend)
}
