package testcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/shepherd-prm/shepherd/server/testcert"
)

func TestIssuedCertificateVerifies(t *testing.T) {
	ca := testcert.NewCA(t)
	certFile, keyFile := ca.Issue(t, "server", x509.ExtKeyUsageServerAuth)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.PEM) {
		t.Fatal("CA PEM does not parse")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatal(err)
	}
}
