package ddoauthtest_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

func TestTLSCoversEveryHost(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	require.True(t, srv.Certificate().IsCA)
	client := browser(srv)
	for _, s := range ddoauth.Sites() {
		sub, err := ddoauth.ResolveSite("acme." + s.Domain())
		require.NoError(t, err)
		for _, origin := range []string{
			"https://" + s.BrowserHost(), s.AuthorizeURL(), "https://" + sub.BrowserHost(), s.APIURL(),
			s.LogsIntakeURL(), s.EventIntakeURL(), s.TraceIntakeURL(), s.OTLPIntakeURL(),
			s.ProfilingIntakeURL(), s.BrowserIntakeURL(),
		} {
			t.Run(origin, func(t *testing.T) {
				resp, err := client.Get(origin)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, "HTTP/1.1", resp.Proto)
				assert.True(t, resp.TLS.HandshakeComplete)
			})
		}
	}

	t.Run("one wildcard label only", func(t *testing.T) {
		for _, host := range []string{"api.acme.datadoghq.com", "a.b.datadoghq.eu", "evil.example"} {
			_, err := client.Get("https://" + host + "/")
			assert.ErrorContains(t, err, "certificate", host)
		}
	})
	t.Run("own clients", func(t *testing.T) {
		conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{ServerName: "api.us2.ddog-gov.com", RootCAs: srv.CertPool()})
		require.NoError(t, err)
		conn.Close()
		_, err = tls.Dial("tcp", srv.Addr(), &tls.Config{ServerName: "api.us2.ddog-gov.com"})
		require.Error(t, err, "nothing trusts the emulator's CA but its own clients")
	})
	t.Run("two servers do not trust each other", func(t *testing.T) {
		other := ddoauthtest.NewServer()
		defer other.Close()
		conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{ServerName: "api.datadoghq.com", RootCAs: other.CertPool()})
		if err == nil {
			conn.Close()
		}
		require.Error(t, err)
	})
	t.Run("closed", func(t *testing.T) {
		s := ddoauthtest.NewServer()
		c := s.Client()
		s.Close()
		s.Close()
		_, err := c.Get("https://api.datadoghq.com/api/v1/validate")
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF"), err.Error())
	})
}

func TestHandlerMounts(t *testing.T) {
	t.Parallel()
	srv := ddoauthtest.NewUnstartedServer()
	defer srv.Close()
	var h http.Handler = srv
	req, err := http.NewRequest(http.MethodGet, "https://api.datadoghq.com/api/v1/validate", nil)
	require.NoError(t, err)
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusForbidden, rec.status)
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return len(b), nil
}
