package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// Access control: with tokens configured, every RPC but health (and, with
// Options.ReflectionWithoutAuth, reflection) must carry the metadata
// "authorization: Bearer <token>" with one of them. The caller a token
// identifies owns the jobs it creates: other callers see them as
// NOT_FOUND.

const (
	healthPrefix       = "/grpc.health.v1.Health/"
	reflectionPrefix   = "/grpc.reflection.v1.ServerReflection/"
	reflectionV1Alpha  = "/grpc.reflection.v1alpha.ServerReflection/"
	authorizationKey   = "authorization"
	bearerScheme       = "bearer "
	ownerDigestHexSize = 16
)

// LoadTokens reads bearer tokens from a file, one per line; blank lines and
// lines starting with '#' are skipped, surrounding white space is trimmed.
func LoadTokens(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens: %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tokens: %s holds no token", path)
	}
	return out, nil
}

// authenticator checks bearer tokens.
type authenticator struct {
	digests        [][32]byte
	reflectionOpen bool
}

func newAuthenticator(tokens []string, reflectionOpen bool) *authenticator {
	a := &authenticator{reflectionOpen: reflectionOpen}
	for _, t := range tokens {
		a.digests = append(a.digests, sha256.Sum256([]byte(t)))
	}
	return a
}

func (a *authenticator) enabled() bool { return len(a.digests) > 0 }

func (a *authenticator) exempt(method string) bool {
	if strings.HasPrefix(method, healthPrefix) {
		return true
	}
	return a.reflectionOpen && (strings.HasPrefix(method, reflectionPrefix) || strings.HasPrefix(method, reflectionV1Alpha))
}

type ownerKey struct{}

// ownerFrom is the caller an authenticated context carries: a digest of
// its token, "" with authentication off.
func ownerFrom(ctx context.Context) string {
	o, _ := ctx.Value(ownerKey{}).(string)
	return o
}

// authenticate returns ctx with the caller, or an UNAUTHENTICATED error.
func (a *authenticator) authenticate(ctx context.Context, method string) (context.Context, error) {
	if !a.enabled() || a.exempt(method) {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(authorizationKey)
	if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
		return nil, status.Error(codes.Unauthenticated, `missing credentials: send the metadata "authorization: Bearer <token>"`)
	}
	v := strings.TrimSpace(vals[0])
	if len(v) < len(bearerScheme) || !strings.EqualFold(v[:len(bearerScheme)], bearerScheme) {
		return nil, status.Error(codes.Unauthenticated, `malformed authorization metadata: want "Bearer <token>"`)
	}
	token := strings.TrimSpace(v[len(bearerScheme):])
	d := sha256.Sum256([]byte(token))
	match := 0
	for i := range a.digests {
		// Compare against every token, without an early exit.
		match |= subtle.ConstantTimeCompare(d[:], a.digests[i][:])
	}
	if match != 1 {
		return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	owner := hex.EncodeToString(d[:])[:ownerDigestHexSize]
	return context.WithValue(ctx, ownerKey{}, owner), nil
}

// tapKey marks a context the tap handle authenticated.
type tapKey struct{}

// tap authenticates a call from its headers alone, when the transport
// opens the stream: before a byte of the request message is read, so an
// unauthenticated caller cannot make the server buffer or decode a large
// message (the stream is reset, and data frames already in flight are
// dropped by the transport). Interceptors run too late for that: a unary
// request is read and decoded in full before the first one is called.
func (a *authenticator) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	ctx = metadata.NewIncomingContext(ctx, info.Header)
	ctx, err := a.authenticate(ctx, info.FullMethodName)
	if err != nil {
		return nil, err
	}
	return context.WithValue(ctx, tapKey{}, true), nil
}

// ensure authenticates a call the tap handle did not see (a grpc.Server
// built without GRPCServerOptions' tap): correct, but only after the
// request was read.
func (a *authenticator) ensure(ctx context.Context, method string) (context.Context, error) {
	if done, _ := ctx.Value(tapKey{}).(bool); done {
		return ctx, nil
	}
	return a.authenticate(ctx, method)
}

func (a *authenticator) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := a.ensure(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a *authenticator) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := a.ensure(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

// contextStream is a ServerStream with another context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
