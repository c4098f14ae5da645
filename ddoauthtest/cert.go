package ddoauthtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth"
)

// validity is fixed and wide enough for the real clock and for
// testing/synctest's fake one, which starts in 2000.
func validity() (notBefore, notAfter time.Time) {
	return time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
}

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("ddoauthtest: generate key: " + err.Error())
	}
	return k
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("ddoauthtest: serial number: " + err.Error())
	}
	return n
}

// newCA mints the server's own root, so each Server is trusted only by the
// clients it hands out.
func newCA() (*x509.Certificate, any) {
	key := newKey()
	notBefore, notAfter := validity()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"ddoauthtest"}, CommonName: "ddoauthtest root CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("ddoauthtest: create CA certificate: " + err.Error())
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		panic("ddoauthtest: parse CA certificate: " + err.Error())
	}
	return ca, key
}

// siteHosts lists the host names of one site that the certificate covers,
// including a wildcard for organization subdomains (one label only).
func siteHosts(site ddoauth.Site) []string {
	d := site.Domain()
	hosts := []string{d, "*." + d, site.BrowserHost(), "api." + d}
	for _, u := range []string{site.LogsIntakeURL(), site.EventIntakeURL(), site.TraceIntakeURL(),
		site.OTLPIntakeURL(), site.ProfilingIntakeURL(), site.BrowserIntakeURL()} {
		hosts = append(hosts, strings.TrimPrefix(u, "https://"))
	}
	return hosts
}

// newLeaf issues the server certificate for every host of sites. Called
// with s.mu held.
func (s *Server) newLeaf() *tls.Certificate {
	seen := map[string]bool{}
	var names []string
	for _, site := range s.sites {
		for _, h := range siteHosts(site) {
			if !seen[h] {
				seen[h] = true
				names = append(names, h)
			}
		}
	}
	names = append(names, "localhost")
	key := newKey()
	notBefore, notAfter := validity()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"ddoauthtest"}, CommonName: "api.datadoghq.com"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.ca, &key.PublicKey, s.caKey)
	if err != nil {
		panic("ddoauthtest: create server certificate: " + err.Error())
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic("ddoauthtest: parse server certificate: " + err.Error())
	}
	return &tls.Certificate{Certificate: [][]byte{der, s.ca.Raw}, PrivateKey: key, Leaf: leaf}
}

func (s *Server) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leaf == nil {
		s.leaf = s.newLeaf()
	}
	return s.leaf, nil
}
