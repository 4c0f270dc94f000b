package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/server/servertest"
	"github.com/shepherd-prm/shepherd/server/testcert"
)

// TestMutualTLS serves over TLS that requires a client certificate: a
// client with one signed by the CA gets through, one without does not.
func TestMutualTLS(t *testing.T) {
	h := newHarness(t)
	ca := testcert.NewCA(t)
	srvCert, srvKey := ca.Issue(t, "server", x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := ca.Issue(t, "client", x509.ExtKeyUsageClientAuth)
	tlsConf, err := TLSConfig(srvCert, srvKey, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Redis: h.rdb, WorkQueue: h.env.NewQueue(), TLS: tlsConf, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	addr := servertest.ServeTCP(t, s, "").Addr
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	call := func(certs []tls.Certificate) error {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: certs})))
		if err != nil {
			return err
		}
		defer conn.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = shepherdv1.NewShepherdServiceClient(conn).ListJobs(cctx, &shepherdv1.ListJobsRequest{})
		return err
	}
	pair, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := call([]tls.Certificate{pair}); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	if err := call(nil); err == nil {
		t.Fatal("without a client certificate: the call succeeded")
	}
}
