// Package seal encrypts and authenticates small values that a server hands
// to a browser and must get back unchanged, such as a pending
// authorization in a cookie. It is AES-256-GCM with a random nonce, and it
// takes a list of keys so that values sealed before a key rotation still
// open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
)

// KeySize is the length of every key: AES-256.
const KeySize = 32

// version is the first byte of every sealed value, so that the format can
// change without misreading old values.
const version byte = 1

// ErrOpen is returned for a value that no key opens: tampered, truncated,
// sealed with a key not in the list, or bound to other data.
var ErrOpen = errors.New("seal: value does not open")

// Box seals with its first key and opens with any of its keys. It is safe
// for concurrent use.
type Box struct {
	aeads []cipher.AEAD
}

// New returns a Box for keys, newest first. Each key must be KeySize
// bytes, not all zero (an unfilled buffer, not a key), and listed once (a
// rotation that repeats the old key never retires it); the error names the
// position of a bad key, never its bytes.
func New(keys [][]byte) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	b := &Box{}
	zero := make([]byte, KeySize)
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		if subtle.ConstantTimeCompare(k, zero) == 1 {
			return nil, fmt.Errorf("seal: key %d is all zero bytes", i)
		}
		for j := range i {
			if subtle.ConstantTimeCompare(k, keys[j]) == 1 {
				return nil, fmt.Errorf("seal: key %d repeats key %d", i, j)
			}
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i, err)
		}
		b.aeads = append(b.aeads, aead)
	}
	return b, nil
}

// Seal encrypts plaintext with the newest key. The result opens only with
// the same additional data, which binds it to a context such as a cookie
// name.
func (b *Box) Seal(plaintext, additional []byte) []byte {
	aead := b.aeads[0]
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = version
	rand.Read(out[1:]) //nolint:errcheck // never fails since Go 1.24
	return aead.Seal(out, out[1:1+aead.NonceSize()], plaintext, additional)
}

// Open returns the plaintext of a value Seal made with one of b's keys and
// the same additional data, or ErrOpen.
func (b *Box) Open(sealed, additional []byte) ([]byte, error) {
	if len(sealed) < 1 || sealed[0] != version {
		return nil, ErrOpen
	}
	for _, aead := range b.aeads {
		n := aead.NonceSize()
		if len(sealed) < 1+n+aead.Overhead() {
			return nil, ErrOpen
		}
		if pt, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], additional); err == nil {
			return pt, nil
		}
	}
	return nil, ErrOpen
}

// OpensWithNewest reports whether sealed opens with the newest key, so a
// store can tell a value that needs sealing again after a rotation.
func (b *Box) OpensWithNewest(sealed, additional []byte) bool {
	aead := b.aeads[0]
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != version {
		return false
	}
	_, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], additional)
	return err == nil
}
