package main

import (
	"bytes"
	"context"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/examples/internal/clitest"
)

func TestRunEverySite(t *testing.T) {
	t.Parallel()
	for _, site := range ddoauth.Sites() {
		for _, arg := range []string{site.Name(), site.Domain(), "https://" + site.BrowserHost()} {
			t.Run(arg, func(t *testing.T) {
				t.Parallel()
				var out bytes.Buffer
				conn, err := run(context.Background(), []string{"-site", arg}, func(string) string { return "" }, &out)
				require.NoError(t, err, out.String())
				assert.Equal(t, site.Domain(), conn.Site.Domain())
				assert.Contains(t, out.String(), "https://"+site.BrowserHost()+"/oauth2/v1/authorize?")
				assert.Contains(t, out.String(), "site:    "+site.Name())
				assert.Contains(t, out.String(), "AccessToken:[redacted] RefreshToken:[redacted]")
				assert.NotContains(t, out.String(), conn.Token.AccessToken)
				assert.NotContains(t, out.String(), conn.Token.RefreshToken)
			})
		}
	}
}

// TestMain runs main instead of the tests in the copies TestHelp starts.
func TestMain(m *testing.M) { clitest.Main(m, main) }

// TestHelp: -h exits 0, and the usage names the flags and every
// environment variable the command reads; an unknown flag exits 1.
func TestHelp(t *testing.T) {
	t.Parallel()
	clitest.CheckHelp(t, "-site", "-connection", "-api-key", "DD_SITE", "DD_CLIENT_ID", "DD_CLIENT_SECRET", "DD_REDIRECT_URL", "DDOAUTH_CONNECTION")
}

// TestSiteSpellings: -site and DD_SITE take a site's name in any case, its
// domain, a host or an origin; -site wins.
func TestSiteSpellings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, env string }{
		{"eu1", ""}, {"EU1", ""}, {"datadoghq.eu", ""}, {"app.datadoghq.eu", ""}, {"", "eu1"}, {"", "EU1"}, {"", "datadoghq.eu"}, {"eu1", "us5"},
	} {
		t.Run(tc.flag+"/"+tc.env, func(t *testing.T) {
			t.Parallel()
			var args []string
			if tc.flag != "" {
				args = []string{"-site", tc.flag}
			}
			var out bytes.Buffer
			conn, err := run(context.Background(), args, func(k string) string { return map[string]string{"DD_SITE": tc.env}[k] }, &out)
			require.NoError(t, err, out.String())
			assert.Equal(t, "EU1", conn.Site.Name())
		})
	}
}

// TestRunSaves: -connection writes the connection with its tokens and
// -api-key the organization's API key, both readable by the owner only;
// an existing key file is never overwritten.
func TestRunSaves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	connFile, keyFile := filepath.Join(dir, "conn.json"), filepath.Join(dir, "key")
	var out bytes.Buffer
	conn, err := run(context.Background(), []string{"-site", "us3", "-api-key", keyFile},
		func(k string) string { return map[string]string{"DDOAUTH_CONNECTION": connFile}[k] }, &out)
	require.NoError(t, err, out.String())
	b, err := os.ReadFile(connFile)
	require.NoError(t, err)
	saved, err := ddoauth.UnmarshalConnection(b)
	require.NoError(t, err)
	assert.Equal(t, conn.Token.RefreshToken, saved.Token.RefreshToken)
	assert.Equal(t, "US3", saved.Site.Name())
	key, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	assert.Len(t, strings.TrimSpace(string(key)), 32)
	assert.NotContains(t, out.String(), strings.TrimSpace(string(key)))
	for _, f := range []string{connFile, keyFile} {
		info, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), f)
	}

	_, err = run(context.Background(), []string{"-site", "us3", "-api-key", keyFile}, func(string) string { return "" }, &out)
	assert.ErrorIs(t, err, fs.ErrExist)
	again, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	assert.Equal(t, key, again)

	// A run that creates no key leaves no file behind.
	other := filepath.Join(dir, "other")
	_, err = run(context.Background(), []string{"-site", "us3", "-api-key", other, "-timeout", "1ns"}, func(string) string { return "" }, &out)
	require.Error(t, err)
	_, err = os.Stat(other)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestRunNoSite(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	conn, err := run(context.Background(), nil, func(string) string { return "" }, &out)
	require.NoError(t, err, out.String())
	assert.Equal(t, "US1", conn.Site.Name())
}

func TestRunRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want error
	}{
		{"unknown site", []string{"-site", "datadoghq.evil.example"}, nil, ddoauth.ErrUnknownSite},
		{"redirect not loopback", []string{"-redirect", "http://192.0.2.1:8765/callback"}, nil, nil},
		{"redirect https", []string{"-redirect", "https://127.0.0.1:8765/callback"}, nil, nil},
		{"live redirect without port", nil, map[string]string{"DD_CLIENT_ID": "id", "DD_CLIENT_SECRET": "s",
			"DD_REDIRECT_URL": "http://127.0.0.1/callback"}, nil},
		{"live redirect port 0", nil, map[string]string{"DD_CLIENT_ID": "id", "DD_CLIENT_SECRET": "s",
			"DD_REDIRECT_URL": "http://127.0.0.1:0/callback"}, nil},
		{"bad flag", []string{"-nope"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			_, err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}

// TestRunKeepsRedirectURL: the redirect URL is sent as given, localhost
// included; only port 0 becomes the port picked.
func TestRunKeepsRedirectURL(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := run(context.Background(), []string{"-site", "eu1", "-redirect", "http://localhost:0/callback"},
		func(string) string { return "" }, &out)
	require.NoError(t, err, out.String())
	sent := authorizeParam(t, out.String(), "redirect_uri")
	assert.True(t, strings.HasPrefix(sent, "http://localhost:"), sent)
	assert.True(t, strings.HasSuffix(sent, "/callback"), sent)
	assert.NotEqual(t, "http://localhost:0/callback", sent)
	assert.Contains(t, out.String(), "Waiting for the callback on "+sent+"\n")
}

func TestListenKeepsRedirectURL(t *testing.T) {
	t.Parallel()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(free.Addr().String())
	require.NoError(t, free.Close())

	for _, redirect := range []string{"http://localhost:" + port + "/callback", "http://127.0.0.1:" + port + "/cb/../x?y"} {
		ln, sent, _, err := listen(redirect, false)
		require.NoError(t, err)
		assert.Equal(t, redirect, sent, "registered URLs are sent as they are")
		require.NoError(t, ln.Close())
	}
	ln, sent, path, err := listen("http://[::1]:0/cb", true)
	if err == nil { // a machine without IPv6 cannot listen there
		_, port, _ = net.SplitHostPort(ln.Addr().String())
		assert.Equal(t, "http://[::1]:"+port+"/cb", sent)
		assert.Equal(t, "/cb", path)
		require.NoError(t, ln.Close())
	}
}

// strayFirst is the terminal: when run says it waits for the callback, it
// sends stray requests to the callback first, as another page or program
// could, and records their statuses.
type strayFirst struct {
	t        *testing.T
	mu       sync.Mutex
	buf      bytes.Buffer
	statuses []int
}

func (w *strayFirst) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rest, ok := strings.CutPrefix(string(p), "Waiting for the callback on "); ok {
		cb := strings.TrimSpace(rest)
		for _, q := range []string{"?state=guess&code=c", "?state=&code=c", "?code=c", "?state=guess&error=access_denied"} {
			resp, err := http.Get(cb + q)
			if assert.NoError(w.t, err) {
				resp.Body.Close()
				w.statuses = append(w.statuses, resp.StatusCode)
			}
		}
	}
	return w.buf.Write(p)
}

// TestRunIgnoresStrayCallbacks: requests to the callback that do not
// carry the authorization's state get 400 (404 without a state) and leave
// the one try to the real callback.
func TestRunIgnoresStrayCallbacks(t *testing.T) {
	t.Parallel()
	w := &strayFirst{t: t}
	conn, err := run(context.Background(), []string{"-site", "us5"}, func(string) string { return "" }, w)
	w.mu.Lock()
	defer w.mu.Unlock()
	require.NoError(t, err, w.buf.String())
	assert.Equal(t, "US5", conn.Site.Name())
	assert.Equal(t, []int{http.StatusBadRequest, http.StatusBadRequest, http.StatusNotFound, http.StatusBadRequest}, w.statuses)
}

func authorizeParam(t *testing.T, out, name string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "https://") {
			u, err := url.Parse(strings.TrimSpace(line))
			require.NoError(t, err)
			return u.Query().Get(name)
		}
	}
	require.Fail(t, "no authorize URL in", out)
	return ""
}
