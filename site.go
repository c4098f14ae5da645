package ddoauth

import (
	"fmt"
	"net/url"
	"strings"
)

// siteInfo is one row of the site table. Every URL a Client uses is built
// from these fields, never from the value a request carried.
type siteInfo struct {
	name      string // "US1"
	domain    string // "datadoghq.com"
	browser   string // browser / authorize host without an org subdomain
	api       string // "api.<domain>"
	authorize string // precomputed URLs for the common, org-less case
	token     string
	revoke    string
	apiKey    string
	apiURL    string
	builtIn   bool
}

func newSiteInfo(name, domain, browser string, builtIn bool) *siteInfo {
	api := "api." + domain
	return &siteInfo{
		name:      name,
		domain:    domain,
		browser:   browser,
		api:       api,
		authorize: "https://" + browser + authorizePath,
		token:     "https://" + api + "/oauth2/v1/token",
		revoke:    "https://" + api + "/oauth2/v1/revoke",
		apiKey:    "https://" + api + "/api/v2/api_keys/marketplace",
		apiURL:    "https://" + api,
		builtIn:   builtIn,
	}
}

const authorizePath = "/oauth2/v1/authorize"

// builtInSites is Datadog's site table (https://docs.datadoghq.com/getting_started/site/).
// It is never modified; Config.Sites adds rows per Client.
var builtInSites = []*siteInfo{
	newSiteInfo("US1", "datadoghq.com", "app.datadoghq.com", true),
	newSiteInfo("US3", "us3.datadoghq.com", "us3.datadoghq.com", true),
	newSiteInfo("US5", "us5.datadoghq.com", "us5.datadoghq.com", true),
	newSiteInfo("EU1", "datadoghq.eu", "app.datadoghq.eu", true),
	newSiteInfo("AP1", "ap1.datadoghq.com", "ap1.datadoghq.com", true),
	newSiteInfo("AP2", "ap2.datadoghq.com", "ap2.datadoghq.com", true),
	newSiteInfo("UK1", "uk1.datadoghq.com", "uk1.datadoghq.com", true),
	newSiteInfo("US1-FED", "ddog-gov.com", "app.ddog-gov.com", true),
	newSiteInfo("US2-FED", "us2.ddog-gov.com", "us2.ddog-gov.com", true),
}

// Site is a Datadog site (region), optionally with the custom subdomain of an
// organization. The zero Site means "no site chosen"; see [Site.IsZero].
//
// Site values are comparable. Two Sites are the same region when their
// [Site.Domain] values are equal, whatever their [Site.Org].
//
// A Site marshals to its host form ("datadoghq.eu", "acme.datadoghq.com").
// Decoding re-resolves that form against the built-in table, so a Site
// read back from storage is as trustworthy as one from [ResolveSite].
type Site struct {
	info *siteInfo
	org  string
}

// Sites returns Datadog's built-in sites in a fixed order: US1, US3, US5,
// EU1, AP1, AP2, UK1, US1-FED, US2-FED.
func Sites() []Site {
	out := make([]Site, len(builtInSites))
	for i, s := range builtInSites {
		out[i] = Site{info: s}
	}
	return out
}

// NewSite defines a Datadog site that this package does not know yet, for
// [Config.Sites]. domain is the site's DD_SITE value ("us7.datadoghq.com");
// browserHost is where its web app and authorize page are served, either
// the domain itself or "app." + domain. API hosts are derived as for every
// Datadog site. NewSite returns an error wrapping [ErrUnknownSite] for a
// malformed domain or a browser host of another shape.
//
// Only an operator's configuration should reach NewSite: a site is an
// allowlist entry, never something read from a request.
func NewSite(name, domain, browserHost string) (Site, error) {
	if name == "" || len(name) > 32 || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return Site{}, siteError("new site", name, "name must be 1-32 printable ASCII characters")
	}
	if !isHostname(domain) || strings.Count(domain, ".") < 1 {
		return Site{}, siteError("new site", domain, "domain must be a lower-case DNS name such as us7.datadoghq.com")
	}
	if browserHost != domain && browserHost != "app."+domain {
		return Site{}, siteError("new site", browserHost, "browser host must be the domain or app.<domain>")
	}
	return Site{info: newSiteInfo(name, domain, browserHost, false)}, nil
}

// IsZero reports whether s is the zero Site: no site was chosen.
func (s Site) IsZero() bool { return s.info == nil }

