package ddoauthtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ddoauth/ddoauth"
)

// Server is an emulated Datadog serving every site. Create it with
// [NewServer] (listening) or [NewUnstartedServer] (in memory until
// [Server.Start]).
//
// Its methods are safe for concurrent use. Its exported fields are
// settings: set them before sending requests, or between requests, never
// while a request is in flight.
type Server struct {
	// Now is the clock for code, consent and access-token lifetimes and
	// for timestamps. Nil means time.Now, which testing/synctest fakes.
	Now func() time.Time

	// AutoConsent approves every valid authorization at once instead of
	// showing the consent page.
	AutoConsent bool

	// CallbackStyle chooses how the callback names the site; the zero
	// value is Datadog's current style, domain=<region domain>.
	CallbackStyle CallbackStyle

	// OmitOrg makes the callback of an approved authorization leave out
	// the organization: dd_oid (its UUID, [Org.UUID]) and dd_org_name (its
	// Name), which Datadog's callback carries along with the code (its
	// documentation does not list them; its own CLI reads them).
	OmitOrg bool

	// AccessTokenTTL is the access-token lifetime; zero means one hour,
	// as Datadog documents.
	AccessTokenTTL time.Duration

	// CodeTTL is how long an authorization code may be redeemed; zero
	// means five minutes. Datadog does not document it.
	CodeTTL time.Duration

	// RotateRefreshTokens makes every refresh return a new refresh token
	// and retire the old one, which then answers invalid_grant. Off, a
	// refresh returns the same refresh token. Datadog does not document
	// which it does; test with both.
	RotateRefreshTokens bool

	// RevokeOnRefreshReuse, with RotateRefreshTokens, makes a refresh
	// token presented again after it was rotated out revoke its whole
	// grant: the request answers invalid_grant, and the grant's current
	// refresh token and access tokens stop working, as OAuth 2.1 and RFC
	// 9700 §4.14.2 recommend against a stolen refresh token. Without
	// it, a rotated-out token only answers invalid_grant. Datadog does
	// not document either; a fleet of replicas must survive both.
	RevokeOnRefreshReuse bool

	// ConsumeCodeOnAuthFailure makes a code request that fails client
	// authentication still use up its code, as a strict server may. A
	// client that tries HTTP Basic first and the body second (x/oauth2's
	// AuthStyleAutoDetect) then loses every authorization.
	ConsumeCodeOnAuthFailure bool

	// DecodeZstd decodes intake bodies sent with Content-Encoding zstd1,
	// which the official Datadog client sends for metrics when asked to
	// (and built with cgo). Nil answers them 415. The emulator carries no
	// zstd decoder, so that importing it compiles no C: tests of the
	// official client can set github.com/DataDog/zstd's NewReader, which
	// that client links anyway.
	DecodeZstd func(io.Reader) io.ReadCloser

	ca    *x509.Certificate
	caKey any
	pool  *x509.CertPool

	mu       sync.Mutex
	leaf     *tls.Certificate
	sites    []ddoauth.Site // regions, in order
	clients  map[string]*OAuthClient
	orgs     map[string]*Org
	orgOrder []string
	signedIn string
	codes    map[string]*authCode
	consents map[string]*consent
	grants   map[string]*grant // by refresh token
	retired  map[string]*grant // by refresh token rotated out
	access   map[string]*accessToken
	keys     map[string]*apiKey // by org ID
	keyByVal map[string]*apiKey
	received []Submission
	events   int64
	requests []Request
	faults   map[Endpoint][]*faultState

	started  bool
	closed   bool
	listener net.Listener
	httpSrv  *http.Server
	client   *http.Transport
}

// CallbackStyle is how the authorize redirect names the site the customer
// authorized at. Datadog's documentation has changed across versions; a
// client should accept all of them.
type CallbackStyle int

const (
	// CallbackDomain sends domain=<region domain> ("datadoghq.eu"), as
	// Datadog's current documentation describes.
	CallbackDomain CallbackStyle = iota
	// CallbackSite sends site=https://<browser host>, including an
	// organization's subdomain, as Datadog's 2022 documentation describes.
	CallbackSite
	// CallbackBoth sends both domain and site.
	CallbackBoth
	// CallbackNone sends neither.
	CallbackNone
)

