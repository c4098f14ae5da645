package record_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/record"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func codec(t *testing.T, keys ...[]byte) *record.Codec {
	t.Helper()
	c, err := record.New(keys, len(keys) == 0)
	require.NoError(t, err)
	return c
}

func site(t *testing.T, raw string) ddoauth.Site {
	t.Helper()
	s, err := ddoauth.ResolveSite(raw)
	require.NoError(t, err)
	return s
}

var when = time.Date(2031, time.May, 6, 7, 8, 9, 123456789, time.FixedZone("UTC+2", 2*60*60))

func connection(t *testing.T) *ddoauth.Connection {
	return &ddoauth.Connection{
		Site: site(t, "acme.datadoghq.eu"),
		Token: &oauth2.Token{
			AccessToken:  "record-test-access-token",
			RefreshToken: "record-test-refresh-token",
			TokenType:    "Bearer",
			Expiry:       when.Add(time.Hour),
			ExpiresIn:    3600,
		},
		Scopes:  []string{"api_keys_write", "metrics_read"},
		Created: when,
		Revoked: true,
		Version: 7, // the store's columns, not the value's
		Fence:   9,
	}
}

func apiKey(t *testing.T) *ddoauth.APIKey {
	return &ddoauth.APIKey{ID: "key-id", Name: "OAuth Client API Key", Key: "record-test-api-key-0123456789abcd",
		Last4: "abcd", Created: when, Site: site(t, "us5.datadoghq.com")}
}

func assertConnection(t *testing.T, want, got *ddoauth.Connection) {
	t.Helper()
	require.NotNil(t, got)
	assert.Equal(t, want.Site, got.Site)
	require.NotNil(t, got.Token)
	assert.Equal(t, want.Token.AccessToken, got.Token.AccessToken)
	assert.Equal(t, want.Token.RefreshToken, got.Token.RefreshToken)
	assert.Equal(t, want.Token.TokenType, got.Token.TokenType)
	assert.WithinDuration(t, want.Token.Expiry, got.Token.Expiry, 0)
	assert.Equal(t, want.Token.ExpiresIn, got.Token.ExpiresIn)
	assert.Equal(t, want.Scopes, got.Scopes)
	assert.WithinDuration(t, want.Created, got.Created, 0)
	assert.Equal(t, want.Revoked, got.Revoked)
	assert.Zero(t, got.Version, "Version is the store's column")
	assert.Zero(t, got.Fence, "Fence is the store's column")
}

func assertAPIKey(t *testing.T, want, got *ddoauth.APIKey) {
	t.Helper()
	require.NotNil(t, got)
	assert.Equal(t, want.ID, got.ID)
	assert.Equal(t, want.Name, got.Name)
	assert.Equal(t, want.Key, got.Key)
	assert.Equal(t, want.Last4, got.Last4)
	assert.WithinDuration(t, want.Created, got.Created, 0)
	assert.Equal(t, want.Site, got.Site)
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		keys      [][]byte
		plaintext bool
		sealed    bool
		err       error // nil: any error when ok is false
		ok        bool
	}{
		{name: "one key", keys: [][]byte{key(1)}, sealed: true, ok: true},
		{name: "rotation", keys: [][]byte{key(2), key(1)}, sealed: true, ok: true},
		{name: "plaintext", plaintext: true, ok: true},
		{name: "nothing", err: record.ErrNoKey},
		{name: "empty key list", keys: [][]byte{}, err: record.ErrNoKey},
		{name: "keys and plaintext", keys: [][]byte{key(1)}, plaintext: true},
		{name: "short key", keys: [][]byte{key(1)[:16]}},
		{name: "second key bad", keys: [][]byte{key(1), key(2)[:31]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := record.New(tc.keys, tc.plaintext)
			if !tc.ok {
				require.Error(t, err)
				if tc.err != nil {
					assert.ErrorIs(t, err, tc.err)
				}
				for _, k := range tc.keys {
					assert.NotContains(t, err.Error(), string(k), "the error shows a key")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.sealed, c.Sealed())
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		keys [][]byte
	}{
		{"sealed", [][]byte{key(1)}},
		{"clear", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := codec(t, tc.keys...)

			b, err := c.EncodeConnection("tenant-1", connection(t))
			require.NoError(t, err)
			conn, err := c.DecodeConnection("tenant-1", b)
			require.NoError(t, err)
			assertConnection(t, connection(t), conn)

			b, err = c.EncodeAPIKey("tenant-1", apiKey(t))
			require.NoError(t, err)
			k, err := c.DecodeAPIKey("tenant-1", b)
			require.NoError(t, err)
			assertAPIKey(t, apiKey(t), k)

			// A connection without tokens stays without.
			b, err = c.EncodeConnection("tenant-2", &ddoauth.Connection{Site: site(t, "datadoghq.com")})
			require.NoError(t, err)
			conn, err = c.DecodeConnection("tenant-2", b)
			require.NoError(t, err)
			assert.Nil(t, conn.Token)
			assert.Equal(t, site(t, "datadoghq.com"), conn.Site)
		})
	}
}

// A sealed value is bound to its record: copied to another ID, or read as
// the other kind of record, it does not open.
func TestSealedBoundToRecord(t *testing.T) {
	t.Parallel()
	c := codec(t, key(1))
	conn, err := c.EncodeConnection("tenant-1", connection(t))
	require.NoError(t, err)
	k, err := c.EncodeAPIKey("tenant-1", apiKey(t))
	require.NoError(t, err)

	_, err = c.DecodeConnection("tenant-2", conn)
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
	_, err = c.DecodeConnection("tenant-1\x00", conn)
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
	_, err = c.DecodeAPIKey("tenant-2", k)
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
	_, err = c.DecodeAPIKey("tenant-1", conn)
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
	_, err = c.DecodeConnection("tenant-1", k)
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)

	// Positive control: in place, both open.
	_, err = c.DecodeConnection("tenant-1", conn)
	assert.NoError(t, err)
	_, err = c.DecodeAPIKey("tenant-1", k)
	assert.NoError(t, err)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	old := codec(t, key(1))
	rotated := codec(t, key(2), key(1))
	newOnly := codec(t, key(2))
	plain := codec(t)

	sealedOld, err := old.EncodeConnection("tenant-1", connection(t))
	require.NoError(t, err)
	assert.False(t, old.ResealNeeded("connection", "tenant-1", sealedOld), "sealed under the newest key")

	got, err := rotated.DecodeConnection("tenant-1", sealedOld)
	require.NoError(t, err, "a rotated codec opens values sealed under the old key")
	assertConnection(t, connection(t), got)
	assert.True(t, rotated.ResealNeeded("connection", "tenant-1", sealedOld))

	resealed, err := rotated.EncodeConnection("tenant-1", got)
	require.NoError(t, err)
	assert.False(t, rotated.ResealNeeded("connection", "tenant-1", resealed))
	got, err = newOnly.DecodeConnection("tenant-1", resealed)
	require.NoError(t, err, "once resealed, the old key can go")
	assertConnection(t, connection(t), got)

	_, err = newOnly.DecodeConnection("tenant-1", sealedOld)
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection, "the old key is gone")
	_, err = old.DecodeConnection("tenant-1", resealed)
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection, "the new key is unknown")

	keyOld, err := old.EncodeAPIKey("tenant-1", apiKey(t))
	require.NoError(t, err)
	assert.True(t, rotated.ResealNeeded("apikey", "tenant-1", keyOld))
	k, err := rotated.DecodeAPIKey("tenant-1", keyOld)
	require.NoError(t, err)
	assertAPIKey(t, apiKey(t), k)
	keyNew, err := rotated.EncodeAPIKey("tenant-1", k)
	require.NoError(t, err)
	assert.False(t, rotated.ResealNeeded("apikey", "tenant-1", keyNew))

	// Records written in clear before keys were set stay readable, and
	// are sealed on their next write.
	inClear, err := plain.EncodeConnection("tenant-1", connection(t))
	require.NoError(t, err)
	got, err = rotated.DecodeConnection("tenant-1", inClear)
	require.NoError(t, err)
	assertConnection(t, connection(t), got)
	assert.True(t, rotated.ResealNeeded("connection", "tenant-1", inClear))
	assert.False(t, plain.ResealNeeded("connection", "tenant-1", inClear), "a codec without keys never reseals")
	assert.False(t, plain.ResealNeeded("connection", "tenant-1", sealedOld), "a codec without keys never reseals")
}

