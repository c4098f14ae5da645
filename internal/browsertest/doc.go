// Package browsertest drives a real browser, headless Chromium, through
// ddoauth's onboarding and callback handlers and ddoauthtest's consent
// page. It has tests only; they skip when Chromium is not installed at
// /usr/bin/chromium (`make chromium` installs Debian's package), and fail
// instead when DDOAUTH_REQUIRE_BROWSER=1, as CI sets once it installed it.
package browsertest
