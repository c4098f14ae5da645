// Package record encodes connections and API keys for the shared stores:
// the explicit forms of ddoauth.MarshalConnection and ddoauth.MarshalAPIKey
// (the types' own JSON has no secrets), sealed with AES-256-GCM under
// rotating keys and bound to the record's ID, so that a sealed value
// copied into another row does not open.
package record

import (
	"errors"
	"fmt"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/seal"
)

// Codec encodes records. A Codec without keys stores them in clear.
type Codec struct {
	box *seal.Box // nil: clear
}

// ErrNoKey: a shared store was configured with neither keys nor the
// explicit choice to store secrets in clear.
var ErrNoKey = errors.New("no key to seal secrets at rest; set Keys, or InsecurePlaintext to store them in clear")

// New returns a Codec sealing under keys (newest first; each 32 bytes).
// With no keys it fails unless plaintext is set.
func New(keys [][]byte, plaintext bool) (*Codec, error) {
	switch {
	case len(keys) == 0 && plaintext:
		return &Codec{}, nil
	case len(keys) == 0:
		return nil, ErrNoKey
	case plaintext:
		return nil, errors.New("set Keys or InsecurePlaintext, not both")
	}
	box, err := seal.New(keys)
	if err != nil {
		return nil, err
	}
	return &Codec{box: box}, nil
}

// Sealed reports whether c seals what it encodes.
func (c *Codec) Sealed() bool { return c.box != nil }

// The first byte of every encoded value says how the rest reads.
const (
	formClear  byte = 'c'
	formSealed byte = 's'
)

// EncodeConnection encodes conn for the record id, in
// ddoauth.MarshalConnection's form. Version and Fence are the store's
// columns, not part of the value.
func (c *Codec) EncodeConnection(id string, conn *ddoauth.Connection) ([]byte, error) {
	plain, err := ddoauth.MarshalConnection(conn)
	if err != nil {
		return nil, err
	}
	return c.encode("connection", id, plain), nil
}

// DecodeConnection decodes what EncodeConnection made for id. A value
// that does not open or parse is an error wrapping
// ddoauth.ErrCorruptConnection. A site added with Config.Sites stays
// unresolved here and resolves through the Client.
func (c *Codec) DecodeConnection(id string, b []byte) (*ddoauth.Connection, error) {
	plain, err := c.decode("connection", id, b)
	if err != nil {
		return nil, err
	}
	return ddoauth.UnmarshalConnection(plain)
}

// EncodeAPIKey encodes k for the record id, in ddoauth.MarshalAPIKey's form.
func (c *Codec) EncodeAPIKey(id string, k *ddoauth.APIKey) ([]byte, error) {
	plain, err := ddoauth.MarshalAPIKey(k)
	if err != nil {
		return nil, err
	}
	return c.encode("apikey", id, plain), nil
}

// DecodeAPIKey decodes what EncodeAPIKey made for id.
func (c *Codec) DecodeAPIKey(id string, b []byte) (*ddoauth.APIKey, error) {
	plain, err := c.decode("apikey", id, b)
	if err != nil {
		return nil, err
	}
	return ddoauth.UnmarshalAPIKey(plain)
}

// ResealNeeded reports whether b should be written again under the
// newest key: it is in clear while c seals, or sealed under an older key.
func (c *Codec) ResealNeeded(kind, id string, b []byte) bool {
	if c.box == nil || len(b) == 0 {
		return false
	}
	if b[0] != formSealed {
		return true
	}
	return !c.box.OpensWithNewest(b[1:], ad(kind, id))
}

func (c *Codec) encode(kind, id string, plain []byte) []byte {
	if c.box == nil {
		return append([]byte{formClear}, plain...)
	}
	return append([]byte{formSealed}, c.box.Seal(plain, ad(kind, id))...)
}

// decode returns the plain value of b.
func (c *Codec) decode(kind, id string, b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, corrupt(errors.New("empty value"))
	}
	switch b[0] {
	case formClear:
		// Records written in clear stay readable after keys are set, and
		// are sealed on their next write.
		return b[1:], nil
	case formSealed:
		if c.box == nil {
			return nil, corrupt(errors.New("the value is sealed and the store has no key"))
		}
		plain, err := c.box.Open(b[1:], ad(kind, id))
		if err != nil {
			return nil, corrupt(err)
		}
		return plain, nil
	}
	return nil, corrupt(errors.New("unknown record form"))
}

// ad binds a sealed value to its kind and record ID.
func ad(kind, id string) []byte { return []byte("ddoauth/" + kind + "\x00" + id) }

func corrupt(err error) error {
	return fmt.Errorf("%w: %w", ddoauth.ErrCorruptConnection, err)
}
