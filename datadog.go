package ddoauth

import (
	"context"
	"net/url"
	"strings"
	"sync"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"golang.org/x/oauth2"
)

// The official Datadog client, github.com/DataDog/datadog-api-client-go/v2,
// reads the site and the credentials of each call from its context. Only
// its core package, api/datadog, is imported here: its generated API
// packages take minutes and gigabytes to compile.

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

// APIContext returns ctx set up for the official Datadog client
// (datadog-api-client-go) to call site's REST API with bearer tokens from
// ts, such as a connection's [TokenSource]: every call goes to the
// connection's own site and refreshes the token when it is due.
// If ts has a TokenContext method, as [*TokenSource] does, it is called
// with ctx, so a canceled ctx stops the wait for a refresh.
//
// Built-in sites are selected by name (datadog.ContextServerVariables);
// a site added with [NewSite], which the client's list does not hold, by
// the client's "any Datadog deployment" server. Server settings already in
// ctx are replaced, so no operation is routed elsewhere with these
// credentials. An operation the client cannot point at the site fails
// before sending, with the client's error about its server URL: On-Call
// paging and product analytics, whose hosts are not named by the site, and
// CI Visibility logs at US1-FED and US2-FED. So does every operation for a
// zero Site, or a Site decoded from storage that is not built in: resolve
// those with [Client.ResolveSite] first.
func APIContext(ctx context.Context, site Site, ts oauth2.TokenSource) context.Context {
	ctx, ok := withSite(ctx, site)
	if !ok || ts == nil {
		return ctx
	}
	if tc, ok := ts.(tokenContexter); ok {
		ts = contextTokenSource{ctx: ctx, ts: tc}
	}
	return context.WithValue(ctx, datadog.ContextOAuth2, ts)
}

// IntakeContext returns ctx set up for the official Datadog client to send
// data (metrics, logs, events) with key, Datadog's partner API key, to the
// site the key belongs to: data is sent with the API key, not a token.
// Sites and server settings are handled as by [APIContext]. For a nil key,
// a key without a value, or a key whose Site is unusable, every call fails
// before sending. The context holds the key in the client's own types:
// %v prints only their type names, but %#v prints the key.
func IntakeContext(ctx context.Context, key *APIKey) context.Context {
	if key == nil || key.Key == "" {
		ctx, _ = withSite(ctx, Site{})
		return ctx
	}
	ctx, ok := withSite(ctx, key.Site)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, datadog.ContextAPIKeys, map[string]datadog.APIKey{
		"apiKeyAuth": {Key: key.Key},
	})
}

// withSite selects site's servers in the official client, replacing any
// server settings in ctx. It reports false, with a context on which every
// call fails, when site names no usable region.
func withSite(ctx context.Context, site Site) (context.Context, bool) {
	index, vars := noServer, map[string]string{}
	if site.ok() {
		index = regionalServer
		if !site.info.builtIn {
			index = anyDeploymentServer
		}
		vars["site"] = site.info.domain
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
	for op, servers := range operationServers() {
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

// operationServers holds the official client's per-operation server lists;
// building its whole configuration for each context would be wasteful.
var operationServers = sync.OnceValue(func() map[string]datadog.ServerConfigurations {
	return datadog.NewConfiguration().OperationServers
})

// tokenContexter is a token source that takes a context, as *TokenSource.
type tokenContexter interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

// contextTokenSource passes the context of the call to TokenContext, since
// the official client calls Token without one. It lives as long as that
// context and only bounds waits, never a shared refresh.
type contextTokenSource struct {
	ctx context.Context
	ts  tokenContexter
}

func (s contextTokenSource) Token() (*oauth2.Token, error) { return s.ts.TokenContext(s.ctx) }
