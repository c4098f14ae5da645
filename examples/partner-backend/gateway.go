package main

import (
	"io"
	"net/http"
	"net/url"

	"github.com/ddoauth/ddoauth"
)

// The emulated Datadog answers on Datadog's real host names, which a
// browser resolves to the real Datadog. So that a person can click
// through the flow, the backend serves the emulator's browser pages (the
// authorize page and its consent form) under /_datadog/<host>/, and
// points the onboarding redirect there. Nothing else changes: the
// backend's ddoauth.Client still sends token and API requests to the
// emulator on the real API host names, and the consent page's form, whose
// action is relative, posts back through the same prefix.

const gatewayPrefix = "/_datadog/"

// viaGateway rewrites onboarding's redirect to a Datadog host into the
// gateway.
func (b *backend) viaGateway(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&locationRewriter{ResponseWriter: w, origin: b.origin}, r)
	})
}

type locationRewriter struct {
	http.ResponseWriter
	origin string
}

func (w *locationRewriter) WriteHeader(status int) {
	if loc := w.Header().Get("Location"); loc != "" {
		w.Header().Set("Location", toGateway(w.origin, loc))
	}
	w.ResponseWriter.WriteHeader(status)
}

// toGateway maps an https URL on a Datadog host to the gateway and leaves
// any other URL alone.
func toGateway(origin, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" {
		return raw
	}
	if _, err := ddoauth.ResolveSite(u.Host); err != nil {
		return raw
	}
	return origin + gatewayPrefix + u.Host + u.RequestURI()
}

// gateway forwards GET and POST /_datadog/<host>/<path> to the emulator as
// https://<host>/<path>, for Datadog hosts only.
func (b *backend) gateway() http.Handler {
	dd := b.dd.Client()
	dd.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.PathValue("host")
		if _, err := ddoauth.ResolveSite(host); err != nil || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
			http.NotFound(w, r)
			return
		}
		target := &url.URL{Scheme: "https", Host: host, Path: "/" + r.PathValue("path"), RawQuery: r.URL.RawQuery}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := dd.Do(req)
		if err != nil {
			http.Error(w, "emulated Datadog: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, h := range []string{"Content-Type", "Cache-Control", "Referrer-Policy", "Content-Security-Policy"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			w.Header().Set("Location", toGateway(b.origin, loc))
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body) //nolint:errcheck
	})
}
