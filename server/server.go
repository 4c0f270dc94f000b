package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/shepherd-prm/shepherd/labeler/grade"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/prm"
)

// Server is the shepherd gRPC service over a shared Redis. See the package
// documentation for its life cycle.
type Server struct {
	opt    Options
	rdb    redis.UniversalClient
	q      Queue // for admin operations; each scheduler opens its own
	store  *store
	grader *grade.Grader
	log    *slog.Logger
	auth   *authenticator
	health *health.Server

	// runCtx lives until Shutdown; schedulers and loops derive from it.
	runCtx  context.Context
	stopRun context.CancelFunc
	closing chan struct{} // closed when Shutdown begins
	loops   sync.WaitGroup
	// adoptNow wakes the adoption loop (a scheduler ended, so this server
	// may have room for a job waiting).
	adoptNow chan struct{}

	mu       sync.Mutex
	started  bool
	stopping bool
	runners  map[string]*runner
	grpcSrv  *grpc.Server // set by Serve or Register; stopped by Shutdown

	// mc serves Score in Monte-Carlo mode on the workers' queue.
	mc *ScoreService

	shutdownOnce sync.Once
}

// New returns a server; it starts nothing (see Start and Serve).
func New(opt Options) (*Server, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opt:      opt,
		rdb:      opt.Redis,
		q:        opt.WorkQueue,
		store:    &store{rdb: opt.Redis, ttl: opt.JobTTL, now: opt.Clock.Now},
		grader:   opt.Grader,
		log:      opt.Logger,
		auth:     newAuthenticator(opt.Tokens, opt.ReflectionWithoutAuth),
		health:   health.NewServer(),
		runCtx:   ctx,
		stopRun:  cancel,
		closing:  make(chan struct{}),
		adoptNow: make(chan struct{}, 1),
		runners:  map[string]*runner{},
	}
	s.health.SetServingStatus(shepherdv1.ShepherdService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	s.mc = &ScoreService{MC: &prm.Scorer{Grader: s.grader, MaxCandidates: opt.MaxSolutionsPerProblem, NewQueue: s.scoreQueue}}
	return s, nil
}

// Options returns the server's options, defaults filled in.
func (s *Server) Options() Options { return s.opt }

// GRPCServerOptions are the options a grpc.Server needs for this service:
// authentication from the headers before the request is read (a tap
// handle), the interceptor chains (recovery, observation, validation), the
// message size limit and, when tlsConf is set, TLS.
func (s *Server) GRPCServerOptions(tlsConf *tls.Config) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.opt.MaxMessageBytes),
		grpc.InTapHandle(s.auth.tap),
		grpc.ForceServerCodecV2(newUTF8Codec()),
		grpc.ChainUnaryInterceptor(s.unaryInterceptors()...),
		grpc.ChainStreamInterceptor(s.streamInterceptors()...),
	}
	if tlsConf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConf)))
	}
	return opts
}

// Register registers the shepherd service, the health service and server
// reflection on g, which should be built with GRPCServerOptions. Shutdown
// stops the first grpc.Server registered (gracefully, then forcibly).
func (s *Server) Register(g *grpc.Server) {
	s.mu.Lock()
	if s.grpcSrv == nil {
		s.grpcSrv = g
	}
	s.mu.Unlock()
	shepherdv1.RegisterShepherdServiceServer(g, &service{s: s})
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
}

// Health is the server's health service, SERVING until Shutdown.
func (s *Server) Health() *health.Server { return s.health }

// Start starts the background loops: job adoption (at once, then every
// AdoptInterval, and as soon as another server releases a job), lease
// heartbeats, progress writes, the expiry of finished jobs and the watch
// for a Redis restart. It returns at once; calling it again does nothing.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopping {
		return
	}
	s.started = true
	for _, loop := range []func(context.Context){s.adoptLoop, s.heartbeatLoop, s.progressLoop, s.expiryLoop, s.storeWatchLoop, s.releasedLoop, s.consumersLoop} {
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			loop(s.runCtx)
		}()
	}
}

// Serve serves the API on lis until ctx ends or Shutdown is called, then
// shuts down gracefully within Options.ShutdownTimeout. It builds the
// grpc.Server (with Options.TLS), registers the services and starts the
// background loops.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	g := grpc.NewServer(s.GRPCServerOptions(s.opt.TLS)...)
	s.mu.Lock()
	s.grpcSrv = g
	s.mu.Unlock()
	s.Register(g)
	s.Start()
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(lis) }()
	select {
	case <-ctx.Done():
		s.Shutdown(s.opt.ShutdownTimeout)
		<-errc
		return nil
	case err := <-errc:
		s.Shutdown(s.opt.ShutdownTimeout)
		return err
	}
}

// Shutdown stops the server: health turns NOT_SERVING, open label streams
// end with UNAVAILABLE (clients resume from their last cursor), the
// grpc.Server (Serve's, or the one given to Register) stops gracefully,
// forcibly after timeout, the background loops and the schedulers stop, and the leases of the
// jobs this server scheduled are released so that another server adopts
// them at once; the jobs stay RUNNING in Redis. Later calls wait for the
// first to finish.
func (s *Server) Shutdown(timeout time.Duration) {
	s.shutdownOnce.Do(func() { s.shutdown(timeout, true) })
}

// crash stops like a process that dies: no lease is released (tests).
func (s *Server) crash() {
	s.shutdownOnce.Do(func() { s.shutdown(0, false) })
}

func (s *Server) shutdown(timeout time.Duration, release bool) {
	s.health.Shutdown()
	close(s.closing)
	s.mu.Lock()
	g := s.grpcSrv
	s.mu.Unlock()
	if g != nil {
		if timeout <= 0 {
			g.Stop()
		} else {
			stopped := make(chan struct{})
			go func() { g.GracefulStop(); close(stopped) }()
			t := time.NewTimer(timeout)
			select {
			case <-stopped:
				t.Stop()
			case <-t.C:
				g.Stop()
				<-stopped
			}
		}
	}
	s.mu.Lock()
	s.stopping = true
	runners := make([]*runner, 0, len(s.runners))
	for _, r := range s.runners {
		runners = append(runners, r)
	}
	s.mu.Unlock()
	for _, r := range runners {
		r.stop(release)
	}
	s.stopRun()
	s.loops.Wait()
	for _, r := range runners {
		<-r.done
	}
	_ = s.q.Close()
}

// runningJobs lists the jobs this server schedules.
func (s *Server) runningJobs() []*runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*runner, 0, len(s.runners))
	for _, r := range s.runners {
		out = append(out, r)
	}
	return out
}

func (s *Server) localRunner(jobID string) *runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runners[jobID]
}
