// Package record encodes connections and API keys for the shared stores:
// an explicit wire form (not the types' own JSON), sealed with AES-256-GCM
// under rotating keys and bound to the record's ID, so that a sealed value
// copied into another row does not open.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/oauth2"

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

type wireConnection struct {
	Site         string    `json:"site"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry"`
	ExpiresIn    int64     `json:"expires_in,omitempty"`
	Scopes       []string  `json:"scopes,omitempty"`
	Created      time.Time `json:"created"`
	Revoked      bool      `json:"revoked,omitempty"`
}

type wireAPIKey struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Key     string    `json:"key"`
	Last4   string    `json:"last4"`
	Created time.Time `json:"created"`
	Site    string    `json:"site"`
}

// EncodeConnection encodes conn for the record id. Version and Fence are
// the store's columns, not part of the value.
func (c *Codec) EncodeConnection(id string, conn *ddoauth.Connection) ([]byte, error) {
	w := wireConnection{Site: conn.Site.String(), Scopes: conn.Scopes, Created: conn.Created, Revoked: conn.Revoked}
	if t := conn.Token; t != nil {
		w.AccessToken, w.RefreshToken, w.TokenType, w.Expiry, w.ExpiresIn = t.AccessToken, t.RefreshToken, t.TokenType, t.Expiry, t.ExpiresIn
	}
	return c.encode("connection", id, w)
}

// DecodeConnection decodes what EncodeConnection made for id. A value
// that does not open or parse is an error wrapping
// ddoauth.ErrCorruptConnection.
func (c *Codec) DecodeConnection(id string, b []byte) (*ddoauth.Connection, error) {
	var w wireConnection
	if err := c.decode("connection", id, b, &w); err != nil {
		return nil, err
	}
	// Through Site's own decoding: a site added with Config.Sites stays
	// unresolved here and resolves through the Client.
	var site ddoauth.Site
	if err := json.Unmarshal(strconv.AppendQuote(nil, w.Site), &site); err != nil {
		return nil, corrupt(err)
	}
	conn := &ddoauth.Connection{Site: site, Scopes: w.Scopes, Created: w.Created, Revoked: w.Revoked}
	if w.AccessToken != "" || w.RefreshToken != "" {
		conn.Token = &oauth2.Token{AccessToken: w.AccessToken, RefreshToken: w.RefreshToken, TokenType: w.TokenType,
			Expiry: w.Expiry, ExpiresIn: w.ExpiresIn}
	}
	return conn, nil
}

// EncodeAPIKey encodes k for the record id.
func (c *Codec) EncodeAPIKey(id string, k *ddoauth.APIKey) ([]byte, error) {
	return c.encode("apikey", id, wireAPIKey{ID: k.ID, Name: k.Name, Key: k.Key, Last4: k.Last4, Created: k.Created, Site: k.Site.String()})
}

// DecodeAPIKey decodes what EncodeAPIKey made for id.
func (c *Codec) DecodeAPIKey(id string, b []byte) (*ddoauth.APIKey, error) {
	var w wireAPIKey
	if err := c.decode("apikey", id, b, &w); err != nil {
		return nil, err
	}
	var site ddoauth.Site
	if err := json.Unmarshal(strconv.AppendQuote(nil, w.Site), &site); err != nil {
		return nil, corrupt(err)
	}
	return &ddoauth.APIKey{ID: w.ID, Name: w.Name, Key: w.Key, Last4: w.Last4, Created: w.Created, Site: site}, nil
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

func (c *Codec) encode(kind, id string, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if c.box == nil {
		return append([]byte{formClear}, plain...), nil
	}
	return append([]byte{formSealed}, c.box.Seal(plain, ad(kind, id))...), nil
}

func (c *Codec) decode(kind, id string, b []byte, v any) error {
	if len(b) == 0 {
		return corrupt(errors.New("empty value"))
	}
	plain := b[1:]
	switch b[0] {
	case formClear:
		// Records written in clear stay readable after keys are set, and
		// are sealed on their next write.
	case formSealed:
		if c.box == nil {
			return corrupt(errors.New("the value is sealed and the store has no key"))
		}
		var err error
		if plain, err = c.box.Open(b[1:], ad(kind, id)); err != nil {
			return corrupt(err)
		}
	default:
		return corrupt(errors.New("unknown record form"))
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return corrupt(err)
	}
	return nil
}

// ad binds a sealed value to its kind and record ID.
func ad(kind, id string) []byte { return []byte("ddoauth/" + kind + "\x00" + id) }

func corrupt(err error) error {
	return fmt.Errorf("%w: %w", ddoauth.ErrCorruptConnection, err)
}
