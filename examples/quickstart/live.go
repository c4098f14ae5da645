package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/ddoauth/ddoauth"
)

// runLive authorizes one organization on real Datadog through a loopback
// redirect URI, refreshes the token, and revokes the grant. It does not
// create the API key: Datadog shows that key once, and a quickstart has
// nowhere safe to keep it.
func runLive(ctx context.Context, site ddoauth.Site, getenv func(string) string, out io.Writer) error {
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     getenv("DD_CLIENT_ID"),
		ClientSecret: getenv("DD_CLIENT_SECRET"),
		RedirectURL:  getenv("DD_REDIRECT_URL"),
	})
	if err != nil {
		return err
	}
	redirect, err := url.Parse(getenv("DD_REDIRECT_URL"))
	if err != nil || redirect.Scheme != "http" || redirect.Port() == "" {
		return errors.New("DD_REDIRECT_URL must be a loopback URL with a port, such as http://127.0.0.1:8765/callback")
	}
	path := redirect.Path
	if path == "" {
		path = "/"
	}
	ln, err := net.Listen("tcp", redirect.Host)
	if err != nil {
		return err
	}
	authURL, pending, err := client.Start(site)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Open this URL in a browser signed in to Datadog:")
	fmt.Fprintln(out, authURL)

	done := make(chan result, 1)
	mux := http.NewServeMux()
	mux.Handle(path, callback(client, pending, done))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Minute):
		return errors.New("no callback within 10 minutes")
	}
	if res.err != nil {
		return res.err
	}
	fmt.Fprintf(out, "connected: %v\n", res.conn)
	next, err := client.Refresh(ctx, res.conn)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "refreshed: %v\n", next)
	if err := client.Revoke(ctx, next); err != nil {
		return err
	}
	fmt.Fprintln(out, "revoked: the grant is gone; run again to connect anew")
	return nil
}

type result struct {
	conn *ddoauth.Connection
	err  error
}

// callback serves the loopback redirect URI: the first request carrying
// pending's state completes the authorization and sends the result on
// done. Other requests, which any page or local program can send, get
// 404 without a state and 400 with another, and leave that one try alone.
func callback(client *ddoauth.Client, pending *ddoauth.Pending, done chan<- result) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		q := r.URL.Query()
		if !q.Has("state") {
			http.NotFound(w, r) // a favicon or a stray request, not the callback
			return
		}
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(pending.State)) != 1 {
			http.Error(w, "This is not the callback of the authorization the quickstart started.", http.StatusBadRequest)
			return
		}
		var conn *ddoauth.Connection
		err := errors.New("this authorization was already completed")
		once.Do(func() { conn, err = client.Complete(r.Context(), pending, q) })
		if err != nil {
			http.Error(w, "Authorization failed; see the terminal.", http.StatusBadRequest)
		} else {
			fmt.Fprintln(w, "Connected. You may now close this tab.")
		}
		select {
		case done <- result{conn, err}:
		default:
		}
	})
}
