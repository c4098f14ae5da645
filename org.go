package ddoauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

// ErrInvalidOrgID: a dd_oid value (on the onboarding link, on the
// callback, or given to [WithOrgID]) is repeated or is not an
// organization UUID. On the callback the error also matches
// [ErrInvalidCallback].
var ErrInvalidOrgID = errors.New("invalid organization ID")

// Datadog names the customer's organization with these parameters: on the
// callback, dd_oid (its UUID) and dd_org_name; on the authorize URL,
// dd_oid picks the organization and skips Datadog's organization switcher.
const (
	orgIDParam   = "dd_oid"
	orgNameParam = "dd_org_name"
)

// Bounds of an organization name: a longer raw value is dropped whole
// rather than cut (it is no name anyone typed), a longer clean one is cut
// to maxOrgName runes.
const (
	maxOrgNameInput = 1024
	maxOrgName      = 128
)

// StartOption changes one authorization begun by [Client.Start].
type StartOption interface{ setStart(*startOptions) }

type startOptions struct{ orgID string }

type orgIDOption string

func (o orgIDOption) setStart(s *startOptions) { s.orgID = string(o) }

// WithOrgID asks Datadog to authorize the organization with this UUID
// (dd_oid), skipping its organization switcher: pass the dd_oid of the
// onboarding link when it has one. "" adds nothing, so the link's value
// may be passed as it is. Start fails with [ErrInvalidOrgID] for a value
// that is not a UUID. The organization the callback names, not this one,
// is what the Connection records.
func WithOrgID(id string) StartOption { return orgIDOption(id) }

// authURLOptions returns the authorize URL parameters of opts, or an
// error for an unusable one.
func authURLOptions(opts []StartOption) ([]oauth2.AuthCodeOption, error) {
	var o startOptions
	for _, opt := range opts {
		if opt != nil {
			opt.setStart(&o)
		}
	}
	if o.orgID == "" {
		return nil, nil
	}
	id, ok := parseOrgID(o.orgID)
	if !ok {
		return nil, &Error{Op: "start", Err: ErrInvalidOrgID, Description: "WithOrgID: " + shownOrgID(o.orgID) + " is not a UUID"}
	}
	return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam(orgIDParam, id)}, nil
}

// orgIDFromQuery returns the dd_oid of q in canonical form, "" when it is
// absent or empty, or a description of what is wrong with it.
func orgIDFromQuery(q url.Values) (id, bad string) {
	vals := q[orgIDParam]
	switch {
	case len(vals) == 0 || len(vals) == 1 && vals[0] == "":
		return "", ""
	case len(vals) > 1:
		return "", fmt.Sprintf("the dd_oid parameter is given %d times", len(vals))
	}
	id, ok := parseOrgID(vals[0])
	if !ok {
		return "", "the dd_oid parameter " + shownOrgID(vals[0]) + " is not an organization UUID"
	}
	return id, ""
}

// callbackOrg reads the organization Datadog's callback names: its ID,
// which must be a UUID when present, and its name, cleaned for display
// and dropped when it cannot be. Both are what the browser brought back,
// not what the token proves.
func callbackOrg(q url.Values, site string) (id, name string, err error) {
	id, bad := orgIDFromQuery(q)
	if bad != "" {
		return "", "", &Error{Op: "callback", Site: site, Err: ErrInvalidCallback, also: []error{ErrInvalidOrgID}, Description: bad}
	}
	if names := q[orgNameParam]; len(names) == 1 {
		name = cleanOrgName(names[0])
	}
	return id, name, nil
}

// parseOrgID accepts a UUID in its 8-4-4-4-12 hexadecimal form, in any
// case, and returns it in lower case. Any version is accepted (Datadog's
// are not all random ones); the nil UUID is not an organization.
func parseOrgID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	zero := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			zero = zero && c == '0'
		default:
			return "", false
		}
	}
	if zero {
		return "", false
	}
	return strings.ToLower(s), true
}

// shownOrgID quotes at most the first 40 bytes of a refused value for an
// error: enough to recognize it, too little to carry a payload.
func shownOrgID(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}

// cleanOrgName makes a display string of an organization name from a
// request: invalid UTF-8 or over maxOrgNameInput bytes gives ""; control,
// format (bidirectional overrides and isolates, zero-width characters,
// tags), private-use and unassigned-surrogate characters are removed;
// every run of white space becomes one space; the result is trimmed and
// cut to maxOrgName runes. Markup is left as it is: escape the name for
// where it goes (html/template does).
func cleanOrgName(raw string) string {
	if len(raw) > maxOrgNameInput || !utf8.ValidString(raw) {
		return ""
	}
	var b strings.Builder
	n, space := 0, false
	for _, r := range raw {
		switch {
		case unicode.IsSpace(r) || unicode.In(r, unicode.Zl, unicode.Zp):
			space = n > 0
			continue
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) || r == utf8.RuneError ||
			r&0xfffe == 0xfffe || r >= 0xfdd0 && r <= 0xfdef: // noncharacters
			continue
		}
		if n == maxOrgName {
			break
		}
		if space {
			if n+1 == maxOrgName {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// APIKeyID returns the ID to keep c's API key under in an [APIKeyStore],
// given the partner's own ID for the customer (a tenant or account ID):
// customer, the region's domain and, when the callback named it, the
// organization's UUID, joined by slashes ("acme/datadoghq.eu/<uuid>").
// Datadog creates one key per organization, so when the customer
// connects another organization of the same site the new connection
// gets a key of its own instead of the old organization's, and when it
// reconnects the same one the stored key is found.
//
// The customer part is not optional: the organization's ID comes from
// the browser's callback, not from the token, so an ID made of it alone
// would let one customer name another's organization and be handed its
// key. Without an organization ID the ID is customer and domain. A key
// saved under that shorter ID is not found under the longer one: when a
// customer's connection first names its organization, move the key to
// the longer ID (or keep the ID it was saved under), or EnsureAPIKey asks
// Datadog again and meets ErrAPIKeyExists.
func (c *Connection) APIKeyID(customer string) string {
	id := customer + "/" + c.Site.Domain()
	if c.OrgID != "" {
		id += "/" + c.OrgID
	}
	return id
}
