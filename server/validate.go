package server

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
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
// validation interceptor). SubmitJob's solutions are split by the handler,
// which rejects those that do not split within the limits.
func (s *Server) validateRequest(req any) error {
	if field, bad := takeBadUTF8(req); bad {
		return invalid("%s: not valid UTF-8", field)
	}
	switch r := req.(type) {
	case *shepherdv1.SubmitJobRequest:
		return s.validateSubmit(r)
	case *shepherdv1.LabelSolutionsRequest:
		return s.validateSubmit(submitOf(r))
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

// validateSubmit checks everything of a job request but the splitting.
func (s *Server) validateSubmit(r *shepherdv1.SubmitJobRequest) error {
	if err := checkRequestID(r.GetRequestId()); err != nil {
		return err
	}
	if err := s.checkModel(r.GetModel()); err != nil {
		return err
	}
	spec, err := s.effectiveSpec(r.GetSpec())
	if err != nil {
		return err
	}
	probs := r.GetProblems()
	switch {
	case len(probs) == 0:
		return invalid("problems: none given (1..%d per request)", s.opt.MaxProblems)
	case len(probs) > s.opt.MaxProblems:
		return invalid("problems: %d problems, more than the limit of %d", len(probs), s.opt.MaxProblems)
	}
	ids := make(map[string]int, len(probs))
	for i, p := range probs {
		if err := s.checkProblem(i, p, int(spec.GetMaxSteps())); err != nil {
			return err
		}
		// Records name their problem and solution: ambiguous ids would make
		// them ambiguous too.
		pid := problemID(i, p)
		if j, dup := ids[pid]; dup {
			return invalid("problems[%d].id: duplicate problem id %q (problems[%d] has it too)", i, pid, j)
		}
		ids[pid] = i
	}
	return nil
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

// problemID is a problem's effective id.
func problemID(i int, p *shepherdv1.Problem) string {
	if id := strings.TrimSpace(p.GetId()); id != "" {
		return id
	}
	return "p" + strconv.Itoa(i)
}

// solutionID is a solution's effective id.
func solutionID(pid string, j int, s *shepherdv1.Solution) string {
	if id := strings.TrimSpace(s.GetId()); id != "" {
		return id
	}
	return pid + "-" + strconv.Itoa(j)
}

func (s *Server) checkProblem(i int, p *shepherdv1.Problem, maxSteps int) error {
	at := fmt.Sprintf("problems[%d]", i)
	sols := p.GetSolutions()
	switch {
	case len(p.GetId()) > maxIDBytes:
		return invalid("%s.id: %d bytes, more than the limit of %d", at, len(p.GetId()), maxIDBytes)
	case strings.TrimSpace(p.GetQuestion()) == "":
		return invalid("%s.question: missing or empty", at)
	case strings.TrimSpace(p.GetAnswer()) == "":
		return invalid("%s.answer: the gold answer is missing or empty", at)
	case len(sols) == 0:
		return invalid("%s.solutions: none given (1..%d per problem)", at, s.opt.MaxSolutionsPerProblem)
	case len(sols) > s.opt.MaxSolutionsPerProblem:
		return invalid("%s.solutions: %d solutions, more than the limit of %d", at, len(sols), s.opt.MaxSolutionsPerProblem)
	}
	pid := problemID(i, p)
	seen := make(map[string]bool, len(sols))
	for j, sol := range sols {
		sat := fmt.Sprintf("%s.solutions[%d]", at, j)
		if len(sol.GetId()) > maxIDBytes {
			return invalid("%s.id: %d bytes, more than the limit of %d", sat, len(sol.GetId()), maxIDBytes)
		}
		sid := solutionID(pid, j, sol)
		if seen[sid] {
			return invalid("%s.id: duplicate solution id %q in problem %q", sat, sid, pid)
		}
		seen[sid] = true
		switch b := sol.GetBody().(type) {
		case *shepherdv1.Solution_Text:
			if strings.TrimSpace(b.Text) == "" {
				return invalid("%s.text: empty solution", sat)
			}
		case *shepherdv1.Solution_Steps:
			n := 0
			for _, st := range b.Steps.GetSteps() {
				if strings.TrimSpace(st) != "" {
					n++
				}
			}
			switch {
			case n == 0:
				return invalid("%s.steps: empty solution (no non-empty step)", sat)
			case n > maxSteps:
				return invalid("%s.steps: %d steps, more than the limit of %d (spec.max_steps)", sat, n, maxSteps)
			}
		default:
			return invalid("%s: empty solution (set text or steps)", sat)
		}
	}
	return nil
}

// prepare splits a validated request's solutions into steps, problem by
// problem, rejecting a solution that does not split within the limits. It
// returns the effective spec too.
func (s *Server) prepare(r *shepherdv1.SubmitJobRequest) ([][]labeler.PreparedSolution, *shepherdv1.JobSpec, error) {
	if err := s.validateSubmit(r); err != nil {
		return nil, nil, err
	}
	spec, err := s.effectiveSpec(r.GetSpec())
	if err != nil {
		return nil, nil, err
	}
	lim := labeler.InputLimits{SplitOptions: labeler.SplitOptions{
		Mode: convert.SplitModeOf(spec.GetSplit()), Tag: spec.GetSplitTag(), MaxSteps: int(spec.GetMaxSteps()),
	}}
	out := make([][]labeler.PreparedSolution, len(r.GetProblems()))
	for i, p := range r.GetProblems() {
		pid := problemID(i, p)
		out[i] = make([]labeler.PreparedSolution, 0, len(p.GetSolutions()))
		for j, sol := range p.GetSolutions() {
			in := convert.SolutionOf(sol)
			in.ID = solutionID(pid, j, sol)
			one := labeler.Problem{ID: pid, Question: p.GetQuestion(), Answer: p.GetAnswer(),
				Solutions: []labeler.SolutionInput{in}}
			prepared, err := one.Prepare(pid, lim)
			if err != nil {
				return nil, nil, invalid("problems[%d].solutions[%d]: %s", i, j, splitMessage(err))
			}
			out[i] = append(out[i], prepared...)
		}
	}
	return out, spec, nil
}

// splitMessage is the splitter's error in the API's words.
func splitMessage(err error) string {
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	msg := strings.TrimPrefix(err.Error(), "labeler: ")
	msg = strings.TrimSuffix(msg, ": "+labeler.ErrTooManySteps.Error())
	return strings.Replace(msg, "(MaxSteps)", "(spec.max_steps)", 1)
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