// Name is Datadog's short name for the site, such as "EU1" or "US1-FED".
func (s Site) Name() string {
	if !s.ok() {
		return ""
	}
	return s.info.name
}

// Domain is the site's region domain, the value of DD_SITE ("datadoghq.eu").
// It never carries an organization subdomain.
func (s Site) Domain() string {
	if !s.ok() {
		return ""
	}
	return s.info.domain
}

// Org is the organization's custom subdomain label ("acme" for
// acme.datadoghq.com), or "" when the site was named without one.
func (s Site) Org() string {
	if !s.ok() {
		return ""
	}
	return s.org
}

// Region returns s without its organization subdomain.
func (s Site) Region() Site {
	if !s.ok() {
		return s
	}
	return Site{info: s.info}
}

// SameRegion reports whether s and t are the same Datadog site, ignoring
// organization subdomains.
func (s Site) SameRegion(t Site) bool {
	if !s.ok() || !t.ok() {
		return s.info == nil && t.info == nil
	}
	return s.info.domain == t.info.domain
}

// BrowserHost is the host of the web app and authorize page: the
// organization's subdomain host when s has one.
func (s Site) BrowserHost() string {
	switch {
	case !s.ok():
		return ""
	case s.org != "":
		return s.org + "." + s.info.domain
	default:
		return s.info.browser
	}
}

// AuthorizeURL is the browser-facing authorization endpoint. It is the only
// URL that carries the organization subdomain.
func (s Site) AuthorizeURL() string {
	if !s.ok() {
		return ""
	}
	if s.org != "" {
		return "https://" + s.BrowserHost() + authorizePath
	}
	return s.info.authorize
}

// TokenURL is the token endpoint, https://api.<domain>/oauth2/v1/token.
func (s Site) TokenURL() string { return s.get(func(i *siteInfo) string { return i.token }) }

// RevokeURL is the RFC 7009 revocation endpoint, https://api.<domain>/oauth2/v1/revoke.
func (s Site) RevokeURL() string { return s.get(func(i *siteInfo) string { return i.revoke }) }

// APIKeyURL is the endpoint that creates the partner's API key,
// https://api.<domain>/api/v2/api_keys/marketplace.
func (s Site) APIKeyURL() string { return s.get(func(i *siteInfo) string { return i.apiKey }) }

// APIURL is the REST API origin, https://api.<domain>.
func (s Site) APIURL() string { return s.get(func(i *siteInfo) string { return i.apiURL }) }

// LogsIntakeURL is the logs HTTP intake origin; logs are POSTed to /api/v2/logs.
func (s Site) LogsIntakeURL() string { return s.origin("http-intake.logs.") }

// EventIntakeURL is the event management intake origin.
func (s Site) EventIntakeURL() string { return s.origin("event-management-intake.") }

// TraceIntakeURL is the APM intake origin; OTLP traces go to /v1/traces.
func (s Site) TraceIntakeURL() string { return s.origin("trace.agent.") }

// OTLPIntakeURL is the OTLP intake origin for metrics (/v1/metrics) and logs (/v1/logs).
func (s Site) OTLPIntakeURL() string { return s.origin("otlp.") }

// ProfilingIntakeURL is the continuous profiler intake origin.
func (s Site) ProfilingIntakeURL() string { return s.origin("intake.profile.") }

// BrowserIntakeURL is the RUM, browser logs and mobile intake origin. Its
// host is "browser-intake-" followed by the domain with the dots before the
// top-level domain turned to dashes (browser-intake-us3-datadoghq.com).
func (s Site) BrowserIntakeURL() string {
	if !s.ok() {
		return ""
	}
	d := s.info.domain
	i := strings.LastIndexByte(d, '.')
	return "https://browser-intake-" + strings.ReplaceAll(d[:i], ".", "-") + d[i:]
}

// unresolvedInfo marks a Site decoded from a host that is not built in: its
// host form survives a storage round trip for [Client.ResolveSite], and
// every URL method returns "" until then.
var unresolvedInfo = &siteInfo{}

func (s Site) ok() bool { return s.info != nil && s.info != unresolvedInfo }

func (s Site) get(f func(*siteInfo) string) string {
	if !s.ok() {
		return ""
	}
	return f(s.info)
}

func (s Site) origin(prefix string) string {
	if !s.ok() {
		return ""
	}
	return "https://" + prefix + s.info.domain
}