func (c CallbackStyle) String() string {
	switch c {
	case CallbackDomain:
		return "domain"
	case CallbackSite:
		return "site"
	case CallbackBoth:
		return "both"
	case CallbackNone:
		return "none"
	}
	return "CallbackStyle(invalid)"
}

// NewServer starts a Server listening on a loopback port, with one
// organization per built-in site (see [NewUnstartedServer]). Close it when
// done.
func NewServer() *Server {
	s := NewUnstartedServer()
	s.Start()
	return s
}

// NewUnstartedServer returns a Server that does not listen yet: its
// [Server.Transport] and [Server.ServeHTTP] work at once and start no
// goroutine, which testing/synctest needs. Call [Server.Start] to listen.
//
// Each built-in site gets an organization whose ID is the lower-cased
// site name followed by "-org" ("us1-org", "us1-fed-org") and whose
// name is "Default <site name>"; [Server.DefaultOrg] returns it.
func NewUnstartedServer() *Server {
	s := &Server{
		clients:  map[string]*OAuthClient{},
		orgs:     map[string]*Org{},
		codes:    map[string]*authCode{},
		consents: map[string]*consent{},
		grants:   map[string]*grant{},
		retired:  map[string]*grant{},
		access:   map[string]*accessToken{},
		keys:     map[string]*apiKey{},
		keyByVal: map[string]*apiKey{},
		faults:   map[Endpoint][]*faultState{},
	}
	s.ca, s.caKey = newCA()
	s.pool = x509.NewCertPool()
	s.pool.AddCert(s.ca)
	for _, site := range ddoauth.Sites() {
		s.AddSite(site)
	}
	return s
}

// Start listens on a loopback port and serves TLS. It panics if the
// server was started before or is closed.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		panic("ddoauthtest: Start called on a started or closed Server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic("ddoauthtest: failed to listen on a loopback port: " + err.Error())
		}
	}
	s.started = true
	s.listener = ln
	s.httpSrv = &http.Server{
		Handler: s,
		TLSConfig: &tls.Config{
			// HTTP/1.1 only, so a fault can drop the connection by hijacking it.
			NextProtos:     []string{"http/1.1"},
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.getCertificate,
		},
		ReadHeaderTimeout: 10 * time.Second,
		// Handshakes fail on purpose in some tests; keep them out of test output.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	addr := ln.Addr().String()
	s.client = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, ln.Addr().Network(), addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	srv := s.httpSrv
	go srv.ServeTLS(ln, "", "") //nolint:errcheck // ErrServerClosed after Close
}

// Close stops the listener, closes all connections and idle client
// connections. It is safe to call more than once and on an unstarted server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	srv, tr := s.httpSrv, s.client
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	if tr != nil {
		tr.CloseIdleConnections()
	}
}

// Addr is the listener's address (host:port), for clients other than
// [Server.Client]: connect there with any Datadog host name as TLS server
// name and trust [Server.CertPool]. It panics if the server is not started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		panic("ddoauthtest: Addr called on an unstarted Server")
	}
	return s.listener.Addr().String()
}

// Client returns a new *http.Client whose connections, to any host, go to
// this server over TLS verified against the server's authority. Clients
// from one Server share a transport. Like any http.Client it follows
// redirects: set CheckRedirect to http.ErrUseLastResponse to see the
// authorize redirect instead. It panics if the server is not started.
func (s *Server) Client() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		panic("ddoauthtest: Client called on an unstarted Server; use Transport or Start")
	}
	return &http.Client{Transport: s.client}
}

// Transport returns an http.RoundTripper that hands each request to the
// server's handler in the calling goroutine: no socket, no TLS, no
// goroutine, so it suits testing/synctest. A request with a dropped
// connection fault fails with an error wrapping io.ErrUnexpectedEOF.
// It works on started and unstarted servers alike.
func (s *Server) Transport() http.RoundTripper { return memTransport{s} }

// Certificate returns the server's root certificate authority: every
// certificate the server presents is issued by it. Add it to a pool to
// trust the server, or use [Server.CertPool].
func (s *Server) Certificate() *x509.Certificate { return s.ca }

// CertPool returns a new pool holding only the server's root certificate.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.ca)
	return p
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) accessTTL() time.Duration {
	if s.AccessTokenTTL > 0 {
		return s.AccessTokenTTL
	}
	return time.Hour
}

func (s *Server) codeTTL() time.Duration {
	if s.CodeTTL > 0 {
		return s.CodeTTL
	}
	return 5 * time.Minute
}
