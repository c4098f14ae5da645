// Package redistest runs private redis-server processes for tests: the
// redisstore tests and the fleet tests that share a store between several
// OS processes.
//
// A server listens on a free port of 127.0.0.1 only (Addr, usable from a
// child process too) and on a unix socket in its own temporary directory
// (Socket), with no password and protected mode off. It keeps its data in
// that directory with `appendonly yes` and `appendfsync everysec`, so that
// Restart, and Kill followed by Restart, find what was acknowledged before.
//
// Tests that only need a Redis share one per test binary, started on first
// use, and keep apart by key prefix:
//
//	func TestMain(m *testing.M) { redistest.Main(m) } // stops the shared server
//
//	func TestX(t *testing.T) {
//		srv := redistest.Shared(t)
//		rdb, prefix := srv.Client(t), srv.Prefix(t)
//		...
//	}
//
// Tests that stop, kill or restart the server start their own with
// [Start]; it is stopped and its directory removed when the test ends.
//
// The binary is Debian's /usr/bin/redis-server (or redis-server on PATH);
// `make servers` installs it. Without it the tests skip, and fail instead
// when DDOAUTH_REQUIRE_SERVERS=1, as CI sets.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ddoauth/ddoauth/internal/testenv"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RequireEnv is the variable that turns a missing redis-server from a skip
// into a failure.
const RequireEnv = "DDOAUTH_REQUIRE_SERVERS"

// debianBinary is where Debian's redis-server package installs it.
const debianBinary = "/usr/bin/redis-server"

// startTimeout bounds how long a server may take to answer PING after it
// was started, loading its append-only file included.
const startTimeout = 20 * time.Second

// Server is a private redis-server. Its methods are safe for concurrent
// use, but Stop, Kill and Restart affect every test that uses it.
type Server struct {
	bin    string
	dir    string // data directory, log and socket
	sock   string // "" when the directory's path is too long for one
	port   int
	shared bool

	prefixes atomic.Int64

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{} // closed when proc has exited
}

// Start starts a private server for tb alone, and stops it and removes
// its directory when tb ends. It skips tb (or fails it, see [RequireEnv])
// when redis-server is not installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, ok := need(tb, binary(), os.Getenv)
	if !ok {
		return nil
	}
	s, err := start(bin)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.close)
	return s
}

// shared is the test binary's shared server. It is the only state this
// package keeps: one server per process is its point.
var shared struct {
	mu   sync.Mutex
	main bool // Main runs the tests, so it will stop the server
	srv  *Server
	err  error
}

// Shared returns the test binary's shared server, starting it on first
// use. The package's TestMain must call [Main], which stops it. Stop, Kill
// and Restart refuse it: fault tests use [Start].
func Shared(tb testing.TB) *Server {
	tb.Helper()
	bin, ok := need(tb, binary(), os.Getenv)
	if !ok {
		return nil
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.main {
		tb.Fatal("redistest: Shared needs the package's TestMain to call redistest.Main(m), which stops the server")
		return nil
	}
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start(bin)
		if shared.srv != nil {
			shared.srv.shared = true
		}
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.srv
}

// Main runs the tests and benchmarks of m, stops the shared server if one
// was started, and exits with m's code. Call it from TestMain, after any
// set-up of your own (a child-process mode, say):
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops the shared server if one was started: for a TestMain
// that runs m itself, to stop other packages' servers too.
func Shutdown() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.close()
		shared.srv = nil
	}
}

// binary returns where redis-server is: Debian's path, or else on PATH.
func binary() string {
	if _, err := os.Stat(debianBinary); err != nil {
		if bin, err := exec.LookPath("redis-server"); err == nil {
			return bin
		}
	}
	return debianBinary
}

// need returns the redis-server binary, or skips or fails tb without it.
func need(tb testing.TB, bin string, getenv func(string) string) (string, bool) {
	tb.Helper()
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(tb, "redistest: redis-server ("+bin+")", "servers", RequireEnv, getenv)
		return "", false
	}
	return bin, true
}

