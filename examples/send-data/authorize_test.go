package main

import (
	"bufio"
	"bytes"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/examples/internal/clitest"
)

// TestAuthorizeThenSend is the live path, with the emulator for Datadog:
// the authorize command, built and run as a user runs it against real
// Datadog (DD_CLIENT_ID, DD_CLIENT_SECRET, DD_REDIRECT_URL), saves the
// connection and the API key; send-data reads them from
// DDOAUTH_CONNECTION and DD_API_KEY and sends to the organization's site.
// The command reaches the emulator the way any Go program reaches a
// host through a proxy: HTTPS_PROXY, and SSL_CERT_FILE to trust it.
func TestAuthorizeThenSend(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the test builds the authorize command")
	dir := t.TempDir()
	authorize := filepath.Join(dir, "authorize")
	build := exec.Command(goTool, append(append([]string{"build"}, clitest.BuildFlags...), "-o", authorize, "../authorize")...)
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dd.Certificate().Raw}), 0o600))
	proxy := httptest.NewServer(connectProxy(t, dd.Addr()))
	t.Cleanup(proxy.Close)
	redirect := "http://" + freeAddr(t) + "/callback"
	oc := dd.NewClient(redirect)

	connFile, keyFile := filepath.Join(dir, "connection.json"), filepath.Join(dir, "api-key")
	cmd := exec.CommandContext(t.Context(), authorize, "-site", "eu1", "-connection", connFile, "-api-key", keyFile, "-timeout", "1m")
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "DD_") && !strings.HasPrefix(name, "DDOAUTH_") && !strings.HasSuffix(strings.ToUpper(name), "_PROXY") && name != "SSL_CERT_DIR" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "DD_CLIENT_ID="+oc.ID, "DD_CLIENT_SECRET="+oc.Secret, "DD_REDIRECT_URL="+redirect,
		"HTTPS_PROXY="+proxy.URL, "SSL_CERT_FILE="+caFile)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	// The user opens the URL, approves, and the browser follows the
	// redirect to the command's loopback callback.
	var printed strings.Builder
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		printed.WriteString(line + "\n")
		if strings.HasPrefix(line, "https://") {
			cb, err := dd.Approve(t.Context(), line)
			require.NoError(t, err)
			resp, err := http.Get(cb.String())
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		}
	}
	require.NoError(t, cmd.Wait(), printed.String()+stderr.String())
	assert.Contains(t, printed.String(), "site:    EU1")
	assert.Contains(t, printed.String(), "DDOAUTH_CONNECTION="+connFile+` DD_API_KEY="$(cat `+keyFile+`)" go run ./examples/send-data`)

	key, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	org := dd.DefaultOrg(ddoauth.Sites()[3])
	created, ok := dd.APIKey(org.ID)
	require.True(t, ok)
	assert.True(t, strings.HasSuffix(string(key), created.Last4+"\n"), "the key Datadog created, on one line")
	for _, f := range []string{connFile, keyFile} {
		info, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), f)
	}
	assert.NotContains(t, printed.String(), strings.TrimSpace(string(key)))

	env := map[string]string{"DDOAUTH_CONNECTION": connFile, "DD_API_KEY": string(key)}
	var sent bytes.Buffer
	require.NoError(t, run(t.Context(), nil, func(k string) string { return env[k] }, &sent, dd.Client().Transport))
	assert.Equal(t, "sent a metric, a log and an event to EU1 (datadoghq.eu)\n", sent.String())
	var got []string
	subs := dd.Received(ddoauth.Sites()[3])
	for _, s := range subs {
		got = append(got, string(s.Endpoint)+" "+s.OrgID)
	}
	require.Equal(t, []string{"series " + org.ID, "logs " + org.ID, "events " + org.ID}, got)
	assert.JSONEq(t, `[{"message":"partner sync finished","ddsource":"partner"}]`, string(subs[1].Body))
	var paths []string
	for _, r := range dd.Requests() {
		if r.Method == http.MethodPost && r.Status < 300 && r.Endpoint != ddoauthtest.EndpointToken && r.Endpoint != ddoauthtest.EndpointAPIKey {
			paths = append(paths, r.Path)
		}
	}
	assert.Equal(t, []string{"/api/v1/series", "/api/v2/logs", "/api/v1/events"}, paths, "the log goes to the current v2 logs intake")
	assert.Equal(t, "series@api.datadoghq.eu logs@http-intake.logs.datadoghq.eu events@api.datadoghq.eu", received(dd, ddoauth.Sites()[3]))
}

// connectProxy is an HTTPS proxy that sends every tunnel to addr.
func connectProxy(t *testing.T, addr string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		upstream, err := net.Dial("tcp", addr)
		if !assert.NoError(t, err) {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if !assert.NoError(t, err) {
			upstream.Close()
			return
		}
		rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		rw.Flush()
		go func() {
			io.Copy(upstream, rw) //nolint:errcheck // ends with either side
			upstream.Close()
		}()
		io.Copy(conn, upstream) //nolint:errcheck
		conn.Close()
	})
}

// freeAddr is a loopback address with a port free a moment ago: a
// registered redirect URL names its port.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
