// Package browsertest drives a real browser, headless Chromium, through
// ddoauth's onboarding and callback handlers and ddoauthtest's consent
// page. It has tests only; they skip when Chromium is not installed
// (`make chromium` installs Debian's package).
package browsertest
