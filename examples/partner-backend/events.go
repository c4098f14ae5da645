package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth"
)

// failingNote starts the note /connections shows while a connection's
// token refreshes keep failing.
const failingNote = "token refreshes failing"

// onEvent is ddoauth.Config.OnEvent: it logs each event of a connection's
// life and marks the connection in /connections: revoked when Datadog
// refused its grant, a note while its refreshes keep failing, cleared when
// they work again. An API key creation is only logged (onConnect records
// the key). Events are what this process saw: each replica logs and marks
// its own, as the connection list here is per process too.
func (b *backend) onEvent(_ context.Context, e ddoauth.Event) {
	var msg strings.Builder
	fmt.Fprintf(&msg, "partner-backend: connection %s at %s: %s", e.ID, e.Site.Name(), e.Kind)
	switch e.Kind {
	case ddoauth.EventFailing:
		fmt.Fprintf(&msg, ": %d refreshes in a row since %s: %v", e.Failures, e.Since.UTC().Format(time.RFC3339), e.Err)
	case ddoauth.EventRecovered:
		fmt.Fprintf(&msg, " after %d failed refreshes", e.Failures)
	case ddoauth.EventAPIKeyCreated:
		fmt.Fprintf(&msg, ": key ending %s", e.Last4)
	}
	fmt.Fprintln(b.logs, msg.String())

	b.mu.Lock()
	defer b.mu.Unlock()
	rec := b.conns[e.ID] // an API key's event carries the key's ID: no record
	if rec == nil || rec.Status == "disconnected" {
		return
	}
	switch e.Kind {
	case ddoauth.EventRevoked:
		rec.Status = "revoked"
		rec.Note = "Datadog refused the grant: the customer must connect again"
	case ddoauth.EventFailing:
		rec.Note = fmt.Sprintf("%s since %s (%d in a row)",
			failingNote, e.Since.UTC().Format(time.RFC3339), e.Failures)
	case ddoauth.EventRecovered:
		if strings.HasPrefix(rec.Note, failingNote) {
			rec.Note = ""
		}
	}
}
