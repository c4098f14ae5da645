package ddoauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// orgSetup is an emulated Datadog and a Client of it that logs to logs.
func orgSetup(t *testing.T) (*ddoauthtest.Server, *ddoauth.Client, *bytes.Buffer) {
	t.Helper()
	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	const redirect = "https://partner.example/oauth/datadog/callback"
	oc := dd.NewClient(redirect)
	logs := &bytes.Buffer{}
	client, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirect,
		HTTPClient: dd.Client(), Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	return dd, client, logs
}

// approve starts an authorization at site and returns the callback's
// query after the user approved.
func approve(t *testing.T, dd *ddoauthtest.Server, client *ddoauth.Client, site ddoauth.Site, opts ...ddoauth.StartOption) (*ddoauth.Pending, url.Values) {
	t.Helper()
	authURL, p, err := client.Start(site, opts...)
	require.NoError(t, err)
	cb, err := dd.Approve(context.Background(), authURL)
	require.NoError(t, err)
	return p, cb.Query()
}

func TestCompleteKeepsOrg(t *testing.T) {
	t.Parallel()
	for _, site := range ddoauth.Sites() {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			dd, client, _ := orgSetup(t)
			org := dd.DefaultOrg(site)
			p, q := approve(t, dd, client, site)
			conn, err := client.Complete(context.Background(), p, q)
			require.NoError(t, err)
			assert.Equal(t, org.UUID, conn.OrgID)
			assert.Equal(t, org.Name, conn.OrgName)

			// Stores keep them; a refresh keeps them.
			b, err := ddoauth.MarshalConnection(conn)
			require.NoError(t, err)
			back, err := ddoauth.UnmarshalConnection(b)
			require.NoError(t, err)
			assert.Equal(t, conn.OrgID, back.OrgID)
			assert.Equal(t, conn.OrgName, back.OrgName)
			next, err := client.Refresh(context.Background(), back)
			require.NoError(t, err)
			assert.Equal(t, conn.OrgID, next.OrgID)
			assert.Equal(t, conn.OrgName, next.OrgName)
		})
	}
}

func TestCompleteWithoutOrg(t *testing.T) {
	t.Parallel()
	dd, client, _ := orgSetup(t)
	dd.OmitOrg = true
	p, q := approve(t, dd, client, ddoauth.Sites()[3])
	require.NotContains(t, q, "dd_oid")
	conn, err := client.Complete(context.Background(), p, q)
	require.NoError(t, err)
	assert.Empty(t, conn.OrgID)
	assert.Empty(t, conn.OrgName)
	b, err := ddoauth.MarshalConnection(conn)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "org_", "records without an organization are written as before")
}

// TestUnmarshalConnectionOlderRecord reads a record written before
// connections had an organization, and checks that such a connection is
// written back byte for byte.
func TestUnmarshalConnectionOlderRecord(t *testing.T) {
	t.Parallel()
	const old = `{"site":"datadoghq.eu","access_token":"AT-0123456789","refresh_token":"RT-0123456789",` +
		`"token_type":"bearer","expiry":"2026-01-02T04:04:05Z","expires_in":3600,"scopes":["api_keys_write"],` +
		`"created":"2026-01-02T03:04:05Z"}`
	conn, err := ddoauth.UnmarshalConnection([]byte(old))
	require.NoError(t, err)
	assert.Empty(t, conn.OrgID)
	b, err := ddoauth.MarshalConnection(conn)
	require.NoError(t, err)
	assert.Equal(t, old, string(b))

	for name, rec := range map[string]string{
		"not a UUID":  `{"site":"datadoghq.eu","refresh_token":"RT","org_id":"acme"}`,
		"braces":      `{"site":"datadoghq.eu","refresh_token":"RT","org_id":"{4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f}"}`,
		"the nil one": `{"site":"datadoghq.eu","refresh_token":"RT","org_id":"00000000-0000-0000-0000-000000000000"}`,
	} {
		_, err := ddoauth.UnmarshalConnection([]byte(rec))
		assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection, name)
	}
	conn, err = ddoauth.UnmarshalConnection([]byte(`{"site":"datadoghq.eu","refresh_token":"RT",` +
		`"org_id":"4F2C3A1E-8A7B-4C6D-9E0F-1A2B3C4D5E6F","org_name":"Acme\u202e\n  Corp"}`))
	require.NoError(t, err)
	assert.Equal(t, "4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f", conn.OrgID)
	assert.Equal(t, "Acme Corp", conn.OrgName)
}

