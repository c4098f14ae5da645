// Command authorize runs Datadog's OAuth authorization for one site with a
// loopback redirect URI, the way a command-line tool does, and prints the
// resulting connection with its tokens redacted:
//
//	go run ./examples/authorize -site eu1
//
// It prints the authorize URL, listens on the redirect URL's local port,
// completes the authorization when the browser comes back, and prints the
// site, scopes and expiry. -site (or DD_SITE) takes a site name (eu1,
// US1-FED), a domain, a host or an origin; without it Datadog lets the
// user pick the region on US1's page. -connection saves the connection,
// tokens included, and -api-key creates the organization's API key and
// saves it: what send-data reads.
//
// With no configuration Datadog is ddoauthtest's in-process emulator, and
// the tool plays the user approving the consent page itself. With
// DD_CLIENT_ID, DD_CLIENT_SECRET and DD_REDIRECT_URL (http on a loopback
// address with a port, such as http://127.0.0.1:8765/callback, registered
// on the OAuth client and sent exactly as written) it talks to real
// Datadog and waits for you to open the URL. Only the callback that
// carries the authorization's state completes it; other requests to the
// callback path get 400.
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/examples/internal/cli"
)

func main() {
	_, err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout)
	cli.Exit("authorize", err)
}

const summary = `authorize runs Datadog's OAuth authorization for one site through a
loopback redirect URI, as a command-line tool does, and prints the
connection with its tokens redacted. Without DD_CLIENT_ID, Datadog is an
in-process emulator and the tool approves the consent page itself.`

var env = []cli.Env{
	{"DD_SITE", "default of -site"},
	{"DD_CLIENT_ID", "the OAuth client's ID; set, it talks to real Datadog"},
	{"DD_CLIENT_SECRET", "the OAuth client's secret"},
	{"DD_REDIRECT_URL", "real Datadog: the registered loopback redirect URL, such as http://127.0.0.1:8765/callback"},
	{"DDOAUTH_CONNECTION", "default of -connection"},
}