func TestCorruptValues(t *testing.T) {
	t.Parallel()
	sealing := codec(t, key(1))
	plain := codec(t)
	sealed, err := sealing.EncodeConnection("tenant-1", connection(t))
	require.NoError(t, err)
	sealedKey, err := sealing.EncodeAPIKey("tenant-1", apiKey(t))
	require.NoError(t, err)
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name  string
		codec *record.Codec
		conn  []byte
		key   []byte
	}{
		{"nil", sealing, nil, nil},
		{"empty", sealing, []byte{}, []byte{}},
		{"form byte only", sealing, sealed[:1], sealedKey[:1]},
		{"truncated by one", sealing, sealed[:len(sealed)-1], sealedKey[:len(sealedKey)-1]},
		{"truncated by half", sealing, sealed[:len(sealed)/2], sealedKey[:len(sealedKey)/2]},
		{"last byte flipped", sealing, flip(sealed, len(sealed)-1), flip(sealedKey, len(sealedKey)-1)},
		{"middle byte flipped", sealing, flip(sealed, len(sealed)/2), flip(sealedKey, len(sealedKey)/2)},
		{"seal version flipped", sealing, flip(sealed, 1), flip(sealedKey, 1)},
		{"unknown form", sealing, append([]byte{'x'}, sealed[1:]...), append([]byte{'x'}, sealedKey[1:]...)},
		{"sealed, codec without keys", plain, sealed, sealedKey},
		{"clear, not JSON", plain, []byte("c{not json"), []byte("c{not json")},
		{"clear, site malformed", plain, []byte(`c{"site":"evil.example:443"}`), []byte(`c{"site":"not a host"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.NotPanics(t, func() {
				_, err := tc.codec.DecodeConnection("tenant-1", tc.conn)
				assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
				_, err = tc.codec.DecodeAPIKey("tenant-1", tc.key)
				assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
				assert.NotPanics(t, func() { tc.codec.ResealNeeded("connection", "tenant-1", tc.conn) })
			})
		})
	}
}

// Sealed bytes hold no secret in clear; clear ones do, which shows
// that the check can fail.
func TestSealedHidesSecrets(t *testing.T) {
	t.Parallel()
	conn, k := connection(t), apiKey(t)
	secrets := []string{conn.Token.AccessToken, conn.Token.RefreshToken, k.Key}
	for _, tc := range []struct {
		name  string
		codec *record.Codec
		shown bool
	}{
		{"sealed", codec(t, key(1)), false},
		{"clear", codec(t), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bc, err := tc.codec.EncodeConnection("tenant-1", conn)
			require.NoError(t, err)
			bk, err := tc.codec.EncodeAPIKey("tenant-1", k)
			require.NoError(t, err)
			all := string(bc) + string(bk)
			for _, s := range secrets {
				assert.Equal(t, tc.shown, bytes.Contains([]byte(all), []byte(s)), "secret %s...", s[:16])
			}
		})
	}
}
