package seal

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		keys [][]byte
		ok   bool
	}{
		{"one key", [][]byte{key(1)}, true},
		{"rotation", [][]byte{key(2), key(1)}, true},
		{"none", nil, false},
		{"short", [][]byte{key(1)[:16]}, false},
		{"long", [][]byte{append(key(1), 0)}, false},
		{"second bad", [][]byte{key(1), nil}, false},
		{"all zero", [][]byte{key(0)}, false},
		{"old key all zero", [][]byte{key(1), key(0)}, false},
		{"duplicate", [][]byte{key(1), key(1)}, false},
		{"duplicate further down", [][]byte{key(1), key(2), key(1)}, false},
		{"one zero byte", [][]byte{append([]byte{0}, key(1)[1:]...)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := New(tc.keys)
			if !tc.ok {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), string(key(1)))
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, b)
		})
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	old, err := New([][]byte{key(1)})
	require.NoError(t, err)
	rotated, err := New([][]byte{key(2), key(1)})
	require.NoError(t, err)
	foreign, err := New([][]byte{key(3)})
	require.NoError(t, err)
	msg, ad := []byte("pending authorization"), []byte("cookie-name")

	sealed := old.Seal(msg, ad)
	assert.NotContains(t, string(sealed), string(msg))
	assert.NotEqual(t, sealed, old.Seal(msg, ad), "a fresh nonce each time")

	tamper := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	for _, tc := range []struct {
		name   string
		box    *Box
		sealed []byte
		ad     []byte
		ok     bool
	}{
		{"same key", old, sealed, ad, true},
		{"after rotation", rotated, sealed, ad, true},
		{"new key seals", old, rotated.Seal(msg, ad), ad, false},
		{"foreign key", foreign, sealed, ad, false},
		{"other additional data", old, sealed, []byte("other"), false},
		{"version byte", old, tamper(0), ad, false},
		{"nonce", old, tamper(3), ad, false},
		{"ciphertext", old, tamper(len(sealed) / 2), ad, false},
		{"tag", old, tamper(len(sealed) - 1), ad, false},
		{"truncated", old, sealed[:20], ad, false},
		{"empty", old, nil, ad, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.box.Open(tc.sealed, tc.ad)
			if !tc.ok {
				assert.ErrorIs(t, err, ErrOpen)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, msg, got)
		})
	}
}
