// Package datadogclient points the official Datadog client,
// github.com/DataDog/datadog-api-client-go/v2, at a ddoauth connection's
// site with the connection's credentials.
//
// The official client reads the site of each call from its context:
// [APIContext] sets up a context for REST calls with a connection's
// refreshing token, [IntakeContext] one for sending data with the
// organization's API key. The credentials are added by [Transport], which
// the client's HTTPClient must use: one client serves every customer.
//
// Only the client's core package, api/datadog, is imported here, and only
// here: its generated API packages take long to compile (datadogV1 half a
// minute, datadogV2 3 minutes and about 7 GB), and package ddoauth imports
// none of it, so a partner that does not use the official client does not
// build it.
package datadogclient

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"

	"github.com/ddoauth/ddoauth"
)

// Server indexes of the official client's server lists.
const (
	// regionalServer is https://{subdomain}.{site} with site restricted
	// to the sites the client knows.
	regionalServer = 0
	// anyDeploymentServer is https://{subdomain}.{site} for "any Datadog
	// deployment": site takes any value.
	anyDeploymentServer = 2
	// noServer is out of range in every list, so a call fails before
	// anything is sent.
	noServer = -1
)

// APIContext returns ctx set up for the official Datadog client to call
// site's REST API with bearer tokens from ts, a connection's token source:
// every call goes to the connection's own site and the [Transport] in the
// client's HTTPClient authorizes it, refreshing the token when it is due.
// Without that Transport the call goes out with no credentials. The token
// is never put where the client itself reads credentials
// (datadog.ContextOAuth2), since its Debug output would print it.
//
// Sites the client's list holds are selected by name
// (datadog.ContextServerVariables); a site added with [ddoauth.NewSite],
// which the list lacks, by the client's "any Datadog deployment" server.
// Server settings already in ctx are replaced, so no operation is routed
// elsewhere with these credentials. An operation the client cannot point
// at the site fails before sending, with the client's error about its
// server URL: On-Call paging and product analytics, whose hosts are not
// named by the site, and CI Visibility logs at US1-FED and US2-FED. So
// does every operation for a zero Site, or a Site decoded from storage
// that is not built in: resolve those with [ddoauth.Client.ResolveSite]
// first. A site other than the connection's fails in the Transport, with
// an error wrapping [ddoauth.ErrForeignHost].
func APIContext(ctx context.Context, site ddoauth.Site, ts *ddoauth.TokenSource) context.Context {
	ctx, ok := withSite(ctx, site)
	if !ok || ts == nil {
		return ctx
	}
	return context.WithValue(ctx, connectionKey{}, connection{ts: ts})
}

// IntakeContext returns ctx set up for the official Datadog client to send
// data (metrics, logs, events) with key, Datadog's partner API key, to the
// site the key belongs to: data is sent with the API key, not a token, and
// the [Transport] in the client's HTTPClient adds it. Sites and server
// settings are handled as by [APIContext]. For a nil key, a key without a
// value, or a key whose Site is unusable, every call fails before sending.
func IntakeContext(ctx context.Context, key *ddoauth.APIKey) context.Context {
	if key == nil || key.Key == "" {
		ctx, _ = withSite(ctx, ddoauth.Site{})
		return ctx
	}
	ctx, ok := withSite(ctx, key.Site)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, connectionKey{}, connection{key: key})
}

// withSite selects site's servers in the official client, replacing any
// server settings in ctx. It reports false, with a context on which every
// call fails, when site names no usable region.
func withSite(ctx context.Context, site ddoauth.Site) (context.Context, bool) {
	index, vars := noServer, map[string]string{}
	// Domain is "" for a zero Site and for one decoded from storage that
	// no table resolved.
	if d := site.Domain(); d != "" {
		index = regionalServer
		if !slices.Contains(knownSites(), d) {
			index = anyDeploymentServer
		}
		vars["site"] = d
	}
	ctx = context.WithValue(ctx, datadog.ContextServerIndex, index)
	ctx = context.WithValue(ctx, datadog.ContextServerVariables, vars)
	ctx = context.WithValue(ctx, datadog.ContextOperationServerIndices, offSiteOperations(index, vars))
	ctx = context.WithValue(ctx, datadog.ContextOperationServerVariables, map[string]map[string]string{})
	return ctx, index != noServer
}

// offSiteOperations maps to noServer the operations whose own server at
// index would take vars and still point at a host outside the site: the
// "any deployment" server of some fixes the domain (v1 IP ranges).
func offSiteOperations(index int, vars map[string]string) map[string]int {
	off := map[string]int{}
	domain := vars["site"]
	if index == noServer {
		return off
	}
	for op, servers := range defaultConfiguration().OperationServers {
		u, err := servers.URL(index, vars)
		if err != nil {
			continue // the call fails on its own, before sending
		}
		if p, err := url.Parse(u); err != nil || !inDomain(strings.ToLower(p.Hostname()), domain) {
			off[op] = noServer
		}
	}
	return off
}

// defaultConfiguration is the official client's default configuration,
// read for its server lists only; building it for each context would be
// wasteful.
var defaultConfiguration = sync.OnceValue(datadog.NewConfiguration)

// knownSites is the site enum of the official client's regional server:
// the domains it accepts by name. Deciding from the client's own list,
// rather than from ddoauth's table, keeps a site both know on the server
// that names it even if the two lists drift apart.
var knownSites = sync.OnceValue(func() []string {
	servers := defaultConfiguration().Servers
	if len(servers) <= regionalServer {
		return nil
	}
	return servers[regionalServer].Variables["site"].EnumValues
})

// inDomain reports whether host is domain or a name under it.
func inDomain(host, domain string) bool {
	if len(host) == len(domain) {
		return host == domain
	}
	return len(host) > len(domain) && host[len(host)-len(domain)-1] == '.' && strings.HasSuffix(host, domain)
}