// start makes a directory and starts a server in it on a free port. The
// port is found by listening on port 0 and closing, so another process
// may take it first: then it tries another.
func start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{bin: bin, dir: dir}
	// sockaddr_un holds 108 bytes, the terminating NUL included.
	if sock := filepath.Join(dir, "redis.sock"); len(sock) < 108 {
		s.sock = sock
	}
	for range 5 {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.run(); err == nil || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

var errAddrInUse = errors.New("address already in use")

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run starts the process on s's port and directory and waits until it
// answers PING. The caller holds s.mu or has not published s yet.
func (s *Server) run() error {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"),
		"--appendonly", "yes",
		"--appendfsync", "everysec",
		"--save", "",
		"--daemonize", "no",
	}
	if s.sock != "" {
		args = append(args, "--unixsocket", s.sock, "--unixsocketperm", "700")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	// A test binary killed outright takes its server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // a killed server exits with a signal
		close(done)
	}()
	s.proc, s.done = cmd, done

	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if ping(s.Addr()) == nil {
			return nil
		}
		select {
		case <-done:
			s.proc = nil
			log := s.logTail() + stderr.String()
			err := fmt.Errorf("redistest: redis-server exited at start: %s", log)
			if strings.Contains(log, "Address already in use") {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			s.signal(syscall.SIGKILL)
			return fmt.Errorf("redistest: redis-server did not answer within %v: %s", startTimeout, s.logTail())
		}
	}
}

// ping sends PING and wants +PONG: a server still loading its data
// answers -LOADING.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second)) //nolint:errcheck // the read below fails instead
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return errors.New(strings.TrimSpace(line))
	}
	return nil
}

// logTail returns the end of the server's log, for error messages.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// signal sends sig and waits for the process to exit; SIGTERM is
// followed by SIGKILL if the server has not shut down in ten seconds.
func (s *Server) signal(sig syscall.Signal) {
	if s.proc == nil {
		return
	}
	s.proc.Process.Signal(sig) //nolint:errcheck // it may have exited already
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.proc.Process.Kill() //nolint:errcheck // as above
		<-s.done
	}
	s.proc = nil
}

func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signal(syscall.SIGTERM)
	os.RemoveAll(s.dir)
}

// Addr returns the server's TCP address, 127.0.0.1:port. It stays the
// same across Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the address as a redis:// URL, for redis.ParseURL, a child
// process's environment or a command line.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Socket returns the path of the server's unix socket, or "" if it has
// none (the temporary directory's path was too long for one).
func (s *Server) Socket() string { return s.sock }

// Dir returns the server's data directory.
func (s *Server) Dir() string { return s.dir }

// Options returns client options for the server over TCP loopback. The
// client honours contexts' deadlines on its connections
// (ContextTimeoutEnabled), and go-redis's maintenance notifications,
// which Redis 7.0 does not know, are off.
func (s *Server) Options() *redis.Options {
	return &redis.Options{
		Addr:                     s.Addr(),
		ContextTimeoutEnabled:    true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// Client returns a client of the server, closed when tb ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	rdb := redis.NewClient(s.Options())
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// Prefix returns a key prefix no other test of this server gets, made of
// tb's name and a counter, ending in ":".
func (s *Server) Prefix(tb testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r < '!' || r > '~' || strings.ContainsRune(`{}[]*?\`, r) {
			return '_'
		}
		return r
	}, tb.Name())
	return fmt.Sprintf("%s#%d:", name, s.prefixes.Add(1))
}

// Stop shuts the server down (SIGTERM: it fsyncs its append-only file)
// and keeps its directory, for Restart.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	s.fault(tb, "Stop")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signal(syscall.SIGTERM)
}

// Kill ends the server with SIGKILL: what it had not yet written to its
// append-only file is lost. Restart starts it again.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	s.fault(tb, "Kill")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signal(syscall.SIGKILL)
}

// Restart stops the server if it runs, then starts it again on the same
// port, socket and directory, and returns once it answers (its data
// loaded).
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.fault(tb, "Restart")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signal(syscall.SIGTERM)
	if err := s.run(); err != nil {
		tb.Fatal(err)
	}
}

func (s *Server) fault(tb testing.TB, method string) {
	tb.Helper()
	if s.shared {
		tb.Fatal("redistest: " + method + " on the shared server would break other tests; use redistest.Start")
	}
}