// TestCompleteHostileOrgID tampers with the callback's dd_oid: a value
// that is not one UUID fails before any token request.
func TestCompleteHostileOrgID(t *testing.T) {
	t.Parallel()
	const good = "4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6f"
	for _, tc := range []struct {
		name string
		oid  []string
		want string // the OrgID kept; "" with ok false: refused
		ok   bool
	}{
		{"canonical", []string{good}, good, true},
		{"upper case", []string{strings.ToUpper(good)}, good, true},
		{"version 1", []string{"09105ad2-9ae9-11f0-8c7b-bea17a92d134"}, "09105ad2-9ae9-11f0-8c7b-bea17a92d134", true},
		{"empty", []string{""}, "", true},
		{"not a UUID", []string{"acme"}, "", false},
		{"no dashes", []string{strings.ReplaceAll(good, "-", "")}, "", false},
		{"braces", []string{"{" + good + "}"}, "", false},
		{"urn", []string{"urn:uuid:" + good}, "", false},
		{"nil UUID", []string{"00000000-0000-0000-0000-000000000000"}, "", false},
		{"non-hex", []string{"4f2c3a1e-8a7b-4c6d-9e0f-1a2b3c4d5e6g"}, "", false},
		{"dash moved", []string{"4f2c3a1e8-a7b-4c6d-9e0f-1a2b3c4d5e6f"}, "", false},
		{"trailing newline", []string{good + "\n"}, "", false},
		{"bidi", []string{"\u202e" + good}, "", false},
		{"HTML", []string{`<script>alert(1)</script>`}, "", false},
		{"10 KB", []string{strings.Repeat("a", 10<<10)}, "", false},
		{"repeated", []string{good, good}, "", false},
		{"two orgs", []string{good, "09105ad2-9ae9-11f0-8c7b-bea17a92d134"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dd, client, logs := orgSetup(t)
			p, q := approve(t, dd, client, ddoauth.Sites()[0])
			q["dd_oid"] = tc.oid
			conn, err := client.Complete(context.Background(), p, q)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, tc.want, conn.OrgID)
				return
			}
			require.ErrorIs(t, err, ddoauth.ErrInvalidCallback)
			require.ErrorIs(t, err, ddoauth.ErrInvalidOrgID)
			var e *ddoauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "callback", e.Op)
			assert.Less(t, len(err.Error()), 400, "the value is not repeated whole")
			assert.Equal(t, 0, dd.Count(ddoauthtest.EndpointToken), "the code is not redeemed")
			for _, v := range tc.oid {
				if len(v) > 8 {
					assert.NotContains(t, logs.String(), v)
				}
			}
		})
	}
}

// TestCompleteHostileOrgName names organizations as an attacker would:
// the connection is made, with a name that is safe to show, or none.
func TestCompleteHostileOrgName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, org, want string
	}{
		{"plain", "Acme Corp", "Acme Corp"},
		{"unicode", "Société Générale 株式会社", "Société Générale 株式会社"},
		{"bidi override", "Acme\u202egnp.exe", "Acmegnp.exe"},
		{"bidi isolates", "\u2066Acme\u2069 \u2067Corp\u2069", "Acme Corp"},
		{"zero width", "Ac\u200bme\u200d\ufeff Corp\u2060", "Acme Corp"},
		{"tags", "Acme\U000E0041\U000E0042", "Acme"},
		{"controls", "Acme\x00\x1b[31m\x07Corp", "Acme[31mCorp"},
		{"new lines", "Acme\n\nlevel=ERROR msg=forged\r\n", "Acme level=ERROR msg=forged"},
		{"separators", "Acme\u2028Corp\u2029Inc\u0085", "Acme Corp Inc"},
		{"spaces", "  Acme \t\u00a0 Corp  ", "Acme Corp"},
		{"HTML", `<img src=x onerror=alert(1)>"&'`, `<img src=x onerror=alert(1)>"&'`},
		{"only invisible", "\u200b\u202e\u2066\n", ""},
		{"private use", "Acme\ue000", "Acme"},
		{"long", strings.Repeat("é", 300), strings.Repeat("é", 128)},
		{"10 KB", strings.Repeat("A", 10<<10), ""},
		{"invalid UTF-8", "Acme\xff\xfe", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dd, client, logs := orgSetup(t)
			eu := ddoauth.Sites()[3]
			org := dd.AddOrg(ddoauthtest.Org{Name: tc.org, Site: eu})
			dd.SignIn(org.ID)
			p, q := approve(t, dd, client, eu)
			require.Equal(t, tc.org, q.Get("dd_org_name"), "the emulator sends the name as it is")
			conn, err := client.Complete(context.Background(), p, q)
			require.NoError(t, err, "a name is for display: it never fails a connection")
			assert.Equal(t, org.UUID, conn.OrgID)
			assert.Equal(t, tc.want, conn.OrgName)
			assert.True(t, utf8.ValidString(conn.OrgName))
			assert.LessOrEqual(t, utf8.RuneCountInString(conn.OrgName), 128)
			assert.False(t, strings.ContainsFunc(conn.OrgName, func(r rune) bool {
				return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp)
			}))

			// The partner logs the connection: the name is escaped, on one line.
			var text, js bytes.Buffer
			slog.New(slog.NewTextHandler(&text, nil)).Info("connected", "conn", conn)
			slog.New(slog.NewJSONHandler(&js, nil)).Info("connected", "conn", conn)
			for _, out := range []string{logs.String(), text.String(), js.String()} {
				if len(tc.org) > 6 && tc.org != tc.want {
					assert.NotContains(t, out, tc.org)
				}
				assert.False(t, strings.ContainsFunc(out, func(r rune) bool { return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) }))
			}
			assert.Equal(t, 1, strings.Count(text.String(), "\n"))
			var rec struct {
				Conn struct {
					OrgName string `json:"org_name"`
				} `json:"conn"`
			}
			require.NoError(t, json.Unmarshal(js.Bytes(), &rec))
			assert.Equal(t, conn.OrgName, rec.Conn.OrgName)
		})
	}
}

