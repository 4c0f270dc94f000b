package server

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// Fixed limits of the API (the proto documents them); the others are in
// Options.
const (
	maxRequestIDBytes = 128
	maxIDBytes        = 256
	maxModelBytes     = 256
	maxStops          = 16
	maxStopBytes      = 256
	maxSplitTagBytes  = 64
)

// The values a job's unset sampling fields take (DefaultJobN and
// DefaultJobMaxTokens lowered to the server's caps). `shepherd label` and
// `shepherd score --mode mc` default their flags to them too, so a job
// reads the same in process and through a server.
const (
	DefaultJobN           = 8
	DefaultJobTemperature = 0.7
	DefaultJobTopP        = 1.0
	DefaultJobMaxTokens   = 1024
)

func invalid(format string, a ...any) error {
	return status.Errorf(codes.InvalidArgument, format, a...)
}

// validateRequest checks a request's fields before its handler runs (the
// validation interceptor). A job request (SubmitJob, LabelSolutions) is
// checked by its handler instead, in the same pass that splits its
// solutions (prepare).
func (s *Server) validateRequest(req any) error {
	if field, bad := takeBadUTF8(req); bad {
		return invalid("%s: not valid UTF-8", field)
	}
	switch r := req.(type) {
	case *shepherdv1.GetJobRequest:
		return requireJobID(r.GetJobId())
	case *shepherdv1.CancelJobRequest:
		return requireJobID(r.GetJobId())
	case *shepherdv1.StreamLabelsRequest:
		if err := requireJobID(r.GetJobId()); err != nil {
			return err
		}
		if _, err := decodeCursor(r.GetJobId(), r.GetCursor()); err != nil {
			return invalid("%v", err)
		}
	case *shepherdv1.ListJobsRequest:
		if n := r.GetPageSize(); n < 0 || n > MaxPageSize {
			return invalid("page_size: %d, must be between 0 (the default, %d) and %d", n, DefaultPageSize, MaxPageSize)
		}
		for i, st := range r.GetStates() {
			if _, ok := stateNames[st]; !ok {
				return invalid("states[%d]: %v is not a job state to filter on", i, st)
			}
		}
		if _, err := decodePageToken(r.GetPageToken(), r.GetStates()); err != nil {
			return invalid("%v", err)
		}
	}
	return nil
}

func requireJobID(id string) error {
	if id == "" {
		return invalid("job_id: missing")
	}
	return nil
}

// validateSubmit checks everything of a job request but the splitting,
// and returns its effective spec.
func (s *Server) validateSubmit(r *shepherdv1.SubmitJobRequest) (*shepherdv1.JobSpec, error) {
	if err := checkRequestID(r.GetRequestId()); err != nil {
		return nil, err
	}
	if err := s.checkModel(r.GetModel()); err != nil {
		return nil, err
	}
	spec, err := s.effectiveSpec(r.GetSpec())
	if err != nil {
		return nil, err
	}
	probs := r.GetProblems()
	switch {
	case len(probs) == 0:
		return nil, invalid("problems: none given (1..%d per request)", s.opt.MaxProblems)
	case len(probs) > s.opt.MaxProblems:
		return nil, invalid("problems: %d problems, more than the limit of %d", len(probs), s.opt.MaxProblems)
	}
	ids := make(map[string]int, len(probs))
	for i, p := range probs {
		if err := s.checkProblem(i, p); err != nil {
			return nil, err
		}
		// Records name their problem and solution: ambiguous ids would make
		// them ambiguous too.
		pid := problemID(i, p)
		if j, dup := ids[pid]; dup {
			return nil, invalid("problems[%d].id: duplicate problem id %q (problems[%d] has it too)", i, pid, j)
		}
		ids[pid] = i
	}
	return spec, nil
}

func checkRequestID(id string) error {
	switch {
	case id == "":
		return invalid("request_id: missing (a client-chosen idempotency key of 1..%d printable ASCII bytes, such as a UUID)", maxRequestIDBytes)
	case len(id) > maxRequestIDBytes:
		return invalid("request_id: %d bytes, more than the limit of %d", len(id), maxRequestIDBytes)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return invalid("request_id: byte %d is not printable ASCII", i)
		}
	}
	return nil
}

func (s *Server) checkModel(m string) error {
	switch {
	case m == "":
		return invalid("model: missing (the model to sample rollouts from)")
	case len(m) > maxModelBytes:
		return invalid("model: %d bytes, more than the limit of %d", len(m), maxModelBytes)
	case strings.ContainsAny(m, "{}") || strings.TrimSpace(m) != m || !utf8.ValidString(m):
		return invalid("model: %q is not a valid model name (no braces, no surrounding white space, UTF-8)", m)
	case len(s.opt.Models) > 0 && !slices.Contains(s.opt.Models, m):
		return invalid("model: %q is not served by this server's backends (served: %s)", m, strings.Join(s.opt.Models, ", "))
	}
	return nil
}

