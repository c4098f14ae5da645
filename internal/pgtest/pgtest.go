// Package pgtest runs private Postgres servers for tests, from the
// binaries Debian's postgresql package installs (`make servers`).
//
// A server lives in a temporary directory under /tmp, listens on a Unix
// socket in that directory and on a free port of 127.0.0.1 only, runs
// with fsync off, and trusts every local connection: it is for tests and
// nothing else. Run as root, it runs as the user nobody, since Postgres
// refuses to run as root.
//
// [Start] shares one server among the tests of a test binary, started on
// first use; each test takes its own database from [Server.NewDatabase],
// so tests stay isolated and may run in parallel. The shared server must
// be stopped by the binary's TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// or, in a TestMain that does more, by calling [Shutdown] after m.Run.
// Tests that stop or restart a server take a server of their own from
// [NewServer], so that they do not disturb the tests sharing [Start]'s.
//
// Without the binaries, tests skip with a message naming `make servers`,
// unless DDOAUTH_REQUIRE_SERVERS=1, which makes them fail instead.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ddoauth/ddoauth/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// RequireEnv names the environment variable that turns a skip for missing
// binaries into a failure: CI sets it once `make servers` has run.
const RequireEnv = "DDOAUTH_REQUIRE_SERVERS"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 60 * time.Second

// Server is a private Postgres. Its methods are safe for concurrent use,
// but stopping it fails the queries of every test using it.
type Server struct {
	bin  string // the directory of initdb and postgres
	dir  string // the temporary directory: data/, the socket, the log
	port int

	// StartupTime is how long initdb and the first start took.
	StartupTime time.Duration

	mu   sync.Mutex
	proc *exec.Cmd     // nil while stopped
	done chan struct{} // closed when proc has exited
	dbs  atomic.Int64  // databases made, for their names
}

// shared is the server of [Start]: one per test binary, by design, so
// that the tests of a package share one start-up.
var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// Start returns the test binary's shared server, starting it on first
// use. It skips tb when the Postgres binaries are missing (fails it if
// DDOAUTH_REQUIRE_SERVERS=1), and fails it when the server does not
// start. The binary's TestMain must stop the server: see [Main].
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binDir(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start(bin)
	}
	if shared.err != nil {
		tb.Fatalf("pgtest: %v", shared.err)
	}
	return shared.srv
}

// Main runs the tests of m, stops the shared server and exits with the
// tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops the shared server, if [Start] started one, and removes
// its directory.
func Shutdown() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.close()
		shared.srv = nil
	}
}

// NewServer starts a server of tb's own, stopped and removed when tb
// ends: for tests that stop or restart it. It skips or fails as [Start]
// does.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	bin := binDir(tb)
	s, err := start(bin)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(s.close)
	return s
}

// binDir returns the bin directory of the newest Postgres installed, or
// skips (or fails) tb.
func binDir(tb testing.TB) string {
	tb.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	// Newest major version first: "15" sorts after "9" by number, not text.
	slices.SortFunc(matches, func(a, b string) int { return version(b) - version(a) })
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir
		}
	}
	testenv.Missing(tb, "pgtest: Postgres (/usr/lib/postgresql/*/bin)", "servers", RequireEnv, os.Getenv)
	return ""
}

func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// start makes a data directory and starts a server on it.
func start(bin string) (*Server, error) {
	began := time.Now()
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	parent := os.TempDir()
	if cred != nil {
		// The user nobody must reach the directory: /tmp is open to all,
		// a TMPDIR of root's may not be.
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir}
	if err := s.init(cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.run(cred, 0); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.StartupTime = time.Since(began)
	return s, nil
}

// credential returns whom to run Postgres as: nobody when we are root,
// ourselves (nil) otherwise.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	uid, gid := uint32(65534), uint32(65534)
	if u, err := user.Lookup("nobody"); err == nil {
		if n, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
			uid = uint32(n)
		}
		if n, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			gid = uint32(n)
		}
	}
	return &syscall.Credential{Uid: uid, Gid: gid}, nil
}

