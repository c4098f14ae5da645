package ddoauth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
)

// secretValues returns a connection, an API key and a pending
// authorization holding distinctive secrets, and those secrets by name.
func secretValues(t *testing.T) (*ddoauth.Connection, *ddoauth.APIKey, *ddoauth.Pending, map[string]string) {
	t.Helper()
	eu := mustSite(t, "datadoghq.eu")
	created := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	conn := &ddoauth.Connection{Site: eu, Scopes: []string{"api_keys_write"}, Created: created,
		Token: &oauth2.Token{AccessToken: "AT-secret-0123456789", RefreshToken: "RT-secret-0123456789", TokenType: "bearer",
			Expiry: created.Add(time.Hour), ExpiresIn: 3600}}
	key := &ddoauth.APIKey{ID: "key-id", Name: "OAuth Client API Key", Key: "APIKEY-secret-0123456789abcd", Last4: "abcd", Site: eu, Created: created}
	p := &ddoauth.Pending{State: "STATE-secret-0123456789", Verifier: "VERIFIER-secret-0123456789-0123456789-0123456789",
		Site: eu, RedirectURL: testRedirect, Created: created}
	return conn, key, p, map[string]string{
		"access token": conn.Token.AccessToken, "refresh token": conn.Token.RefreshToken,
		"API key": key.Key, "state": p.State, "verifier": p.Verifier,
	}
}

// TestNoSecretThroughJSONOrLogs is issue 9 item 5: a Connection, APIKey or
// Pending nested in a slice, a map or a struct field is printed by
// slog.JSONHandler (and anything else) through encoding/json, where
// LogValue and Format do not apply. Their JSON encoding carries no secret.
func TestNoSecretThroughJSONOrLogs(t *testing.T) {
	t.Parallel()
	conn, key, p, secrets := secretValues(t)
	type account struct {
		Tenant  string
		Conn    *ddoauth.Connection
		Key     ddoauth.APIKey
		Pending *ddoauth.Pending
	}
	holders := []struct {
		name  string
		value any
	}{
		{"slice of pointers", []any{conn, key, p}},
		{"slice of values", []any{*conn, *key, *p}},
		{"typed slices", struct {
			Conns   []ddoauth.Connection
			Keys    []*ddoauth.APIKey
			Pending []ddoauth.Pending
		}{[]ddoauth.Connection{*conn}, []*ddoauth.APIKey{key}, []ddoauth.Pending{*p}}},
		{"map", map[string]any{"conn": conn, "key": *key, "pending": p}},
		{"typed map", map[string]ddoauth.Connection{"tenant-1": *conn}},
		{"struct fields", account{Tenant: "tenant-1", Conn: conn, Key: *key, Pending: p}},
		{"nested", map[string][]account{"tenants": {{Conn: conn, Key: *key, Pending: p}}}},
	}
	printers := []struct {
		name  string
		print func(v any) (string, error)
	}{
		{"json.Marshal", func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		}},
		{"slog.JSONHandler", func(v any) (string, error) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("connected", "value", v)
			return buf.String(), nil
		}},
		{"slog.TextHandler", func(v any) (string, error) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("connected", "value", v)
			return buf.String(), nil
		}},
	}
	for _, h := range holders {
		for _, pr := range printers {
			t.Run(h.name+"/"+pr.name, func(t *testing.T) {
				t.Parallel()
				out, err := pr.print(h.value)
				require.NoError(t, err)
				require.NotContains(t, out, "!ERROR", "printed")
				for name, secret := range secrets {
					assert.NotContains(t, out, secret, "%s printed", name)
				}
				assert.Contains(t, out, "datadoghq.eu", "what is not secret is still printed")
			})
		}
	}
	t.Run("what JSON shows", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			v    any
			want string
		}{
			{conn, `{"site":"datadoghq.eu","scopes":["api_keys_write"],"created":"2026-11-28T12:00:00Z","expiry":"2026-11-28T13:00:00Z"}`},
			{key, `{"id":"key-id","name":"OAuth Client API Key","last4":"abcd","created":"2026-11-28T12:00:00Z","site":"datadoghq.eu"}`},
			{p, `{"site":"datadoghq.eu","redirect_url":"` + testRedirect + `","created":"2026-11-28T12:00:00Z"}`},
		} {
			b, err := json.Marshal(tt.v)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(b))
		}
	})
}

// TestExplicitEncodings checks that each secret-bearing encoding keeps
// everything a store must give back, in the field names shared stores
// already hold, and that damaged data fails with the documented sentinel.
func TestExplicitEncodings(t *testing.T) {
	t.Parallel()
	conn, key, p, _ := secretValues(t)

	b, err := ddoauth.MarshalConnection(conn)
	require.NoError(t, err)
	assert.JSONEq(t, `{"site":"datadoghq.eu","access_token":"AT-secret-0123456789","refresh_token":"RT-secret-0123456789",
		"token_type":"bearer","expiry":"2026-11-28T13:00:00Z","expires_in":3600,"scopes":["api_keys_write"],
		"created":"2026-11-28T12:00:00Z"}`, string(b))
	gotConn, err := ddoauth.UnmarshalConnection(b)
	require.NoError(t, err)
	assert.Equal(t, conn, gotConn)

	b, err = ddoauth.MarshalAPIKey(key)
	require.NoError(t, err)
	gotKey, err := ddoauth.UnmarshalAPIKey(b)
	require.NoError(t, err)
	assert.Equal(t, key, gotKey)

	b, err = ddoauth.MarshalPending(p)
	require.NoError(t, err)
	gotPending, err := ddoauth.UnmarshalPending(b)
	require.NoError(t, err)
	assert.Equal(t, p, gotPending)

	for _, bad := range []string{``, `{`, `{"site":"evil.example/.."}`, `[]`} {
		_, err := ddoauth.UnmarshalConnection([]byte(bad))
		assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection, "%q", bad)
		_, err = ddoauth.UnmarshalAPIKey([]byte(bad))
		assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection, "%q", bad)
		_, err = ddoauth.UnmarshalPending([]byte(bad))
		assert.ErrorIs(t, err, ddoauth.ErrStateMismatch, "%q", bad)
	}
	_, err = ddoauth.UnmarshalConnection([]byte(`{"access_token":"AT-secret-0123456789","site":"https://evil/.."}`))
	require.Error(t, err)
	assert.NotContains(t, fmt.Sprintf("%v %+v", err, err), "AT-secret")
	assert.False(t, strings.Contains(err.Error(), "AT-secret"))
}