// String returns the host form of s, the same text MarshalText produces.
func (s Site) String() string {
	if !s.ok() {
		return s.org
	}
	if s.org != "" {
		return s.org + "." + s.info.domain
	}
	return s.info.domain
}

// MarshalText encodes s in its host form; the zero Site encodes as "".
func (s Site) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText resolves text against the built-in site table. An empty
// text decodes to the zero Site. A well-formed host that is not built in
// (a site added with [Config.Sites]) decodes to an unresolved Site whose
// URL methods return ""; a Client re-resolves every Site it is handed
// against its own table, and fails with [ErrUnknownSite] for one it lacks.
// Malformed text fails with [ErrUnknownSite].
func (s *Site) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*s = Site{}
		return nil
	}
	site, err := ResolveSite(string(text))
	if err != nil {
		host, reason := siteHost(string(text))
		if reason != "" {
			return err
		}
		site = Site{info: unresolvedInfo, org: host}
	}
	*s = site
	return nil
}

// maxSiteLen bounds what ResolveSite reads: "https://" + a 253-byte DNS name + "/".
const maxSiteLen = len("https://") + 253 + 1

// ResolveSite maps a Datadog site or domain value to a built-in Site. It
// accepts every form Datadog has sent in its onboarding and callback
// redirects: a bare domain ("datadoghq.eu"), a host ("app.datadoghq.eu",
// "us5.datadoghq.com"), an https origin with or without a trailing slash
// ("https://app.datadoghq.eu/"), in any letter case, and an organization's
// custom subdomain ("acme.datadoghq.com", "https://acme.us5.datadoghq.com").
//
// Anything else is rejected with an error for which errors.Is(err,
// ErrUnknownSite) holds: look-alike hosts, userinfo, ports, paths, queries,
// fragments, IP literals, other schemes, percent-encoding, non-ASCII or
// punycode labels, control characters, and empty or over-long values. A
// label shaped like a region ("us7.datadoghq.com") that is not in the table
// is rejected rather than read as an organization, so an unknown region is
// never silently sent to US1; add it with [NewSite] and [Config.Sites].
// So is a label naming one of Datadog's own hosts (www, status, docs,
// trust, the intakes, ...): "app" and "api" name the region itself.
//
// The returned Site builds its URLs from the table, never from raw.
func ResolveSite(raw string) (Site, error) { return resolveSite(raw, nil) }

func resolveSite(raw string, extra []*siteInfo) (Site, error) {
	host, reason := siteHost(raw)
	if reason != "" {
		return Site{}, siteError("resolve site", raw, reason)
	}
	var best *siteInfo
	for _, table := range [2][]*siteInfo{builtInSites, extra} {
		for _, si := range table {
			if inDomain(host, si.domain) &&
				(best == nil || len(si.domain) > len(best.domain)) {
				best = si
			}
		}
	}
	if best == nil {
		return Site{}, siteError("resolve site", raw, "not a Datadog site")
	}
	if host == best.domain || host == best.browser || host == best.api {
		return Site{info: best}, nil
	}
	org := host[:len(host)-len(best.domain)-1]
	switch {
	case strings.Contains(org, "."):
		return Site{}, siteError("resolve site", raw, "more than one label before the site domain")
	case org == "app" || org == "api":
		return Site{info: best}, nil
	case isRegionLabel(org):
		return Site{}, siteError("resolve site", raw, "looks like a Datadog region this client does not know; add it with NewSite and Config.Sites")
	case isServiceLabel(org):
		return Site{}, siteError("resolve site", raw, "names one of Datadog's own hosts, not an organization")
	}
	return Site{info: best, org: org}, nil
}