// effectiveSpec validates a request's spec and fills in every default.
func (s *Server) effectiveSpec(in *shepherdv1.JobSpec) (*shepherdv1.JobSpec, error) {
	sp := &shepherdv1.JobSpec{}
	if in != nil {
		sp = proto.Clone(in).(*shepherdv1.JobSpec)
	}
	switch {
	case sp.Strategy == shepherdv1.Strategy_STRATEGY_UNSPECIFIED:
		sp.Strategy = shepherdv1.Strategy_STRATEGY_EXHAUSTIVE
	case convert.StrategyOf(sp.Strategy) == "":
		return nil, invalid("spec.strategy: unknown value %d (want %s)", int32(sp.Strategy), strategyNames())
	}
	switch {
	case sp.N == nil:
		sp.N = proto.Int32(int32(min(DefaultJobN, s.opt.MaxN)))
	case sp.GetN() < 1:
		return nil, invalid("spec.n: %d, must be between 1 and %d", sp.GetN(), s.opt.MaxN)
	case int(sp.GetN()) > s.opt.MaxN:
		return nil, invalid("spec.n: %d, more than the limit of %d", sp.GetN(), s.opt.MaxN)
	}
	if sp.Temperature == nil {
		sp.Temperature = proto.Float64(DefaultJobTemperature)
	} else if t := sp.GetTemperature(); math.IsNaN(t) || t < 0 || t > 2 {
		return nil, invalid("spec.temperature: %g, must be between 0 and 2", t)
	}
	if sp.TopP == nil {
		sp.TopP = proto.Float64(DefaultJobTopP)
	} else if p := sp.GetTopP(); math.IsNaN(p) || p <= 0 || p > 1 {
		return nil, invalid("spec.top_p: %g, must be in (0, 1]", p)
	}
	switch {
	case sp.MaxTokens == 0:
		sp.MaxTokens = int32(min(DefaultJobMaxTokens, s.opt.MaxTokens))
	case sp.MaxTokens < 0:
		return nil, invalid("spec.max_tokens: %d, must be between 1 and %d", sp.MaxTokens, s.opt.MaxTokens)
	case int(sp.MaxTokens) > s.opt.MaxTokens:
		return nil, invalid("spec.max_tokens: %d, more than the limit of %d", sp.MaxTokens, s.opt.MaxTokens)
	}
	if len(sp.Stop) > maxStops {
		return nil, invalid("spec.stop: %d stop strings, more than the limit of %d", len(sp.Stop), maxStops)
	}
	for i, st := range sp.Stop {
		if len(st) < 1 || len(st) > maxStopBytes {
			return nil, invalid("spec.stop[%d]: %d bytes, must be 1..%d", i, len(st), maxStopBytes)
		}
	}
	switch {
	case sp.Split == shepherdv1.SplitMode_SPLIT_MODE_UNSPECIFIED:
		sp.Split = shepherdv1.SplitMode_SPLIT_MODE_AUTO
	case sp.Split < 0 || sp.Split > shepherdv1.SplitMode_SPLIT_MODE_TAG:
		return nil, invalid("spec.split: unknown value %d (want one of SPLIT_MODE_AUTO, _LINE, _PARAGRAPH, _STEP, _TAG)", int32(sp.Split))
	}
	switch tag := sp.SplitTag; {
	case tag == "":
		sp.SplitTag = labeler.MathShepherdTag
	case len(tag) > maxSplitTagBytes:
		return nil, invalid("spec.split_tag: %d bytes, more than the limit of %d", len(tag), maxSplitTagBytes)
	case !utf8.ValidString(tag):
		return nil, invalid("spec.split_tag: not valid UTF-8")
	case strings.TrimSpace(tag) == "":
		return nil, invalid("spec.split_tag: white space only")
	}
	switch {
	case sp.MaxSteps == 0:
		sp.MaxSteps = int32(min(labeler.DefaultMaxSteps, s.opt.MaxSteps))
	case sp.MaxSteps < 0:
		return nil, invalid("spec.max_steps: %d, must be between 1 and %d", sp.MaxSteps, s.opt.MaxSteps)
	case int(sp.MaxSteps) > s.opt.MaxSteps:
		return nil, invalid("spec.max_steps: %d, more than the limit of %d", sp.MaxSteps, s.opt.MaxSteps)
	}
	if sp.Reuse == nil {
		sp.Reuse = proto.Bool(true)
	}
	return sp, nil
}

// strategyNames is "STRATEGY_EXHAUSTIVE or STRATEGY_BINARY", the API
// values of the labeler's strategies.
func strategyNames() string {
	names := make([]string, len(labeler.Strategies))
	for i, st := range labeler.Strategies {
		names[i] = convert.StrategyProto(st).String()
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
