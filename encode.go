package ddoauth

import (
	"encoding/json"
	"time"

	"golang.org/x/oauth2"
)

// Connection, APIKey and Pending hold secrets. Their JSON encoding leaves
// the secrets out, so that a value holding one (a slice, a map, a struct
// field) logged through slog's JSON handler, or marshaled by anything,
// shows none. A store keeps them with the functions below instead: the
// one encoding of each that carries its secrets, named so that a review
// sees where secrets are written. Seal or encrypt what they return at
// rest; the pgstore and redisstore packages do.
//
// The encodings are JSON objects with fixed field names; fields added
// later will be optional, so what is stored stays readable.

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
	OrgID        string    `json:"org_id,omitempty"`
	OrgName      string    `json:"org_name,omitempty"`
}

type wireAPIKey struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Key     string    `json:"key"`
	Last4   string    `json:"last4"`
	Created time.Time `json:"created"`
	Site    string    `json:"site"`
	OrgID   string    `json:"org_id,omitempty"`
}

type wirePending struct {
	State       string    `json:"state"`
	Verifier    string    `json:"verifier"`
	Site        string    `json:"site,omitempty"`
	RedirectURL string    `json:"redirect_url"`
	Created     time.Time `json:"created"`
}

// MarshalConnection encodes conn with its tokens, for a [Store]. Version
// and Fence are the store's to keep, not part of the value.
func MarshalConnection(conn *Connection) ([]byte, error) {
	w := wireConnection{Site: conn.Site.String(), Scopes: conn.Scopes, Created: conn.Created, Revoked: conn.Revoked,
		OrgID: conn.OrgID, OrgName: conn.OrgName}
	if t := conn.Token; t != nil {
		w.AccessToken, w.RefreshToken, w.TokenType, w.Expiry, w.ExpiresIn = t.AccessToken, t.RefreshToken, t.TokenType, t.Expiry, t.ExpiresIn
	}
	return json.Marshal(w)
}

// UnmarshalConnection decodes what [MarshalConnection] made. Its Site is
// decoded as by [Site.UnmarshalText], its OrgID and OrgName checked and
// cleaned as the callback's are. Data that does not parse, or an OrgID
// that is not a UUID, is an error wrapping [ErrCorruptConnection].
func UnmarshalConnection(data []byte) (*Connection, error) {
	var w wireConnection
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, corruptRecord("connection", err)
	}
	conn := &Connection{Scopes: w.Scopes, Created: w.Created, Revoked: w.Revoked, OrgName: cleanOrgName(w.OrgName)}
	if w.OrgID != "" {
		id, ok := parseOrgID(w.OrgID)
		if !ok {
			return nil, corruptRecord("connection", ErrInvalidOrgID)
		}
		conn.OrgID = id
	}
	if err := conn.Site.UnmarshalText([]byte(w.Site)); err != nil {
		return nil, corruptRecord("connection", err)
	}
	if w.AccessToken != "" || w.RefreshToken != "" {
		conn.Token = &oauth2.Token{AccessToken: w.AccessToken, RefreshToken: w.RefreshToken, TokenType: w.TokenType,
			Expiry: w.Expiry, ExpiresIn: w.ExpiresIn}
	}
	return conn, nil
}

// MarshalAPIKey encodes k with its key, for an [APIKeyStore].
func MarshalAPIKey(k *APIKey) ([]byte, error) {
	return json.Marshal(wireAPIKey{ID: k.ID, Name: k.Name, Key: k.Key, Last4: k.Last4, Created: k.Created, Site: k.Site.String(),
		OrgID: k.OrgID})
}

// UnmarshalAPIKey decodes what [MarshalAPIKey] made. Data that does not
// parse is an error wrapping [ErrCorruptConnection].
func UnmarshalAPIKey(data []byte) (*APIKey, error) {
	var w wireAPIKey
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, corruptRecord("API key", err)
	}
	k := &APIKey{ID: w.ID, Name: w.Name, Key: w.Key, Last4: w.Last4, Created: w.Created, OrgID: w.OrgID}
	if err := k.Site.UnmarshalText([]byte(w.Site)); err != nil {
		return nil, corruptRecord("API key", err)
	}
	return k, nil
}

// MarshalPending encodes p with its state and verifier, to keep it
// server-side or sealed between [Client.Start] and [Client.Complete].
func MarshalPending(p *Pending) ([]byte, error) {
	return json.Marshal(wirePending{State: p.State, Verifier: p.Verifier, Site: p.Site.String(),
		RedirectURL: p.RedirectURL, Created: p.Created})
}

// UnmarshalPending decodes what [MarshalPending] made. Data that does not
// parse is an error wrapping [ErrStateMismatch]: the authorization it
// held cannot complete.
func UnmarshalPending(data []byte) (*Pending, error) {
	var w wirePending
	err := json.Unmarshal(data, &w)
	p := &Pending{State: w.State, Verifier: w.Verifier, RedirectURL: w.RedirectURL, Created: w.Created}
	if err == nil {
		err = p.Site.UnmarshalText([]byte(w.Site))
	}
	if err != nil {
		return nil, &Error{Op: "decode pending authorization", Err: ErrStateMismatch, also: []error{err}}
	}
	return p, nil
}

func corruptRecord(what string, err error) error {
	return &Error{Op: "decode " + what, Err: ErrCorruptConnection, also: []error{err}}
}

// MarshalJSON encodes c without its tokens, as LogValue logs it; see
// [MarshalConnection] for storage.
func (c Connection) MarshalJSON() ([]byte, error) {
	v := struct {
		Site    Site       `json:"site"`
		OrgID   string     `json:"org_id,omitempty"`
		OrgName string     `json:"org_name,omitempty"`
		Scopes  []string   `json:"scopes,omitempty"`
		Created time.Time  `json:"created"`
		Revoked bool       `json:"revoked,omitempty"`
		Expiry  *time.Time `json:"expiry,omitempty"`
	}{Site: c.Site, OrgID: c.OrgID, OrgName: c.OrgName, Scopes: c.Scopes, Created: c.Created, Revoked: c.Revoked}
	if c.Token != nil {
		v.Expiry = &c.Token.Expiry
	}
	return json.Marshal(v)
}

// MarshalJSON encodes k with Last4 and without its key; see
// [MarshalAPIKey] for storage.
func (k APIKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID      string    `json:"id"`
		Name    string    `json:"name"`
		Last4   string    `json:"last4"`
		Created time.Time `json:"created"`
		Site    Site      `json:"site"`
		OrgID   string    `json:"org_id,omitempty"`
	}{k.ID, k.Name, k.Last4, k.Created, k.Site, k.OrgID})
}

// MarshalJSON encodes p without its state and verifier; see
// [MarshalPending] for storage.
func (p Pending) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Site        Site      `json:"site,omitzero"`
		RedirectURL string    `json:"redirect_url"`
		Created     time.Time `json:"created"`
	}{p.Site, p.RedirectURL, p.Created})
}