func TestStartWithOrgID(t *testing.T) {
	t.Parallel()
	dd, client, _ := orgSetup(t)
	eu := ddoauth.Sites()[3]
	other := dd.AddOrg(ddoauthtest.Org{Name: "Other", Site: eu})

	authURL, _, err := client.Start(eu, ddoauth.WithOrgID(strings.ToUpper(other.UUID)))
	require.NoError(t, err)
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	assert.Equal(t, []string{other.UUID}, u.Query()["dd_oid"], "sent in canonical form")

	// The emulator's user is signed in to the default organization; dd_oid
	// chooses the other one, as Datadog skips its organization switcher.
	dd.SignIn(dd.DefaultOrg(eu).ID)
	p, q := approve(t, dd, client, eu, ddoauth.WithOrgID(other.UUID))
	conn, err := client.Complete(context.Background(), p, q)
	require.NoError(t, err)
	assert.Equal(t, other.UUID, conn.OrgID)
	assert.Equal(t, "Other", conn.OrgName)

	authURL, _, err = client.Start(eu, ddoauth.WithOrgID(""))
	require.NoError(t, err)
	assert.NotContains(t, authURL, "dd_oid")

	for _, bad := range []string{"acme", "00000000-0000-0000-0000-000000000000", other.UUID + "&dd_oid=x", "\u202e" + other.UUID} {
		authURL, p, err := client.Start(eu, ddoauth.WithOrgID(bad))
		require.ErrorIs(t, err, ddoauth.ErrInvalidOrgID, bad)
		assert.Empty(t, authURL)
		assert.Nil(t, p)
	}
}

// TestAPIKeyIDPerOrganization connects two organizations of one site for
// one customer, and one of them again: each organization gets its own
// key, the reconnection finds it.
func TestAPIKeyIDPerOrganization(t *testing.T) {
	t.Parallel()
	dd, client, _ := orgSetup(t)
	eu := ddoauth.Sites()[3]
	first, second := dd.DefaultOrg(eu), dd.AddOrg(ddoauthtest.Org{Name: "Second", Site: eu})
	store := &ddoauth.MemoryStore{}
	ctx := context.Background()
	connectTo := func(org ddoauthtest.Org) *ddoauth.Connection {
		dd.SignIn(org.ID)
		p, q := approve(t, dd, client, eu)
		conn, err := client.Complete(ctx, p, q)
		require.NoError(t, err)
		require.Equal(t, org.UUID, conn.OrgID)
		return conn
	}

	a := connectTo(first)
	assert.Equal(t, "customer-42/datadoghq.eu/"+first.UUID, a.APIKeyID("customer-42"))
	ka, err := client.EnsureAPIKey(ctx, a, store, a.APIKeyID("customer-42"))
	require.NoError(t, err)
	assert.Equal(t, first.UUID, ka.OrgID)

	b := connectTo(second)
	kb, err := client.EnsureAPIKey(ctx, b, store, b.APIKeyID("customer-42"))
	require.NoError(t, err, "a key of its own, not the first organization's")
	assert.NotEqual(t, ka.Key, kb.Key)
	assert.Equal(t, second.UUID, kb.OrgID)

	again := connectTo(first)
	k, err := client.EnsureAPIKey(ctx, again, store, again.APIKeyID("customer-42"))
	require.NoError(t, err)
	assert.Equal(t, ka.Key, k.Key)
	assert.Equal(t, 2, dd.Count(ddoauthtest.EndpointAPIKey))

	stored, err := store.LoadAPIKey(ctx, a.APIKeyID("customer-42"))
	require.NoError(t, err)
	assert.Equal(t, first.UUID, stored.OrgID, "stores keep the key's organization")

	dd.OmitOrg = true
	p, q := approve(t, dd, client, eu)
	none, err := client.Complete(ctx, p, q)
	require.NoError(t, err)
	assert.Equal(t, "customer-42/datadoghq.eu", none.APIKeyID("customer-42"), "without dd_oid: customer and site")
}