func (s *Server) init(cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chmod(s.dir, 0o755); err != nil {
			return err
		}
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(s.bin, "initdb"), "--pgdata", s.dataDir(), "--username", "postgres",
		"--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = s.dir
	cmd.Env = postgresEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logFile() string { return filepath.Join(s.dir, "postgres.log") }

// postgresEnv is the environment of initdb and postgres: ours, less what
// would point them at another server or locale.
func postgresEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}

// run starts postgres on port, or on a free port when port is 0, and
// waits until it accepts connections.
func (s *Server) run(cred *syscall.Credential, port int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("server already running")
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		p := port
		if p == 0 {
			if p, err = freePort(); err != nil {
				return err
			}
		}
		if err = s.runLocked(cred, p); err == nil || port != 0 {
			return err
		}
		// Another process may have taken the port between freePort and
		// postgres binding it: try another.
	}
	return err
}

func (s *Server) runLocked(cred *syscall.Credential, port int) error {
	logf, err := os.OpenFile(s.logFile(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(), "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=32MB",
		"-c", "log_min_messages=warning")
	cmd.Dir = s.dir
	cmd.Env = postgresEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: a test binary that dies without stopping its server
	// takes it along (SIGQUIT: Postgres's immediate shutdown).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.proc, s.done, s.port = cmd, done, port

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		c, err := pgx.Connect(ctx, dsn(port, "postgres"))
		if err == nil {
			c.Close(ctx)
			return nil
		}
		select {
		case <-done:
			s.proc, s.done = nil, nil
			return fmt.Errorf("postgres exited: %v; log: %s", cmd.ProcessState, s.tail())
		case <-ctx.Done():
			s.stopLocked()
			return fmt.Errorf("postgres did not accept connections in %v: %v; log: %s", startTimeout, err, s.tail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tail returns the end of the server's log, for errors.
func (s *Server) tail() string {
	b, _ := os.ReadFile(s.logFile())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN returns a connection string for database on s, over TCP to
// 127.0.0.1 as the superuser postgres (trusted, no password): usable from
// another process of this machine. It stays valid across [Server.Restart].
func (s *Server) DSN(database string) string { return dsn(s.Port(), database) }

func dsn(port int, database string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// SocketDSN is [Server.DSN] over the server's Unix socket.
func (s *Server) SocketDSN(database string) string {
	q := url.Values{"host": {s.dir}, "port": {strconv.Itoa(s.Port())}, "sslmode": {"disable"}}
	return "postgres://postgres@/" + url.PathEscape(database) + "?" + q.Encode()
}

// Port returns the TCP port s listens on, on 127.0.0.1.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// Dir returns s's directory: its data directory is Dir()/data, its log
// Dir()/postgres.log.
func (s *Server) Dir() string { return s.dir }

// NewDatabase creates an empty database on s for tb and returns its DSN
// (see [Server.DSN]). Each call makes a new one.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d_%s", s.dbs.Add(1), sanitize(tb.Name()))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	return s.DSN(name)
}

// sanitize keeps a test's name readable in a database name of at most 63
// bytes.
func sanitize(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// Stop stops s (a fast shutdown: connections are cut) and keeps its data
// for [Server.Start]. Stopping a stopped server does nothing.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		tb.Fatalf("pgtest: stop: %v", err)
	}
}

func (s *Server) stopLocked() error {
	if s.proc == nil {
		return nil
	}
	defer func() { s.proc, s.done = nil, nil }()
	if err := s.proc.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(startTimeout):
		// The process group holds the backends too.
		syscall.Kill(-s.proc.Process.Pid, syscall.SIGKILL)
		<-s.done
		return errors.New("postgres did not stop: killed")
	}
}

// Start starts s again on its data, at the same port and socket, so that
// clients that knew it reconnect. Starting a running server fails tb.
func (s *Server) Start(tb testing.TB) {
	tb.Helper()
	cred, err := credential()
	if err == nil {
		err = s.run(cred, s.Port())
	}
	if err != nil {
		tb.Fatalf("pgtest: start: %v", err)
	}
}

// Restart stops s and starts it again at the same address.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop(tb)
	s.Start(tb)
}

// close stops s and removes its directory.
func (s *Server) close() {
	s.mu.Lock()
	s.stopLocked()
	s.mu.Unlock()
	os.RemoveAll(s.dir)
}
