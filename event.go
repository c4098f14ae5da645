package ddoauth

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// EventKind says what happened to a connection; see [Event].
type EventKind string

// The kinds of [Event].
const (
	// EventRevoked: a refresh found the connection's grant gone
	// ([ErrRevoked]): the customer revoked it, or it expired. The customer
	// must authorize again. Sent once per TokenSource until a refresh
	// succeeds again (a new authorization saved under the same ID).
	EventRevoked EventKind = "revoked"
	// EventFailing: Config.FailingAfter refreshes of the connection in a
	// row failed (each after its own retries), for a reason other than a
	// revoked grant. Sent once until the connection recovers.
	EventFailing EventKind = "failing"
	// EventRecovered: a refresh succeeded after EventFailing was sent.
	EventRecovered EventKind = "recovered"
	// EventAPIKeyCreated: Datadog created the partner's API key in the
	// connection's organization.
	EventAPIKeyCreated EventKind = "api_key_created"
)

// Event is a change in a connection's life that the partner may act on
// (mark the connection, tell the customer, page someone), passed to
// Config.OnEvent. It holds no secret.
//
// Events are what this process saw: in a fleet, each replica reports the
// refreshes its own TokenSources ran or waited for, so a failing
// connection may be reported by several replicas, or by none that did not
// use it.
type Event struct {
	Kind EventKind

	// ID is the connection's ID in its Store (the TokenSource's), or for
	// EventAPIKeyCreated the APIKeyStore ID given to EnsureAPIKey ("" from
	// CreateAPIKey).
	ID string

	// Site is the connection's site (the region), when known.
	Site Site

	// Err is the last refresh's error, for EventRevoked and EventFailing.
	Err error

	// Failures is how many refreshes in a row failed, and Since when the
	// first of them ended, for EventFailing and EventRecovered.
	Failures int
	Since    time.Time

	// Last4 is the last four characters of the API key, for
	// EventAPIKeyCreated.
	Last4 string
}

// LogValue logs e's fields that are set.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", string(e.Kind)), slog.String("id", e.ID), slog.String("site", e.Site.Name())}
	if e.Failures > 0 {
		attrs = append(attrs, slog.Int("failures", e.Failures), slog.Time("since", e.Since))
	}
	if e.Last4 != "" {
		attrs = append(attrs, slog.String("last4", e.Last4))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// defaultFailingAfter is Config.FailingAfter's default.
const defaultFailingAfter = 3

// health is what a TokenSource remembers of its refreshes to send events;
// guarded by the TokenSource's mutex.
type health struct {
	failures int
	since    time.Time
	failing  bool // EventFailing was sent
	revoked  bool // EventRevoked was sent
}

// note records how a refresh of connection id ended and returns the event
// it calls for, or one with no Kind.
func (h *health) note(c *Client, id string, site Site, err error) Event {
	if c.onEvent == nil {
		return Event{}
	}
	site = c.siteOf(site, err)
	switch {
	case err == nil:
		ev := Event{}
		if h.failing {
			ev = Event{Kind: EventRecovered, ID: id, Site: site, Failures: h.failures, Since: h.since}
		}
		*h = health{}
		return ev
	case errors.Is(err, ErrRevoked):
		if h.revoked {
			return Event{}
		}
		*h = health{revoked: true}
		return Event{Kind: EventRevoked, ID: id, Site: site, Err: err}
	}
	if h.failures == 0 {
		h.since = c.now()
	}
	h.failures++
	if h.failing || h.failures < c.failingAfter {
		return Event{}
	}
	h.failing = true
	return Event{Kind: EventFailing, ID: id, Site: site, Err: err, Failures: h.failures, Since: h.since}
}

// emit passes e to Config.OnEvent, if both are set. It is called with no
// lock held, before the callers waiting for the refresh are released.
func (c *Client) emit(ctx context.Context, e Event) {
	if e.Kind != "" && c.onEvent != nil {
		c.onEvent(ctx, e)
	}
}