// isServiceLabel reports whether l, one label in front of a site domain,
// names a host Datadog runs for itself rather than an organization's
// sign-in page: a browser sent there would carry state, code challenge,
// client ID and redirect URI to a status page, the docs or an intake. The
// list is from Datadog's documentation of its network destinations and of
// its PrivateLink endpoints (agent/configuration/network,
// agent/guide/private-link) and of its web properties; every label with
// "intake" in it is also refused, since Datadog names its intakes so
// (http-intake, event-management-intake, llmobs-intake, browser-intake-…).
// An organization whose subdomain collides is refused too: failing closed
// costs that organization its subdomain in the authorize URL, never more,
// since the region's own authorize page serves it as well.
func isServiceLabel(l string) bool {
	if strings.Contains(l, "intake") {
		return true
	}
	switch l {
	case
		// web properties
		"www", "www2", "status", "docs", "trust", "help", "support", "learn", "p", "public",
		"ip-ranges", "custom-domains", "static", "assets", "cdn", "app2", "api2",
		"login", "sso", "auth", "oauth", "oauth2", "id", "account", "accounts", "admin", "console",
		// Agent installation
		"install", "yum", "apt", "keys", "windows-agent",
		// Agent, intake and product services
		"agent", "agents", "process", "orchestrator", "config", "remote-config",
		"trace", "traces", "apm", "metrics", "logs", "live", "events", "event-management",
		"otlp", "opamp", "mcp", "profile", "profiling", "browser", "rum", "mobile",
		"appsec", "instrumentation", "instrumentation-telemetry", "telemetry",
		"synthetics", "network-devices", "ndm", "ci", "ci-app", "cicd", "llmobs",
		"debugger", "sourcemap", "webhook", "webhooks", "flare":
		return true
	}
	return false
}

// inDomain reports whether host is domain or a subdomain of it.
func inDomain(host, domain string) bool {
	if len(host) == len(domain) {
		return host == domain
	}
	return len(host) > len(domain) && host[len(host)-len(domain)-1] == '.' && strings.HasSuffix(host, domain)
}

// siteHost strips the optional https scheme and trailing slash and checks
// that what is left is a plain lower-cased DNS name. It returns the reason
// for a rejection, or "".
func siteHost(raw string) (string, string) {
	if raw == "" {
		return "", "empty"
	}
	if len(raw) > maxSiteLen {
		return "", "too long"
	}
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		if !strings.EqualFold(s[:i], "https") {
			return "", "scheme must be https"
		}
		s = s[i+3:]
	}
	s = strings.TrimSuffix(s, "/")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return "", "not a host name: only letters, digits, '.' and '-' are allowed"
		}
	}
	s = strings.ToLower(s)
	if !isHostname(s) {
		return "", "not a DNS host name"
	}
	return s, ""
}

// isHostname reports whether s is a lower-case ASCII DNS name with no
// empty, over-long, hyphen-edged, punycode or all-numeric labels.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.HasPrefix(label, "xn--") {
			return false
		}
		digits := true
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
			digits = digits && c >= '0' && c <= '9'
		}
		if digits {
			return false // IPv4 literals and numeric TLDs
		}
	}
	return true
}

// isRegionLabel matches labels Datadog uses for regions: two letters and a
// number (us3, ap2, uk1, eu2).
func isRegionLabel(l string) bool {
	if len(l) < 3 || len(l) > 4 || l[0] < 'a' || l[0] > 'z' || l[1] < 'a' || l[1] > 'z' {
		return false
	}
	for i := 2; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// SiteFromQuery reads the site from the query of a Datadog redirect, the
// onboarding link or the callback. Datadog has sent it as "site" (an
// origin, possibly with an organization subdomain), as "domain" (the bare
// region) or as both. It returns the zero Site and no error when neither is
// present. A repeated parameter, or two values naming different regions,
// is an error wrapping [ErrSiteMismatch]; an unknown value wraps
// [ErrUnknownSite]. When both are present the one carrying an organization
// subdomain is returned, so the authorize page keeps it.
func SiteFromQuery(q url.Values) (Site, error) { return siteFromQuery(q, nil) }

func siteFromQuery(q url.Values, extra []*siteInfo) (Site, error) {
	var found Site
	for _, key := range [...]string{"site", "domain"} {
		vals, ok := q[key]
		if !ok {
			continue
		}
		if len(vals) != 1 {
			return Site{}, &Error{Op: "read site", Err: ErrSiteMismatch, Description: fmt.Sprintf("parameter %q given %d times", key, len(vals))}
		}
		s, err := resolveSite(vals[0], extra)
		if err != nil {
			return Site{}, err
		}
		switch {
		case found.IsZero():
			found = s
		case !found.SameRegion(s):
			return Site{}, &Error{Op: "read site", Err: ErrSiteMismatch,
				Description: fmt.Sprintf("site names %s and domain names %s", found.Name(), s.Name())}
		case found.org == "":
			found = s
		}
	}
	return found, nil
}

func siteError(op, raw, reason string) error {
	const maxShown = 80
	if len(raw) > maxShown {
		raw = raw[:maxShown] + "…"
	}
	return &Error{Op: op, Err: ErrUnknownSite, Description: fmt.Sprintf("%q: %s", raw, reason)}
}