// run returns the connection for tests; it prints it redacted.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) (*ddoauth.Connection, error) {
	fs := cli.NewFlagSet("authorize", summary, env, out)
	siteFlag := fs.String("site", getenv("DD_SITE"), cli.SiteUsage+"; empty: the user picks on US1's page")
	redirectFlag := fs.String("redirect", "http://127.0.0.1:0/callback",
		"emulator only: loopback redirect URL to listen on; port 0 picks one (real Datadog uses DD_REDIRECT_URL)")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the callback")
	connFile := fs.String("connection", getenv("DDOAUTH_CONNECTION"),
		"write the connection, tokens included, to this file (mode 0600), for send-data's DDOAUTH_CONNECTION")
	keyFile := fs.String("api-key", "",
		"create the organization's API key and write it to this new file (mode 0600), for send-data's DD_API_KEY")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	site, err := cli.Site(*siteFlag)
	if err != nil {
		return nil, err
	}
	// Datadog shows an API key once: make sure there is somewhere to keep
	// it before asking for one.
	var keyOut *os.File
	keyCreated := false
	if *keyFile != "" {
		if keyOut, err = os.OpenFile(*keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return nil, fmt.Errorf("-api-key: %w (Datadog creates one key per organization: keep the file you have)", err)
		}
		defer func() {
			keyOut.Close()
			if !keyCreated {
				os.Remove(keyOut.Name()) // still empty: no key was created
			}
		}()
	}
	live := getenv("DD_CLIENT_ID") != ""
	redirect := *redirectFlag
	if live {
		redirect = getenv("DD_REDIRECT_URL")
	}
	ln, redirect, path, err := listen(redirect, !live)
	if err != nil {
		return nil, err
	}
	defer ln.Close()

	var dd *ddoauthtest.Server
	cfg := ddoauth.Config{ClientID: getenv("DD_CLIENT_ID"), ClientSecret: getenv("DD_CLIENT_SECRET"), RedirectURL: redirect}
	if !live {
		dd = ddoauthtest.NewServer()
		defer dd.Close()
		oc := dd.NewClient(redirect)
		cfg.ClientID, cfg.ClientSecret, cfg.HTTPClient = oc.ID, oc.Secret, dd.Client()
	}
	client, err := ddoauth.New(cfg)
	if err != nil {
		return nil, err
	}
	authURL, pending, err := client.Start(site)
	if err != nil {
		return nil, err
	}

	type result struct {
		conn *ddoauth.Connection
		err  error
	}
	done := make(chan result, 1)
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		q := r.URL.Query()
		if !q.Has("state") {
			http.NotFound(w, r) // a favicon or a stray request, not the callback
			return
		}
		// Only the callback of this authorization may spend the one try:
		// any page or local program can send a request here.
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(pending.State)) != 1 {
			http.Error(w, "This is not the callback of the authorization this tool started.", http.StatusBadRequest)
			return
		}
		var conn *ddoauth.Connection
		err := errors.New("this authorization was already completed")
		once.Do(func() { conn, err = client.Complete(r.Context(), pending, q) })
		if err != nil {
			http.Error(w, "Authorization failed; see the terminal.", http.StatusBadRequest)
		} else {
			fmt.Fprintln(w, "Connected. You may now close this tab.")
		}
		select {
		case done <- result{conn, err}:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed
	defer func() {
		// Shutdown, not Close: the callback's page may still be on its way
		// to the browser when the authorization is done. A connection the
		// browser opened ahead and never used holds it for up to 5 s.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // a stuck connection is dropped at the deadline
	}()

	fmt.Fprintln(out, "Open this URL in a browser signed in to Datadog:")
	fmt.Fprintln(out, authURL)
	fmt.Fprintf(out, "Waiting for the callback on %s\n", redirect)
	if dd != nil {
		fmt.Fprintln(out, "(Datadog is emulated: approving the consent page, then following the redirect as a browser would.)")
		go func() {
			if err := approve(ctx, dd, authURL); err != nil {
				select {
				case done <- result{nil, err}:
				default:
				}
			}
		}()
	}

	var res result
	select {
	case res = <-done:
	case <-time.After(*timeout):
		return nil, fmt.Errorf("no callback within %s", *timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if res.err != nil {
		return nil, res.err
	}
	printConnection(out, res.conn)
	if *connFile != "" {
		b, err := ddoauth.MarshalConnection(res.conn)
		if err == nil {
			err = writeFile(*connFile, b)
		}
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "Connection saved to %s (it holds the tokens).\n", *connFile)
	}
	if keyOut != nil {
		key, err := client.CreateAPIKey(ctx, res.conn)
		if err != nil {
			return nil, err
		}
		keyCreated = true // Datadog shows it once: the file is its only copy
		if _, err := io.WriteString(keyOut, key.Key+"\n"); err != nil {
			return nil, fmt.Errorf("writing the API key ...%s to %s: %w", key.Last4, *keyFile, err)
		}
		if err := keyOut.Close(); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "API key saved to %s.\n", *keyFile)
	}
	if *connFile != "" && keyOut != nil {
		fmt.Fprintf(out, "Send data: DDOAUTH_CONNECTION=%s DD_API_KEY=\"$(cat %s)\" go run ./examples/send-data\n", *connFile, *keyFile)
	}
	return res.conn, nil
}

// writeFile writes data to path, readable by its owner only.
func writeFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// listen opens the redirect URL's loopback port and returns the redirect
// URL to send, which is the one given: Datadog compares it with the
// registered one character by character, so localhost stays localhost.
// Only port 0, allowed when the URL is not registered anywhere yet (the
// emulator), is replaced by the port the system picked.
func listen(redirect string, anyPort bool) (ln net.Listener, sent, path string, err error) {
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || u.Port() == "" || (u.Port() == "0" && !anyPort) {
		return nil, "", "", errors.New("the redirect URL must be http on a loopback address with a port, such as http://127.0.0.1:8765/callback")
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, "", "", errors.New("the redirect URL must be on a loopback address")
	}
	ln, err = net.Listen("tcp", u.Host)
	if err != nil {
		return nil, "", "", err
	}
	sent = redirect
	if u.Port() == "0" {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		u.Host = net.JoinHostPort(u.Hostname(), port)
		sent = u.String()
	}
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return ln, sent, path, nil
}

// approve plays the user: the emulator's consent page, then the browser
// following Datadog's redirect to the loopback callback.
func approve(ctx context.Context, dd *ddoauthtest.Server, authURL string) error {
	cb, err := dd.Approve(ctx, authURL)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cb.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func printConnection(out io.Writer, conn *ddoauth.Connection) {
	fmt.Fprintln(out, "Connected:")
	fmt.Fprintf(out, "  site:    %s (%s)\n", conn.Site.Name(), conn.Site.Domain())
	fmt.Fprintf(out, "  API:     %s\n", conn.Site.APIURL())
	fmt.Fprintf(out, "  scopes:  %s\n", strings.Join(conn.Scopes, " "))
	fmt.Fprintf(out, "  expires: %s\n", conn.Token.Expiry.Format(time.RFC3339))
	fmt.Fprintf(out, "  %v\n", conn) // Connection's Format redacts the tokens
}
